pub mod personal_api_keys {
    use sea_orm::entity::prelude::*;
    /// A personal API key's metadata (issue 14 §1); the key itself is the grant family of the
    /// same id and its one access token row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "personal_api_keys")]
    pub struct Model {
        /// The grant family's id: the key id shown in lists and in introspection (`key_id`).
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub tenant_id: String,
        pub user_id: String,
        pub resource_id: String,
        /// The person's name for the key.
        pub name: String,
        /// `cursor`, `vscode`, `claude-code` or `other`.
        pub client_label: String,
        /// The start of the key (`gatehouse_pat_` and six characters), shown in lists.
        pub display_prefix: String,
        pub created_at: i64,
        /// The family's `expires_at`, copied for the expiry sweep's index.
        pub expires_at: i64,
        /// Written at most once a minute (a conditional UPDATE).
        pub last_used_at: Option<i64>,
        /// When the maintenance sweep recorded `api_key.expired` (once per key).
        pub expiry_recorded_at: Option<i64>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}
