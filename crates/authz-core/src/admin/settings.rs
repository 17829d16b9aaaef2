//! A tenant's own settings, each within the hard bounds of DESIGN §5: access-token lifetimes
//! (routine at most 60 minutes, sensitive and critical at most 15), the re-consent cadence of
//! sensitive and critical scopes (at most 90 days), audit retention (1 to 7 years), the refresh
//! family's absolute lifetime (at most 90 days), and how leavers lose access without SCIM
//! (DESIGN §4b): the upstream re-validation interval of OIDC sessions and the cap on a refresh
//! family's life without a fresh IdP sign-in. Unset values take the defaults. Stored as JSON in
//! `tenants.settings`; changes are audited.
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use serde::{Deserialize, Serialize};

use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::db::Store;
use crate::entities::tenants;
use crate::error::{CoreError, CoreResult};
use crate::scope::Tier;
use crate::tenant::TenantId;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSettings {
    /// Routine access-token lifetime in minutes (5–60; default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routine_token_minutes: Option<i64>,
    /// Sensitive and critical access-token lifetime in minutes (5–15; default 15).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensitive_token_minutes: Option<i64>,
    /// Days before consent to sensitive or critical scopes is asked again (1–90; default 90).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconsent_days: Option<i64>,
    /// Years audit records are kept (1–7; default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_retention_years: Option<i64>,
    /// `allowlist`: only MCP clients the tenant allowed may be used; `open` (default): any
    /// client not on the block list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_policy: Option<String>,
    /// Minutes after which a refresh asks the OIDC IdP again whether the person may still sign
    /// in (RFC 6749 §6 refresh at the IdP; 0–1440, 0: on every refresh; default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_check_minutes: Option<i64>,
    /// Hours a refresh family lives without a fresh IdP sign-in when the IdP cannot be asked
    /// (SAML, or OIDC without offline access) (1–720; default 24 when no live SCIM token is
    /// connected to the tenant, else no cap beyond the family's absolute lifetime).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reauth_after_hours: Option<i64>,
    /// Days a refresh family lives at most from the authorization (1–90; default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_lifetime_days: Option<i64>,
    /// MCP gateway calls (`tools/call`) per user and minute, per tier of the tool's most
    /// sensitive scope (issue 13 §1 "Limits"); unset tiers take [`GATEWAY_CALLS_DEFAULT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_calls_per_minute: Option<GatewayCallLimits>,
    /// Whether members may create personal API keys for IDE clients (issue 14 §1; default
    /// off). Turning it off revokes every key of the tenant at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_keys_enabled: Option<bool>,
    /// The longest life a member may give a personal API key, days (1–90; default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_max_days: Option<i64>,
    /// Seconds after a refresh token's rotation during which the same client presenting it
    /// again is taken as a retry of a lost response, not as reuse (0–60; default 10; 0 turns
    /// the grace off). See `token::refresh_grace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_grace_seconds: Option<i64>,
}

/// Calls per user and minute through the MCP gateway, by tier.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayCallLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routine: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensitive: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critical: Option<i64>,
}

pub const ROUTINE_MINUTES: (i64, i64) = (5, 60);
pub const SENSITIVE_MINUTES: (i64, i64) = (5, 15);
pub const RECONSENT_DAYS: (i64, i64) = (1, 90);
pub const RETENTION_YEARS: (i64, i64) = (1, 7);
/// Upstream re-validation interval, minutes (0: every refresh); default 60.
pub const UPSTREAM_CHECK_MINUTES: (i64, i64) = (0, 1440);
pub const UPSTREAM_CHECK_DEFAULT_MINUTES: i64 = 60;
/// Refresh life without a fresh IdP sign-in, hours (1 h … 30 days); default 24 without SCIM.
pub const REAUTH_AFTER_HOURS: (i64, i64) = (1, 720);
pub const REAUTH_DEFAULT_HOURS: i64 = 24;
/// Refresh family absolute lifetime, days (DESIGN §5: 30 default, 90 max).
pub const REFRESH_LIFETIME_DAYS: (i64, i64) = (1, 90);
pub const REFRESH_LIFETIME_DEFAULT_DAYS: i64 = 30;
/// Gateway calls per user and minute (1–100 000); defaults routine 600, sensitive 120,
/// critical 30: an agent's routine lookups are not throttled, a burst of deletions is.
pub const GATEWAY_CALLS_PER_MINUTE: (i64, i64) = (1, 100_000);
pub const GATEWAY_CALLS_DEFAULT: [i64; 3] = [600, 120, 30];
/// Personal API key lifetime, days (issue 14 §1: 30 default, 90 hard maximum).
pub const API_KEY_MAX_DAYS: (i64, i64) = (1, 90);
pub const API_KEY_DEFAULT_MAX_DAYS: i64 = 30;
/// Refresh retry grace, seconds (issue 15 §1: default 10, setting 0–60; Okta's and Auth0's
/// rotation grace periods are the same idea).
pub const REFRESH_GRACE_SECONDS: (i64, i64) = (0, 60);
pub const REFRESH_GRACE_DEFAULT_SECONDS: i64 = 10;

