pub mod tenants {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "tenants")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub slug: String,
        pub name: String,
        pub created_at: i64,
        /// Set while the operator has the tenant suspended (incident response).
        pub suspended_at: Option<i64>,
        /// `jit` or `scim` (directory::policy::Provisioning).
        pub provisioning: String,
        /// JSON list of security-alert recipients.
        pub alert_recipients: String,
        /// The IdP group whose members administer the tenant.
        pub admin_group: Option<String>,
        /// JSON of admin::settings::TenantSettings.
        pub settings: String,
        /// Set when the operator removed the tenant (ADR 0021): every lookup skips it.
        pub removed_at: Option<i64>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

pub mod tenant_domains {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "tenant_domains")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub domain: String,
        pub tenant_id: String,
        pub verified: bool,
        pub created_at: i64,
        /// The TXT record value (`gatehouse-verification=…`) that proves control.
        pub verification_token: Option<String>,
        pub verified_at: Option<i64>,
        /// `method:actor` of the verification.
        pub verified_by: Option<String>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

pub mod connections {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "connections")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub tenant_id: String,
        pub kind: String,
        pub name: String,
        pub issuer: String,
        pub client_id: String,
        pub client_secret_enc: String,
        pub enabled: bool,
        pub created_at: i64,
        pub preset: String,
        pub settings: String,
        /// Added by the operator (CLI): its IdP may be fetched through the operator's private
        /// allow-list and CA. Console-added connections are fetched publicly (review F3).
        pub operator_added: bool,
        /// The invitation whose setup-only session added the connection, while it is pending
        /// (ADR 0007).
        pub setup_invitation: Option<String>,
        /// Set when the connection was removed (ADR 0021): every lookup skips it.
        pub removed_at: Option<i64>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

pub mod users {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub tenant_id: String,
        pub connection_id: String,
        pub subject: String,
        pub email: Option<String>,
        pub email_lower: Option<String>,
        pub name: Option<String>,
        pub status: String,
        pub created_at: i64,
        pub last_login_at: Option<i64>,
        /// Which SCIM attribute `link_value` matches (`externalId` or `userName`).
        pub link_attr: Option<String>,
        /// This identity's value of its connection's SCIM link (lowercase).
        pub link_value: Option<String>,
        /// The SCIM user this identity belongs to, once linked.
        pub scim_user_id: Option<String>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}
