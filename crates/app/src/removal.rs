//! What removing an object ends (issue 16 §2: "removal asks for confirmation and says what it
//! revokes"). Every surface shows the same [`Impact`]: the console on its confirmation page, the
//! CLI before it asks (or with `--yes`), the admin API in the `DELETE` answer (and in its
//! `dry_run` preview). A use case counts it inside the transaction that removes, so what it
//! reports after the removal is what was ended; the preview counts the same rows without
//! writing.
use serde::Serialize;

/// Counts of what stops working when an object is removed. Zero counts are left out of
/// [`Impact::lines`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Impact {
    /// Token families (an access token and its refresh token, an API key's grant, a service
    /// account's tokens) that are revoked at once.
    pub grants: u64,
    /// Signed-in browser sessions that end.
    pub sessions: u64,
    /// Credentials that stop working: secrets, keys, SCIM tokens.
    pub credentials: u64,
    /// People who lose access they had through this object.
    pub users: u64,
    /// Objects removed with it, by kind and count (`("org grants", 3)`).
    #[schema(value_type = Vec<Vec<Object>>)]
    pub cascades: Vec<(String, u64)>,
}

/// What a removal answers on every surface: the object as it was, and what it revoked (or, for
/// a preview, would revoke).
#[derive(Debug, Clone, Serialize)]
pub struct Removed<V> {
    pub removed: V,
    pub revoked: Impact,
}

impl From<authz_core::removal::Counts> for Impact {
    fn from(c: authz_core::removal::Counts) -> Self {
        Impact {
            grants: c.grants,
            sessions: c.sessions,
            credentials: c.credentials,
            users: c.users,
            cascades: c.cascades,
        }
    }
}

impl Impact {
    /// One sentence per non-zero count, for a person: "3 active tokens are revoked.".
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        let plural = |n: u64, one: &str, many: &str| {
            if n == 1 {
                format!("1 {one}")
            } else {
                format!("{n} {many}")
            }
        };
        if self.grants > 0 {
            let what = plural(self.grants, "active token grant", "active token grants");
            out.push(format!("{what} revoked at once."));
        }
        if self.sessions > 0 {
            let what = plural(self.sessions, "signed-in session", "signed-in sessions");
            out.push(format!("{what} ended."));
        }
        if self.credentials > 0 {
            let what = plural(self.credentials, "credential", "credentials");
            out.push(format!("{what} stop working."));
        }
        if self.users > 0 {
            let what = plural(self.users, "person loses", "people lose");
            out.push(format!("{what} access through it."));
        }
        for (kind, n) in &self.cascades {
            if *n > 0 {
                out.push(format!("{n} {kind} removed with it."));
            }
        }
        if out.is_empty() {
            out.push(
                "Nothing else is revoked: no token, session or credential depends on it.".into(),
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Impact;

    #[test]
    fn an_impact_reads_as_sentences_and_says_when_nothing_depends() {
        let none = Impact::default();
        assert_eq!(
            none.lines(),
            ["Nothing else is revoked: no token, session or credential depends on it."]
        );
        let some = Impact {
            grants: 1,
            sessions: 2,
            cascades: vec![("org grants".into(), 3)],
            ..Impact::default()
        };
        assert_eq!(
            some.lines(),
            [
                "1 active token grant revoked at once.",
                "2 signed-in sessions ended.",
                "3 org grants removed with it."
            ]
        );
    }
}
