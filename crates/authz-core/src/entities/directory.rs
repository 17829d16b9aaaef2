//! The SCIM directory (migration `000006_scim_directory`, ADR 0006). Case-insensitive SCIM
//! attributes have lowercase shadow columns (`*_lower`, written with `directory::fold`); the
//! representation itself is stored whole in `resource`.

pub mod scim_users {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "scim_users")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub tenant_id: String,
        pub user_name: String,
        /// Unique per tenant: userName is unique case-insensitively (RFC 7643 §4.1.1).
        pub user_name_lower: String,
        pub external_id: Option<String>,
        /// The SSO link matches on it.
        pub external_id_lower: Option<String>,
        pub display_name_lower: Option<String>,
        pub given_name_lower: Option<String>,
        pub family_name_lower: Option<String>,
        pub title_lower: Option<String>,
        pub user_type_lower: Option<String>,
        /// Case-exact (enterprise extension).
        pub employee_number: Option<String>,
        pub department_lower: Option<String>,
        pub active: bool,
        /// JSON: the representation without `id`, `meta` and `groups`.
        pub resource: String,
        /// The ETag (RFC 7644 §3.14).
        pub version: i64,
        pub created_at: i64,
        pub updated_at: i64,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

pub mod scim_user_emails {
    use sea_orm::entity::prelude::*;
    /// One email value of a user, for filters (`emails[type eq "work"]`). The table has no
    /// primary key; the entity names all three key-like columns so sea-orm can address rows
    /// (only bulk inserts and deletes by user are issued).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "scim_user_emails")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub scim_user_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub value_lower: String,
        pub type_lower: Option<String>,
        pub is_primary: bool,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

pub mod scim_groups {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "scim_groups")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub tenant_id: String,
        pub display_name: String,
        /// Unique per tenant.
        pub display_name_lower: String,
        pub external_id: Option<String>,
        /// JSON: the representation without `id`, `meta` and `members`.
        pub resource: String,
        pub version: i64,
        pub created_at: i64,
        pub updated_at: i64,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

pub mod scim_group_members {
    use sea_orm::entity::prelude::*;
    /// Membership is a set: rows are inserted with `ON CONFLICT DO NOTHING` and deleted by name.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "scim_group_members")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub group_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub member_id: String,
        /// The member's display name as the IdP sent it, if it did.
        pub display: Option<String>,
    }
    /// The joins the directory reads with: a group's members (with their userNames) and a
    /// user's groups.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::scim_users::Entity",
            from = "Column::MemberId",
            to = "super::scim_users::Column::Id"
        )]
        User,
        #[sea_orm(
            belongs_to = "super::scim_groups::Entity",
            from = "Column::GroupId",
            to = "super::scim_groups::Column::Id"
        )]
        Group,
        /// The SSO identities linked to the member (`users.scim_user_id`), for the scopes
        /// granted through groups.
        #[sea_orm(
            belongs_to = "crate::entities::users::Entity",
            from = "Column::MemberId",
            to = "crate::entities::users::Column::ScimUserId"
        )]
        Identity,
    }
    impl ActiveModelBehavior for ActiveModel {}
}

pub mod scim_tombstones {
    use sea_orm::entity::prelude::*;
    /// A hard-deleted SCIM user's link value: JIT must not bring the user back (DESIGN §6.4).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "scim_tombstones")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub link_attr: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub link_value: String,
        pub scim_user_id: String,
        pub deleted_at: i64,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}