fn within(name: &str, v: Option<i64>, (lo, hi): (i64, i64)) -> CoreResult<()> {
    match v {
        Some(v) if !(lo..=hi).contains(&v) => Err(CoreError::invalid(format!(
            "{name} must be between {lo} and {hi}"
        ))),
        _ => Ok(()),
    }
}

impl TenantSettings {
    pub fn validate(&self) -> CoreResult<()> {
        within(
            "the routine access-token lifetime (minutes)",
            self.routine_token_minutes,
            ROUTINE_MINUTES,
        )?;
        within(
            "the sensitive access-token lifetime (minutes)",
            self.sensitive_token_minutes,
            SENSITIVE_MINUTES,
        )?;
        within(
            "the re-consent cadence (days)",
            self.reconsent_days,
            RECONSENT_DAYS,
        )?;
        within(
            "audit retention (years)",
            self.audit_retention_years,
            RETENTION_YEARS,
        )?;
        within(
            "the upstream check interval (minutes)",
            self.upstream_check_minutes,
            UPSTREAM_CHECK_MINUTES,
        )?;
        within(
            "the refresh life without a fresh sign-in (hours)",
            self.reauth_after_hours,
            REAUTH_AFTER_HOURS,
        )?;
        within(
            "the refresh lifetime (days)",
            self.refresh_lifetime_days,
            REFRESH_LIFETIME_DAYS,
        )?;
        within(
            "the personal API key lifetime (days)",
            self.api_key_max_days,
            API_KEY_MAX_DAYS,
        )?;
        within(
            "the refresh retry grace (seconds)",
            self.refresh_grace_seconds,
            REFRESH_GRACE_SECONDS,
        )?;
        if let Some(g) = &self.gateway_calls_per_minute {
            for (name, v) in [
                ("routine", g.routine),
                ("sensitive", g.sensitive),
                ("critical", g.critical),
            ] {
                within(
                    &format!("gateway calls per minute ({name})"),
                    v,
                    GATEWAY_CALLS_PER_MINUTE,
                )?;
            }
        }
        match self.client_policy.as_deref() {
            None | Some("open") | Some("allowlist") => Ok(()),
            Some(_) => Err(CoreError::invalid(
                "the client policy must be 'open' or 'allowlist'",
            )),
        }
    }

    /// Access-token lifetime for a token whose most sensitive scope is `tier`.
    pub fn access_token_secs(&self, tier: Tier) -> i64 {
        let max = tier.access_token_secs();
        let chosen = match tier {
            Tier::Routine => self.routine_token_minutes,
            Tier::Sensitive | Tier::Critical => self.sensitive_token_minutes,
        };
        chosen.map(|m| (m * 60).min(max)).unwrap_or(max)
    }

    /// Days until consent to `tier` is asked again (None: never).
    pub fn reconsent_days(&self, tier: Tier) -> Option<i64> {
        tier.reconsent_days()
            .map(|max| self.reconsent_days.map(|d| d.min(max)).unwrap_or(max))
    }

    pub fn audit_retention_years(&self) -> i64 {
        self.audit_retention_years.unwrap_or(RETENTION_YEARS.0)
    }

    pub fn allowlist_only(&self) -> bool {
        self.client_policy.as_deref() == Some("allowlist")
    }

    /// Seconds between upstream re-validations of an OIDC session (0: every refresh).
    pub fn upstream_check_secs(&self) -> i64 {
        self.upstream_check_minutes
            .unwrap_or(UPSTREAM_CHECK_DEFAULT_MINUTES)
            .clamp(UPSTREAM_CHECK_MINUTES.0, UPSTREAM_CHECK_MINUTES.1)
            * 60
    }

