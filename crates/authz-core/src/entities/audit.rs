pub mod audit_events {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_events")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub tenant_id: String,
        pub seq: Option<i64>,
        pub prev_hash: Option<String>,
        pub hash: Option<String>,
        pub occurred_at: i64,
        pub action: String,
        pub result: String,
        pub actor: Option<String>,
        pub user_id: Option<String>,
        pub client_id: Option<String>,
        pub session_id: Option<String>,
        pub resource: Option<String>,
        pub scope: Option<String>,
        pub source_ip: Option<String>,
        pub user_agent: Option<String>,
        pub details: String,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

pub mod audit_checkpoints {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_checkpoints")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub seq: i64,
        pub head_hash: String,
        pub created_at: i64,
        pub key_id: String,
        pub signature: String,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}
