pub mod audit_events {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_events")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub tenant_id: String,
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
        /// The writing transaction (PostgreSQL's 64-bit id, set by the column's default; `0` on
        /// SQLite): how the sealer finds unsealed records (migration 23, ADR 0026).
        pub writer_xact: i64,
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

/// A record's place in its tenant's chain, written once by the sealer (ADR 0026).
pub mod audit_seals {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_seals")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub event_id: i64,
        pub tenant_id: String,
        pub seq: i64,
        pub prev_hash: String,
        pub hash: String,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// The sealer's lower bound (one row): every record below it is sealed (ADR 0026).
pub mod audit_seal_mark {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_seal_mark")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        pub scan_from: i64,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}