    /// How long a refresh family may go on without a fresh IdP sign-in when the IdP cannot be
    /// asked (None: no cap beyond the absolute lifetime). The default depends on whether a
    /// live SCIM token lets the IdP push deactivations to Gatehouse.
    pub fn reauth_cap_secs(&self, scim_connected: bool) -> Option<i64> {
        match self.reauth_after_hours {
            Some(h) => Some(h.clamp(REAUTH_AFTER_HOURS.0, REAUTH_AFTER_HOURS.1) * 3600),
            None if scim_connected => None,
            None => Some(REAUTH_DEFAULT_HOURS * 3600),
        }
    }

    /// Gateway calls a user may make per minute to tools of `tier`.
    pub fn gateway_calls_per_minute(&self, tier: Tier) -> i64 {
        let g = self.gateway_calls_per_minute.clone().unwrap_or_default();
        let (chosen, default) = match tier {
            Tier::Routine => (g.routine, GATEWAY_CALLS_DEFAULT[0]),
            Tier::Sensitive => (g.sensitive, GATEWAY_CALLS_DEFAULT[1]),
            Tier::Critical => (g.critical, GATEWAY_CALLS_DEFAULT[2]),
        };
        chosen
            .unwrap_or(default)
            .clamp(GATEWAY_CALLS_PER_MINUTE.0, GATEWAY_CALLS_PER_MINUTE.1)
    }

    /// Whether members may create personal API keys (default off).
    pub fn api_keys_enabled(&self) -> bool {
        self.api_keys_enabled.unwrap_or(false)
    }

    /// The longest life of a personal API key, days (default 30, at most 90).
    pub fn api_key_max_days(&self) -> i64 {
        self.api_key_max_days
            .unwrap_or(API_KEY_DEFAULT_MAX_DAYS)
            .clamp(API_KEY_MAX_DAYS.0, API_KEY_MAX_DAYS.1)
    }

    /// Seconds after a rotation during which presenting the rotated-out refresh token again is
    /// a retry, not reuse (0: no grace).
    pub fn refresh_grace_secs(&self) -> i64 {
        self.refresh_grace_seconds
            .unwrap_or(REFRESH_GRACE_DEFAULT_SECONDS)
            .clamp(REFRESH_GRACE_SECONDS.0, REFRESH_GRACE_SECONDS.1)
    }

    /// A refresh family's absolute lifetime from the authorization (DESIGN §5).
    pub fn refresh_lifetime_secs(&self) -> i64 {
        self.refresh_lifetime_days
            .unwrap_or(REFRESH_LIFETIME_DEFAULT_DAYS)
            .clamp(REFRESH_LIFETIME_DAYS.0, REFRESH_LIFETIME_DAYS.1)
            * 86_400
    }
}

/// How long a node reuses a tenant's settings on the token path before reading them again.
pub const CACHE_SECS: u64 = 10;

type Cache =
    std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, TenantSettings)>>;

fn cache() -> &'static Cache {
    static CACHE: std::sync::OnceLock<Cache> = std::sync::OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The settings for token issuance and consent, read at most every [`CACHE_SECS`] per node:
/// a changed lifetime or re-consent cadence reaches every node within that time. (Nothing here
/// decides whether a token is valid: revocation never goes through a cache.)
pub async fn get_cached<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
) -> CoreResult<TenantSettings> {
    let now = std::time::Instant::now();
    if let Ok(c) = cache().lock() {
        if let Some((at, s)) = c.get(tenant.as_str()) {
            if now.duration_since(*at).as_secs() < CACHE_SECS {
                return Ok(s.clone());
            }
        }
    }
    let s = get(conn, tenant).await?;
    if let Ok(mut c) = cache().lock() {
        if c.len() > 10_000 {
            c.clear();
        }
        c.insert(tenant.to_string(), (now, s.clone()));
    }
    Ok(s)
}

pub async fn get<C: ConnectionTrait>(conn: &C, tenant: &TenantId) -> CoreResult<TenantSettings> {
    let raw: String = tenants::Entity::find_by_id(tenant.to_string())
        .select_only()
        .column(tenants::Column::Settings)
        .into_tuple()
        .one(conn)
        .await?
        .ok_or(CoreError::NotFound("tenant"))?;
    Ok(serde_json::from_str(&raw).unwrap_or_default())
}

