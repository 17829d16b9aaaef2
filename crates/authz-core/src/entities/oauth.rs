pub mod clients {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "clients")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub client_id: String,
        pub kind: String,
        pub client_name: String,
        pub redirect_uris: String,
        pub grant_types: String,
        pub auth_method: String,
        pub secret_hash: Option<String>,
        pub registration_token_hash: Option<String>,
        pub fingerprint: Option<String>,
        pub scope: Option<String>,
        pub created_at: i64,
        pub last_used_at: i64,
        pub fetched_until: Option<i64>,
        /// Rate-limit key of the address that registered the client (DCR only).
        pub registered_from: Option<String>,
        /// The first token issued to the client; `None` while it has never been used.
        pub first_used_at: Option<i64>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

pub mod browser_sessions {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "browser_sessions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id_hash: String,
        pub tenant_id: String,
        pub user_id: String,
        pub connection_id: String,
        pub auth_time: i64,
        pub created_at: i64,
        pub expires_at: i64,
        pub revoked_at: Option<i64>,
        pub acr: Option<String>,
        pub amr: Option<String>,
        pub idp_initiated: bool,
        /// JSON list of the groups the IdP asserted at the sign-in (admin-group checks).
        pub idp_groups: Option<String>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

pub mod login_transactions {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "login_transactions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id_hash: String,
        pub browser_hash: String,
        pub request: String,
        pub tenant_id: Option<String>,
        pub connection_id: Option<String>,
        pub upstream_state_hash: Option<String>,
        pub upstream_nonce: Option<String>,
        pub upstream_verifier: Option<String>,
        pub session_hash: Option<String>,
        pub created_at: i64,
        pub expires_at: i64,
        pub consumed_at: Option<i64>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

pub mod grant_families {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "grant_families")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub tenant_id: String,
        pub user_id: String,
        pub client_id: String,
        pub resource_id: String,
        pub scopes: String,
        pub session_id: String,
        pub auth_time: i64,
        pub created_at: i64,
        pub expires_at: i64,
        pub revoked_at: Option<i64>,
        /// The credential kind that made the family (`token::CredentialKind`).
        pub kind: String,
        /// RFC 9449 §6: the JWK SHA-256 thumbprint the family's tokens are bound to (DPoP).
        pub dpop_jkt: Option<String>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

pub mod auth_codes {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "auth_codes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub code_hash: String,
        pub tenant_id: String,
        pub family_id: String,
        pub user_id: String,
        pub client_id: String,
        pub resource_id: String,
        pub redirect_uri: String,
        pub code_challenge: String,
        pub scopes: String,
        pub session_id: String,
        pub auth_time: i64,
        pub created_at: i64,
        pub expires_at: i64,
        pub used_at: Option<i64>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

pub mod tokens {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub token_hash: String,
        pub kind: String,
        pub family_id: String,
        pub tenant_id: String,
        pub user_id: String,
        pub client_id: String,
        pub resource_id: String,
        pub scopes: String,
        pub tier: String,
        pub session_id: String,
        pub issued_at: i64,
        pub expires_at: i64,
        pub used_at: Option<i64>,
        pub revoked_at: Option<i64>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

pub mod consents {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "consents")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub client_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub resource_id: String,
        pub scopes: String,
        pub granted_at: i64,
        pub reconsent_at: Option<i64>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

pub mod used_jtis {
    use sea_orm::entity::prelude::*;
    /// Single-use JWT ids of signed credentials (ID-JAG, client assertions, DPoP proofs).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "used_jtis")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub namespace: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub jti: String,
        pub expires_at: i64,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}
