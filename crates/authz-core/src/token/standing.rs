//! Does an authorization still stand? An authorization code lives up to 60 s and a refresh
//! family up to 90 days; between the consent and the token, the organisation may have cut the
//! user off (SCIM deactivation, "revoke all", a removed grant, a blocked client, a withdrawn
//! consent). Every grant re-checks the cut-offs here, inside its own transaction, so a code
//! issued before a cut-off buys nothing after it (security review F2; DESIGN §6.4).
use sea_orm::ConnectionTrait;

use crate::clock::Clock;
use crate::error::CoreResult;
use crate::tenant::TenantId;
use crate::{admin, consent, grant, scope, session, user};

/// Why an authorization no longer stands (the reason is audited; the client sees
/// `invalid_grant` with [`Lapse::description`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lapse {
    TenantSuspended,
    SessionEnded,
    UserInactive,
    ClientNotPermitted,
    ConsentWithdrawn,
    NothingGranted,
}

impl Lapse {
    /// The audit record's `reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            Lapse::TenantSuspended => "tenant_suspended",
            Lapse::SessionEnded => "session_ended",
            Lapse::UserInactive => "user_inactive",
            Lapse::ClientNotPermitted => "client_not_permitted",
            Lapse::ConsentWithdrawn => "consent_withdrawn",
            Lapse::NothingGranted => "scopes_no_longer_granted",
        }
    }

    /// What the client is told (RFC 6749 §5.2 `invalid_grant`).
    pub fn description(self) -> &'static str {
        match self {
            Lapse::TenantSuspended => "the organisation is suspended",
            Lapse::SessionEnded => "the sign-in session behind this grant has ended",
            Lapse::UserInactive => "the user is no longer active in the organisation",
            Lapse::ClientNotPermitted => "the organisation no longer allows this client",
            Lapse::ConsentWithdrawn => "the user's consent for this client has been withdrawn",
            Lapse::NothingGranted => {
                "none of the requested scopes is still granted by the organisation"
            }
        }
    }
}

/// What a pending code carries that the re-check needs.
pub struct Pending<'a> {
    pub tenant: &'a TenantId,
    pub user_id: &'a str,
    pub client_id: &'a str,
    pub resource_id: &'a str,
    pub session_id: &'a str,
    pub scopes: &'a [String],
}

impl<'a> Pending<'a> {
    /// An authorization code's pending grant: its tenant, person, client, resource, session and
    /// `scopes` (the code's, split).
    pub(crate) fn of_code(
        c: &'a crate::entities::auth_codes::Model,
        tenant: &'a TenantId,
        scopes: &'a [String],
    ) -> Self {
        Pending {
            tenant,
            user_id: &c.user_id,
            client_id: &c.client_id,
            resource_id: &c.resource_id,
            session_id: &c.session_id,
            scopes,
        }
    }
}

/// Re-checks an authorization code at its exchange: the session is live, the user active, the
/// client permitted by the tenant, the consent still stands, and the scopes are still granted.
/// Returns the scopes that may be issued (the code's, less any no longer granted).
pub async fn code_stands<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    p: &Pending<'_>,
) -> CoreResult<Result<Vec<String>, Lapse>> {
    if crate::incident::is_suspended(conn, p.tenant).await? {
        return Ok(Err(Lapse::TenantSuspended));
    }
    if session_ended(conn, clock, p).await? {
        return Ok(Err(Lapse::SessionEnded));
    }
    // A user row gone (or never there) is a lapse for the client, not a server fault.
    match user::get(conn, p.tenant, p.user_id).await {
        Ok(u) if u.active => {}
        Ok(_) | Err(crate::CoreError::NotFound(_)) => return Ok(Err(Lapse::UserInactive)),
        Err(e) => return Err(e),
    }
    still_consented_and_granted(conn, clock, p).await
}

/// [`code_stands`] without its two status reads, the tenant's suspension and the user's
/// status (the one-statement exchange checks both in its guard, ADR 0022), over what the
/// grouped read of the code found (`code_reads`, ADR 0025). `Err` names the first lapse found,
/// not necessarily the one [`code_stands`] would name; the caller falls back to the
/// transactional exchange, which does.
pub(crate) fn code_stands_as_read(
    p: &Pending<'_>,
    read: &super::code_reads::CodeReads,
    now: i64,
) -> CoreResult<Result<Vec<String>, Lapse>> {
    if !read.session_live {
        return Ok(Err(Lapse::SessionEnded));
    }
    let settings = read.settings();
    if !admin::client_policy::permits_as_read(read.decision.as_deref(), &settings)? {
        return Ok(Err(Lapse::ClientNotPermitted));
    }
    let cadence = consent::cadence_us(&settings);
    let Some(consented) = read
        .consent
        .clone()
        .and_then(|m| consent::as_of(m, cadence, now))
    else {
        return Ok(Err(Lapse::ConsentWithdrawn));
    };
    Ok(still_granted(p.scopes, &consented.scopes, &read.granted))
}

async fn session_ended<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    p: &Pending<'_>,
) -> CoreResult<bool> {
    Ok(session::find_by_id(conn, clock, p.session_id)
        .await?
        .filter(|s| &s.tenant == p.tenant && s.user_id == p.user_id)
        .is_none())
}

/// The client still permitted by the tenant, the consent standing, and the scopes still
/// granted.
async fn still_consented_and_granted<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    p: &Pending<'_>,
) -> CoreResult<Result<Vec<String>, Lapse>> {
    if !admin::client_policy::permits(conn, p.tenant, p.client_id).await? {
        return Ok(Err(Lapse::ClientNotPermitted));
    }
    let consented =
        consent::get(conn, clock, p.tenant, p.user_id, p.client_id, p.resource_id).await?;
    let Some(consented) = consented else {
        return Ok(Err(Lapse::ConsentWithdrawn));
    };
    let granted = grant::granted_to_user(conn, p.tenant, p.resource_id, p.user_id).await?;
    Ok(still_granted(p.scopes, &consented.scopes, &granted))
}

/// The scopes that survive: consented and granted (`offline_access` is not an org grant; it
/// only confirms the refresh token and survives with any other scope).
fn still_granted(
    scopes: &[String],
    consented: &[String],
    granted: &[String],
) -> Result<Vec<String>, Lapse> {
    let mut kept = Vec::new();
    for s in scopes {
        if s == scope::OFFLINE_ACCESS || (granted.contains(s) && consented.contains(s)) {
            kept.push(s.clone());
        }
    }
    if kept.iter().all(|s| s == scope::OFFLINE_ACCESS) {
        return Err(Lapse::NothingGranted);
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn keeps_what_is_consented_and_granted() {
        let kept = still_granted(
            &v(&["a", "b", "offline_access"]),
            &v(&["a", "b"]),
            &v(&["a"]),
        );
        assert_eq!(kept, Ok(v(&["a", "offline_access"])));
    }

    #[test]
    fn nothing_left_is_a_lapse() {
        assert_eq!(
            still_granted(&v(&["b", "offline_access"]), &v(&["b"]), &v(&["a"])),
            Err(Lapse::NothingGranted)
        );
        assert_eq!(
            still_granted(&v(&["a"]), &v(&[]), &v(&["a"])),
            Err(Lapse::NothingGranted)
        );
    }
}
