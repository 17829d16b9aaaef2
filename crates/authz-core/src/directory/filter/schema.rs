//! Which directory attributes can be filtered and sorted on, and the entity columns they live
//! in (RFC 7643 §4.1, §4.2, §4.3). Case-insensitive strings (`caseExact: false`) are compared
//! through their lowercase shadow columns, which [`fold`](crate::directory::fold) writes.
use std::sync::OnceLock;

use sea_orm::{EntityName, IdenStatic};

use super::ast::{AttrPath, CompareOp, Filter, Value};
use super::sql::{Column, MultiValued, Schema};
use crate::entities::{scim_group_members, scim_groups, scim_user_emails, scim_users, users};

/// The core User schema (RFC 7643 §4.1): attribute paths without a URN belong to it.
pub const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The core Group schema (RFC 7643 §4.2).
pub const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The enterprise User extension (RFC 7643 §4.3).
pub const ENTERPRISE_USER_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Users: the filterable (and sortable) single-valued attributes, and `emails` with value paths.
pub fn users() -> &'static Schema {
    use scim_users::Column as U;
    static S: OnceLock<Schema> = OnceLock::new();
    S.get_or_init(|| {
        let enterprise = |a: &str| format!("{ENTERPRISE_USER_URN}:{a}");
        Schema::new(USER_URN, scim_users::Entity.table_name(), U::Id.as_str())
            .attr("id", Column::exact_string(U::Id.as_str()))
            .attr("externalId", Column::exact_string(U::ExternalId.as_str()))
            .attr("userName", Column::ci_string(U::UserNameLower.as_str()))
            .attr(
                "displayName",
                Column::ci_string(U::DisplayNameLower.as_str()),
            )
            .attr(
                "name.givenName",
                Column::ci_string(U::GivenNameLower.as_str()),
            )
            .attr(
                "name.familyName",
                Column::ci_string(U::FamilyNameLower.as_str()),
            )
            .attr("title", Column::ci_string(U::TitleLower.as_str()))
            .attr("userType", Column::ci_string(U::UserTypeLower.as_str()))
            .attr("active", Column::boolean(U::Active.as_str()))
            .attr("meta.created", Column::datetime(U::CreatedAt.as_str()))
            .attr("meta.lastModified", Column::datetime(U::UpdatedAt.as_str()))
            .attr(
                &enterprise("employeeNumber"),
                Column::exact_string(U::EmployeeNumber.as_str()),
            )
            .attr(
                &enterprise("department"),
                Column::ci_string(U::DepartmentLower.as_str()),
            )
            .multi_valued(
                "emails",
                MultiValued::new(
                    scim_user_emails::Entity.table_name(),
                    scim_user_emails::Column::ScimUserId.as_str(),
                )
                .attr(
                    "value",
                    Column::ci_string(scim_user_emails::Column::ValueLower.as_str()),
                )
                .attr(
                    "type",
                    Column::ci_string(scim_user_emails::Column::TypeLower.as_str()),
                )
                .attr(
                    "primary",
                    Column::boolean(scim_user_emails::Column::IsPrimary.as_str()),
                ),
            )
    })
}

/// Groups: the filterable (and sortable) attributes, and `members` by value.
pub fn groups() -> &'static Schema {
    use scim_groups::Column as G;
    static S: OnceLock<Schema> = OnceLock::new();
    S.get_or_init(|| {
        Schema::new(GROUP_URN, scim_groups::Entity.table_name(), G::Id.as_str())
            .attr("id", Column::exact_string(G::Id.as_str()))
            .attr("externalId", Column::exact_string(G::ExternalId.as_str()))
            .attr(
                "displayName",
                Column::ci_string(G::DisplayNameLower.as_str()),
            )
            .attr("meta.created", Column::datetime(G::CreatedAt.as_str()))
            .attr("meta.lastModified", Column::datetime(G::UpdatedAt.as_str()))
            .multi_valued(
                "members",
                MultiValued::new(
                    scim_group_members::Entity.table_name(),
                    scim_group_members::Column::GroupId.as_str(),
                )
                .attr(
                    "value",
                    Column::exact_string(scim_group_members::Column::MemberId.as_str()),
                ),
            )
    })
}

/// The schema of SSO identities' searchable attributes (the `users` table, not SCIM): paths
/// without a URN belong to it.
const IDENTITY_URN: &str = "urn:gatehouse:identity";

/// SSO identities (`user::User`, the `users` table): `email` (through its shadow column) and
/// `name` (the database folds it: the table has no shadow column for it).
pub fn identities() -> &'static Schema {
    use users::Column as I;
    static S: OnceLock<Schema> = OnceLock::new();
    S.get_or_init(|| {
        Schema::new(IDENTITY_URN, users::Entity.table_name(), I::Id.as_str())
            .attr("id", Column::exact_string(I::Id.as_str()))
            .attr("email", Column::ci_string(I::EmailLower.as_str()))
            .attr("name", Column::lowered_string(I::Name.as_str()))
    })
}

/// The admin's free-text search of SSO identities as a filter: `email co q or name co q`
/// (case-insensitive; `q`'s `%` and `_` match themselves). `None` for a blank `q`.
pub fn identity_text_search(q: Option<&str>) -> Option<Filter> {
    text_search(q, "email", "name")
}

fn text_search(q: Option<&str>, a: &str, b: &str) -> Option<Filter> {
    let q = q.map(str::trim).filter(|q| !q.is_empty())?;
    let contains =
        |attr: &str| Filter::compare(AttrPath::new(attr), CompareOp::Co, Value::Str(q.into()));
    Some(Filter::or(contains(a), contains(b)))
}

/// The console's free-text user search as a filter: `userName co q or displayName co q`
/// (folded, so case-insensitive; `q`'s `%` and `_` match themselves). `None` for a blank `q`.
pub fn user_text_search(q: Option<&str>) -> Option<Filter> {
    text_search(q, "userName", "displayName")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_columns_follow_the_declared_paths() {
        assert_eq!(users().sort_column("userName"), Some("user_name_lower"));
        assert_eq!(
            users().sort_column(&format!("{USER_URN}:name.GivenName")),
            Some("given_name_lower")
        );
        assert_eq!(
            users().sort_column(&format!("{ENTERPRISE_USER_URN}:department")),
            Some("department_lower")
        );
        assert_eq!(users().sort_column("emails"), None);
        assert_eq!(
            groups().sort_column("displayName"),
            Some("display_name_lower")
        );
        assert_eq!(groups().sort_column("members"), None);
    }

    #[test]
    fn every_sort_column_is_sortable_in_storage() {
        for p in [
            "id",
            "externalId",
            "userName",
            "displayName",
            "name.givenName",
            "name.familyName",
            "title",
            "userType",
            "active",
            "meta.created",
            "meta.lastModified",
        ] {
            let c = users().sort_column(p).unwrap();
            assert!(crate::directory::users::SORTABLE.contains(&c), "{c}");
        }
        for p in [
            "id",
            "externalId",
            "displayName",
            "meta.created",
            "meta.lastModified",
        ] {
            let c = groups().sort_column(p).unwrap();
            assert!(crate::directory::groups::SORTABLE.contains(&c), "{c}");
        }
    }
}
