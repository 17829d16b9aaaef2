pub mod rate_limits {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "rate_limits")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub bucket: String,
        /// The window's start, in seconds.
        #[sea_orm(primary_key, auto_increment = false)]
        pub window_start: i64,
        pub hits: i64,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

pub mod mail_outbox {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mail_outbox")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// None: an operator message, no tenant.
        pub tenant_id: Option<String>,
        pub kind: String,
        pub recipient: String,
        pub subject: String,
        pub body_text: String,
        pub body_html: String,
        pub created_at: i64,
        /// A sender owns the row until then.
        pub claimed_until: Option<i64>,
        pub attempts: i64,
        pub sent_at: Option<i64>,
        pub last_error: Option<String>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

pub mod api_keys {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// `operator` (no tenant) or `tenant_admin` (with its tenant).
        pub kind: String,
        pub tenant_id: Option<String>,
        pub name: String,
        #[sea_orm(unique)]
        pub key_hash: String,
        pub created_at: i64,
        pub expires_at: i64,
        pub revoked_at: Option<i64>,
        pub last_used_at: Option<i64>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

pub mod scim_tokens {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "scim_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub tenant_id: String,
        pub name: String,
        #[sea_orm(unique)]
        pub token_hash: String,
        pub created_at: i64,
        pub expires_at: i64,
        pub revoked_at: Option<i64>,
        pub last_used_at: Option<i64>,
        /// Set once the "expires soon" alert is queued.
        pub expiry_alerted_at: Option<i64>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// Tenant service accounts (issue 14 §3, migration 000020): `client_credentials` clients.
pub mod service_accounts {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "service_accounts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub tenant_id: String,
        pub name: String,
        #[sea_orm(unique)]
        pub client_id: String,
        /// `client_secret_basic` (a secret, also accepted as `client_secret_post`) or
        /// `private_key_jwt`.
        pub auth_method: String,
        pub secret_hash: Option<String>,
        pub prev_secret_hash: Option<String>,
        pub prev_secret_until: Option<i64>,
        /// An inline JWKS (RFC 7517 §5), JSON.
        pub jwks: Option<String>,
        pub jwks_uri: Option<String>,
        /// `{resource id: [scope, ...]}`, JSON.
        pub grants: String,
        pub created_at: i64,
        pub updated_at: i64,
        pub disabled_at: Option<i64>,
        pub last_used_at: Option<i64>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// The operator area's console sessions (ADR 0021): opened by pasting an operator key.
pub mod operator_console_sessions {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "operator_console_sessions")]
    pub struct Model {
        /// SHA-256 of the cookie value; the value itself is never stored.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id_hash: String,
        /// The operator key the session was opened with: revoking it ends the session.
        pub key_id: String,
        pub created_at: i64,
        pub expires_at: i64,
        pub revoked_at: Option<i64>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}