/// Replaces the settings (validated), audited with the old and new values.
pub async fn set(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    s: &TenantSettings,
    actor: &str,
) -> CoreResult<()> {
    s.validate()?;
    let txn = store.begin().await?;
    let old = get(&txn, tenant).await?;
    tenants::Entity::update_many()
        .col_expr(
            tenants::Column::Settings,
            Expr::value(serde_json::to_string(s).unwrap_or_default()),
        )
        .filter(tenants::Column::Id.eq(tenant.to_string()))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(tenant), "tenant.settings_changed")
            .actor(actor)
            .detail("old", serde_json::to_value(&old).unwrap_or_default())
            .detail("new", serde_json::to_value(s).unwrap_or_default()),
    )
    .await?;
    txn.commit().await?;
    if let Ok(mut c) = cache().lock() {
        c.remove(tenant.as_str());
    }
    if s.allowlist_only() && !old.allowlist_only() {
        // Allow-list mode applies to grants already given, not only to new ones.
        super::client_policy::enforce(store, clock, tenant, actor).await?;
    }
    if old.api_keys_enabled() && !s.api_keys_enabled() {
        // Keys stop working when the feature is turned off, not only new ones (issue 14 §1).
        crate::personal_key::revoke_all_in_tenant(store, clock, tenant, actor).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_of_design_section_5_hold() {
        let s = TenantSettings {
            routine_token_minutes: Some(61),
            ..Default::default()
        };
        assert!(s.validate().is_err());
        let s = TenantSettings {
            sensitive_token_minutes: Some(16),
            ..Default::default()
        };
        assert!(s.validate().is_err());
        let s = TenantSettings {
            audit_retention_years: Some(8),
            ..Default::default()
        };
        assert!(s.validate().is_err());
        let s = TenantSettings {
            routine_token_minutes: Some(30),
            sensitive_token_minutes: Some(10),
            reconsent_days: Some(30),
            audit_retention_years: Some(7),
            client_policy: Some("allowlist".into()),
            upstream_check_minutes: Some(0),
            reauth_after_hours: Some(720),
            refresh_lifetime_days: Some(90),
            gateway_calls_per_minute: Some(GatewayCallLimits {
                routine: Some(1000),
                sensitive: None,
                critical: Some(5),
            }),
            api_keys_enabled: Some(true),
            api_key_max_days: Some(90),
            refresh_grace_seconds: Some(0),
        };
        s.validate().unwrap();
        assert_eq!(s.refresh_grace_secs(), 0);
        assert_eq!(s.gateway_calls_per_minute(Tier::Routine), 1000);
        assert_eq!(s.gateway_calls_per_minute(Tier::Sensitive), 120);
        assert_eq!(s.gateway_calls_per_minute(Tier::Critical), 5);
        assert_eq!(s.upstream_check_secs(), 0);
        assert_eq!(s.reauth_cap_secs(true), Some(720 * 3600));
        assert_eq!(s.refresh_lifetime_secs(), 90 * 86_400);
        assert_eq!(s.access_token_secs(Tier::Routine), 1800);
        assert_eq!(s.access_token_secs(Tier::Critical), 600);
        assert_eq!(s.reconsent_days(Tier::Routine), None);
        assert_eq!(s.reconsent_days(Tier::Sensitive), Some(30));
        let d = TenantSettings::default();
        assert_eq!(d.access_token_secs(Tier::Routine), 3600);
        assert_eq!(d.access_token_secs(Tier::Sensitive), 900);
        assert_eq!(d.reconsent_days(Tier::Critical), Some(90));
        assert_eq!(d.audit_retention_years(), 1);
        assert_eq!(d.upstream_check_secs(), 3600);
        assert_eq!(d.reauth_cap_secs(false), Some(24 * 3600));
        assert_eq!(d.reauth_cap_secs(true), None);
        assert_eq!(d.refresh_lifetime_secs(), 30 * 86_400);
        assert!(!d.api_keys_enabled());
        assert_eq!(d.api_key_max_days(), 30);
        assert_eq!(s.api_key_max_days(), 90);
        assert_eq!(d.refresh_grace_secs(), 10);
        for bad in [
            TenantSettings {
                refresh_grace_seconds: Some(61),
                ..Default::default()
            },
            TenantSettings {
                refresh_grace_seconds: Some(-1),
                ..Default::default()
            },
            TenantSettings {
                upstream_check_minutes: Some(-1),
                ..Default::default()
            },
            TenantSettings {
                reauth_after_hours: Some(0),
                ..Default::default()
            },
            TenantSettings {
                reauth_after_hours: Some(721),
                ..Default::default()
            },
            TenantSettings {
                refresh_lifetime_days: Some(91),
                ..Default::default()
            },
            TenantSettings {
                api_key_max_days: Some(91),
                ..Default::default()
            },
            TenantSettings {
                api_key_max_days: Some(0),
                ..Default::default()
            },
            TenantSettings {
                gateway_calls_per_minute: Some(GatewayCallLimits {
                    critical: Some(0),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
