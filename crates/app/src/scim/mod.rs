//! SCIM provisioning (DESIGN §7; RFC 7643, RFC 7644): what an IdP's SCIM client does to a
//! tenant's directory. Each use case takes the [`ScimClient`](crate::ScimClient) the SCIM
//! extractor produced, opens its transaction and returns the directory records written; the
//! audit records of the changes are `authz_core::directory`'s, written in the same transaction.
//! The `scim` crate parses the protocol (bodies, the PATCH engine) and renders the outcome and
//! every [`Refused`] as RFC 7644 JSON.
//!
//! - [`auth`]: the bearer token of the tenant in the URL, its last use and rate limit;
//! - [`users`], [`groups`]: create, replace, patch and delete (single requests and Bulk alike);
//! - [`failures`]: the audit record of a refused request.
use authz_core::CoreError;

pub mod auth;
pub mod failures;
pub mod groups;
pub mod users;

/// Why a write was not made. The SCIM edge maps each to its status and `scimType` in one place.
#[derive(Debug)]
pub enum Refused {
    /// Not found, a uniqueness conflict, an invalid value, or a storage failure.
    Core(CoreError),
    /// `If-Match` (or a Bulk operation's `version`) names another version than the current one,
    /// or the change lost a race to another writer of the same resource (RFC 7644 §3.14).
    Stale,
    /// Without `If-Match` the write is re-applied to fresh state, and lost the race every one of
    /// [`WRITE_ATTEMPTS`] times.
    KeptChanging,
}

impl From<CoreError> for Refused {
    fn from(e: CoreError) -> Self {
        Refused::Core(e)
    }
}

impl From<sea_orm::DbErr> for Refused {
    fn from(e: sea_orm::DbErr) -> Self {
        Refused::Core(e.into())
    }
}

/// A resource version as an entity tag (RFC 7644 §3.14: weak, since the representation of one
/// version may differ by the attributes asked for).
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// The precondition of a conditional write: the `If-Match` value (or a Bulk operation's
/// `version`) as the client sent it.
#[derive(Debug, Clone, Copy)]
pub struct IfMatch<'a>(&'a str);

impl<'a> IfMatch<'a> {
    pub fn new(value: &'a str) -> Self {
        IfMatch(value)
    }
    /// Whether it names this version (`*` names every version; weak and strong tags compare
    /// equal, a comma-separated list names each of its tags).
    pub fn names(&self, version: i64) -> bool {
        let want = etag(version);
        self.0.split(',').map(str::trim).any(|t| {
            t == "*" || t == want || t.trim_start_matches("W/") == want.trim_start_matches("W/")
        })
    }
}

/// [`Refused::Stale`] unless the precondition (if any) names `version`.
fn check_version(if_match: Option<IfMatch<'_>>, version: i64) -> Result<(), Refused> {
    match if_match {
        Some(m) if !m.names(version) => Err(Refused::Stale),
        _ => Ok(()),
    }
}

/// Times a write is re-applied when another change to the same resource committed first.
pub const WRITE_ATTEMPTS: usize = 5;

/// Runs an optimistic write (PUT, PATCH): each `attempt` reads the resource in its own
/// transaction, checks the precondition and writes only if the version it read is still
/// current, answering `Ok(None)` when another change came first. Without a precondition the
/// attempt is re-run on fresh state; with one, the lost race is [`Refused::Stale`] (RFC 7644
/// §3.14). Group membership never races: it is set operations.
async fn optimistic<T, E, F, Fut>(if_match: Option<IfMatch<'_>>, attempt: F) -> Result<T, E>
where
    E: From<Refused>,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, E>>,
{
    for _ in 0..WRITE_ATTEMPTS {
        if let Some(done) = attempt().await? {
            return Ok(done);
        }
        if if_match.is_some() {
            return Err(Refused::Stale.into());
        }
    }
    Err(Refused::KeptChanging.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn if_match_names_weak_strong_listed_and_any_versions() {
        assert_eq!(etag(3), "W/\"3\"");
        assert!(IfMatch::new("W/\"3\"").names(3));
        assert!(IfMatch::new("\"3\"").names(3));
        assert!(IfMatch::new("W/\"1\", W/\"3\"").names(3));
        assert!(IfMatch::new("*").names(7));
        assert!(!IfMatch::new("W/\"2\"").names(3));
        assert!(!IfMatch::new("3").names(3));
    }

    /// A lost race is re-run on fresh state without a precondition, a 412 with one, and gives
    /// up after WRITE_ATTEMPTS.
    #[tokio::test]
    async fn the_optimistic_loop_retries_only_without_a_precondition() {
        let runs = Cell::new(0);
        let lose_twice = || {
            runs.set(runs.get() + 1);
            let n = runs.get();
            async move { Ok::<_, Refused>((n > 2).then_some(n)) }
        };
        assert_eq!(optimistic(None, lose_twice).await.unwrap(), 3);

        runs.set(0);
        let r = optimistic(Some(IfMatch::new("*")), lose_twice).await;
        assert!(matches!(r, Err(Refused::Stale)));
        assert_eq!(runs.get(), 1);

        runs.set(0);
        let always_lose = || {
            runs.set(runs.get() + 1);
            async { Ok::<Option<()>, Refused>(None) }
        };
        assert!(matches!(
            optimistic(None, always_lose).await,
            Err(Refused::KeptChanging)
        ));
        assert_eq!(runs.get(), WRITE_ATTEMPTS);
    }
}
