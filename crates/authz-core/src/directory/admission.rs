//! Sign-in under the tenant's provisioning policy and the SCIM–SSO link (DESIGN §6.4).
//!
//! Each connection links an SSO identity to a SCIM user through one attribute, never email:
//! the SCIM `externalId` (default) or `userName`, compared with the identity's link value —
//! the Entra object id (`oid`, the part after `tid:` of the subject) for the Entra presets,
//! the subject itself otherwise (Okta: the Okta user id, which Okta sends as `externalId`).
//!
//! - A linked SCIM user that is inactive: refused. SSO never re-activates it.
//! - No SCIM user, but a tombstone for the link value (hard-deleted): refused.
//! - No SCIM user under policy `scim`: refused (only provisioned users sign in).
//! - Otherwise the identity is found or created (JIT) and linked when a SCIM user matched.
use sea_orm::ConnectionTrait;

use super::{lifecycle, policy, users, Provisioning};
use crate::clock::Clock;
use crate::connection::Connection;
use crate::error::{CoreError, CoreResult};
use crate::tenant::TenantId;
use crate::user::{self, FederatedIdentity, User};

/// Which SCIM attribute an identity's link value is compared with, and the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// `externalId` or `userName`.
    pub attr: &'static str,
    /// Folded to lowercase.
    pub value: String,
}

/// The connection setting naming the SCIM attribute of the link.
pub const LINK_SETTING: &str = "scim_link_attribute";

/// The SCIM attribute a connection links on (`externalId` unless set to `userName`).
pub fn link_attr(conn: &Connection) -> &'static str {
    match conn.settings.get(LINK_SETTING).and_then(|v| v.as_str()) {
        Some("userName") => "userName",
        _ => "externalId",
    }
}

/// The link of an identity of this connection.
pub fn link_for(conn: &Connection, subject: &str) -> Link {
    let value = if conn.preset == "entra" {
        // The Entra presets key users as `tid:oid`; the SCIM externalId carries the oid.
        subject.rsplit(':').next().unwrap_or(subject)
    } else {
        subject
    };
    Link {
        attr: link_attr(conn),
        value: super::fold(value),
    }
}

/// The directory's verdict on a link value: refused (a linked SCIM user that is inactive, a
/// tombstone, or no SCIM user under policy `scim`), or the SCIM user it links to, if any. One
/// rule for [`admit`] (browser sign-in) and [`find_admitted`] (ID-JAG).
async fn directory_allows<C: ConnectionTrait>(
    db: &C,
    tenant: &TenantId,
    link: &Link,
) -> CoreResult<Option<super::users::DirUser>> {
    let scim = users::find_by_link(db, tenant, link.attr, &link.value).await?;
    match &scim {
        Some(u) if !u.active => {
            return Err(CoreError::invalid(
                "your organisation's directory has deactivated this account",
            ))
        }
        Some(_) => {}
        None => {
            if lifecycle::is_tombstoned(db, tenant, link.attr, &link.value).await? {
                return Err(CoreError::invalid(
                    "your organisation's directory has removed this account",
                ));
            }
            if policy::get(db, tenant).await? == Provisioning::Scim {
                return Err(CoreError::invalid(
                    "your organisation provisions accounts from its directory, and this account has not been provisioned",
                ));
            }
        }
    }
    Ok(scim)
}

/// The existing, active user of `subject` at this connection, under the same directory rules
/// as a sign-in, without creating or changing anything: the `jwt-bearer` grant of an ID-JAG
/// (ADR 0014) acts for a person Gatehouse already knows, never provisions one. `Invalid` with
/// the reason when refused.
pub async fn find_admitted<C: ConnectionTrait>(
    db: &C,
    tenant: &TenantId,
    conn: &Connection,
    subject: &str,
) -> CoreResult<User> {
    directory_allows(db, tenant, &link_for(conn, subject)).await?;
    let Some(u) = user::find_by_subject(db, tenant, &conn.id, subject).await? else {
        return Err(CoreError::invalid(
            "no account of this connection has this subject; the person signs in once through the browser first",
        ));
    };
    if !u.active {
        return Err(CoreError::invalid("this account is deactivated"));
    }
    Ok(u)
}

/// Finds or creates the identity's user, if the policy and the directory allow it.
pub async fn admit<C: ConnectionTrait>(
    db: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    conn: &Connection,
    identity: &FederatedIdentity,
) -> CoreResult<(User, bool)> {
    let link = link_for(conn, &identity.subject);
    let scim = directory_allows(db, tenant, &link).await?;
    user::upsert_linked(
        db,
        clock,
        tenant,
        identity,
        Some((&link, scim.as_ref().map(|u| u.id.as_str()))),
    )
    .await
}
