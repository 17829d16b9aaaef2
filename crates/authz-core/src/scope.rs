//! Scope tiers and the lifetimes they imply (DESIGN §5).
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Routine,
    Sensitive,
    Critical,
}

impl Tier {
    pub fn parse(s: &str) -> Option<Tier> {
        match s {
            "routine" => Some(Tier::Routine),
            "sensitive" => Some(Tier::Sensitive),
            "critical" => Some(Tier::Critical),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Routine => "routine",
            Tier::Sensitive => "sensitive",
            Tier::Critical => "critical",
        }
    }
    /// Access-token lifetime in seconds: 60 minutes for routine, 15 for anything more sensitive.
    pub fn access_token_secs(self) -> i64 {
        match self {
            Tier::Routine => 3600,
            Tier::Sensitive | Tier::Critical => 900,
        }
    }
    /// Days until consent to this tier must be asked again (None: never).
    pub fn reconsent_days(self) -> Option<i64> {
        match self {
            Tier::Routine => None,
            Tier::Sensitive | Tier::Critical => Some(90),
        }
    }
}

/// Refresh tokens live 30 days from the original authorization (absolute) unless the tenant
/// chose otherwise (`refresh_lifetime_days`, at most 90).
pub const REFRESH_ABSOLUTE_SECS: i64 = 30 * 24 * 3600;
/// Authorization codes live at most 60 seconds (DESIGN §4).
pub const CODE_SECS: i64 = 60;
/// `offline_access` only confirms the refresh token; it is never a resource scope.
pub const OFFLINE_ACCESS: &str = "offline_access";

/// Splits a space-delimited scope string (RFC 6749 §3.3), dropping duplicates, keeping order.
pub fn split(scope: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in scope.split(' ').filter(|s| !s.is_empty()) {
        if !out.iter().any(|x| x == s) {
            out.push(s.to_string());
        }
    }
    out
}

pub fn join(scopes: &[String]) -> String {
    scopes.join(" ")
}
