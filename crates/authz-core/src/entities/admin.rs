pub mod tenant_admins {
    use sea_orm::entity::prelude::*;
    /// Explicit admins of a tenant (an accepted invitation or an operator's grant).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "tenant_admins")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: String,
        pub granted_via: String,
        pub invitation_id: Option<String>,
        pub created_at: i64,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

pub mod tenant_client_policy {
    use sea_orm::entity::prelude::*;
    /// A tenant's allow or block decision about one client.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "tenant_client_policy")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub client_id: String,
        /// `allow` or `block`.
        pub decision: String,
        pub changed_by: String,
        pub changed_at: i64,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

pub mod admin_invitations {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "admin_invitations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub tenant_id: String,
        pub email_lower: String,
        /// SHA-256 of the link token.
        #[sea_orm(unique)]
        pub token_hash: String,
        pub created_by: String,
        pub created_at: i64,
        pub expires_at: i64,
        pub accepted_at: Option<i64>,
        /// SHA-256 of the setup-only session's secret.
        #[sea_orm(unique)]
        pub setup_hash: Option<String>,
        pub setup_expires_at: Option<i64>,
        pub bound_user_id: Option<String>,
        pub bound_at: Option<i64>,
        pub revoked_at: Option<i64>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}
