pub mod upstream_sessions {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "upstream_sessions")]
    pub struct Model {
        /// The browser session (`browser_sessions.id_hash`, = `grant_families.session_id`).
        #[sea_orm(primary_key, auto_increment = false)]
        pub session_id: String,
        pub tenant_id: String,
        pub connection_id: String,
        pub user_id: String,
        /// The upstream refresh token, sealed with the master key; None: no offline access.
        pub refresh_token_enc: Option<String>,
        /// When the IdP last vouched for the person (sign-in or successful upstream refresh).
        pub checked_at: i64,
        /// Lease of a check in progress.
        pub attempted_at: Option<i64>,
        pub created_at: i64,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}
