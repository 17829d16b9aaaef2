pub mod saml_requests {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "saml_requests")]
    pub struct Model {
        /// The AuthnRequest ID, consumed once by the response that answers it.
        #[sea_orm(primary_key, auto_increment = false)]
        pub request_id: String,
        pub tenant_id: String,
        pub connection_id: String,
        pub login_tx: String,
        pub created_at: i64,
        pub expires_at: i64,
        pub consumed_at: Option<i64>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

pub mod saml_assertions {
    use sea_orm::entity::prelude::*;
    /// The assertion replay cache.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "saml_assertions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub connection_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub assertion_id: String,
        pub expires_at: i64,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

pub mod saml_handles {
    use sea_orm::entity::prelude::*;
    /// One-time ACS → browser handles.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "saml_handles")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub handle_hash: String,
        pub tenant_id: String,
        pub connection_id: String,
        pub login_tx: String,
        /// The validated identity, JSON.
        pub identity: String,
        pub expires_at: i64,
        pub consumed_at: Option<i64>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}
