//! What the three IdPs enterprise customers name do differently, and the traps each one sets
//! for a generic OIDC client (issue: "OIDC presets"; DESIGN §6.7).
//!
//! * **Entra ID** — one pinned directory (`tid`) per connection and its tenant-specific issuer
//!   `https://login.microsoftonline.com/{tid}/v2.0`. The `/common` and `/organizations`
//!   documents carry a `{tenantid}` template in `issuer` that no token matches: refused with the
//!   URL to use instead. Users are keyed by `tid` + `oid` and never looked up by email (the
//!   "nOAuth" class: `email` is mutable and unverified in Entra). Group overage (`_claim_names`)
//!   is recorded; such users' groups must come from SCIM. The MCP `resource` parameter is never
//!   forwarded upstream (Entra rejects unknown resources).
//! * **Okta** — org authorization server (`https://{org}.okta.com`) or a custom one
//!   (`https://{org}.okta.com/oauth2/{id}`); both are plain issuers. `groups` claim if mapped.
//! * **Google Workspace** — issuer `https://accounts.google.com`, but ID tokens may carry the
//!   legacy `accounts.google.com`: both are accepted. The `hd` claim is enforced against the
//!   tenant's verified domains server-side; the `hd` request parameter is only a hint.
use serde_json::Value;

use crate::FederationError;

pub const ENTRA_LOGIN: &str = "https://login.microsoftonline.com";
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";
const GOOGLE_LEGACY_ISSUER: &str = "accounts.google.com";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Preset {
    Generic,
    Entra { tenant_id: String },
    Okta,
    Google,
}

fn valid_guid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

impl Preset {
    /// From the CLI/admin input.
    pub fn parse(name: &str, entra_tenant_id: Option<&str>) -> Result<Preset, String> {
        match name {
            "generic" => Ok(Preset::Generic),
            "okta" => Ok(Preset::Okta),
            "google" => Ok(Preset::Google),
            "entra" => {
                let tid = entra_tenant_id
                    .ok_or("the entra preset needs --entra-tenant-id (the Directory (tenant) ID, a GUID)")?
                    .trim()
                    .to_ascii_lowercase();
                if !valid_guid(&tid) {
                    return Err(format!(
                        "'{tid}' is not a Directory (tenant) ID; copy the GUID from Entra admin center → Overview"
                    ));
                }
                Ok(Preset::Entra { tenant_id: tid })
            }
            other => Err(format!(
                "unknown preset '{other}' (use entra, okta, google or generic)"
            )),
        }
    }

    /// From a stored connection.
    pub fn from_stored(name: &str, settings: &Value) -> Preset {
        match name {
            "entra" => Preset::Entra {
                tenant_id: settings
                    .get("tenant_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            },
            "okta" => Preset::Okta,
            "google" => Preset::Google,
            _ => Preset::Generic,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Preset::Generic => "generic",
            Preset::Entra { .. } => "entra",
            Preset::Okta => "okta",
            Preset::Google => "google",
        }
    }

    pub fn settings(&self) -> Value {
        match self {
            Preset::Entra { tenant_id } => serde_json::json!({ "tenant_id": tenant_id }),
            _ => serde_json::json!({}),
        }
    }

    /// The issuer an admin does not have to type.
    pub fn default_issuer(&self) -> Option<String> {
        match self {
            Preset::Entra { tenant_id } => Some(format!("{ENTRA_LOGIN}/{tenant_id}/v2.0")),
            Preset::Google => Some(GOOGLE_ISSUER.to_string()),
            _ => None,
        }
    }

    /// Refuses issuer URLs that cannot work, before anything is fetched.
    pub fn check_issuer_url(&self, issuer: &str) -> Result<(), FederationError> {
        let lower = issuer.to_ascii_lowercase();
        for multi in ["/common", "/organizations", "/consumers"] {
            if lower.starts_with(ENTRA_LOGIN)
                && (lower.contains(&format!("{multi}/")) || lower.ends_with(multi))
            {
                return Err(FederationError::MultiTenantIssuer(self.entra_hint()));
            }
        }
        if let Preset::Entra { tenant_id } = self {
            let expected = format!("{ENTRA_LOGIN}/{tenant_id}/v2.0");
            if lower.starts_with(ENTRA_LOGIN) && lower.trim_end_matches('/') != expected {
                return Err(FederationError::BadIssuer(format!(
                    "for Entra directory {tenant_id} the issuer is {expected}"
                )));
            }
        }
        Ok(())
    }

    /// The issuer URL to use instead of a multi-tenant one.
    pub fn entra_hint(&self) -> String {
        match self {
            Preset::Entra { tenant_id } => format!("{ENTRA_LOGIN}/{tenant_id}/v2.0"),
            _ => format!("{ENTRA_LOGIN}/<Directory (tenant) ID>/v2.0"),
        }
    }

    /// Refuses a discovery document whose issuer is a template (Entra's multi-tenant
    /// documents say `https://login.microsoftonline.com/{tenantid}/v2.0`).
    pub fn check_discovered_issuer(&self, issuer: &str) -> Result<(), FederationError> {
        if issuer.contains('{') || issuer.contains("%7B") || issuer.contains("%7b") {
            return Err(FederationError::MultiTenantIssuer(self.entra_hint()));
        }
        Ok(())
    }

    /// Issuers an ID token may name, given the discovered one.
    pub fn accepted_issuers(&self, discovered: &str) -> Vec<String> {
        match self {
            Preset::Google => vec![
                discovered.to_string(),
                GOOGLE_ISSUER.to_string(),
                GOOGLE_LEGACY_ISSUER.to_string(),
            ],
            _ => vec![discovered.to_string()],
        }
    }

    /// Offline access per IdP (OIDC Core §11, DESIGN §4b). Entra and Okta honour the
    /// `offline_access` scope (Okta: when the app allows the Refresh Token grant); so do most
    /// generic providers. Google ignores that scope and wants `access_type=offline`; it returns
    /// a refresh token on the first consent only, and `prompt=consent` on every sign-in would
    /// show the consent screen each time, so Gatehouse keeps the person's latest token instead.
    pub fn offline_access(&self) -> OfflineAccess {
        match self {
            Preset::Google => OfflineAccess {
                scope: None,
                params: vec![("access_type", "offline".to_string())],
                reuse_previous: true,
            },
            Preset::Entra { .. } | Preset::Okta | Preset::Generic => OfflineAccess {
                scope: Some("offline_access"),
                params: vec![],
                reuse_previous: false,
            },
        }
    }

    /// Extra authorization-request parameters (hints only).
    pub fn hint_params(&self, tenant_domains: &[String]) -> Vec<(&'static str, String)> {
        match (self, tenant_domains) {
            (Preset::Google, [only]) => vec![("hd", only.clone())],
            _ => vec![],
        }
    }

    /// Checks the preset's claims of an ID token whose signature, issuer, audience, nonce and
    /// expiry are already verified, and returns the stable subject key and groups.
    pub fn identify(
        &self,
        claims: &Value,
        tenant_domains: &[String],
    ) -> Result<Identified, FederationError> {
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let groups: Vec<String> = claims
            .get("groups")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        match self {
            Preset::Entra { tenant_id } => {
                let tid = claims
                    .get("tid")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                if tid != *tenant_id {
                    return Err(FederationError::Claims(format!(
                        "the token is from Entra directory '{tid}', this connection trusts only {tenant_id}"
                    )));
                }
                let oid = claims
                    .get("oid")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if oid.is_empty() {
                    return Err(FederationError::Claims(
                        "the Entra token has no oid claim".into(),
                    ));
                }
                // `_claim_names: {"groups": "src1"}` means the user is in more groups than fit.
                let overage = claims
                    .get("_claim_names")
                    .and_then(|c| c.get("groups"))
                    .is_some();
                Ok(Identified {
                    subject: format!("{tid}:{}", oid.to_ascii_lowercase()),
                    groups,
                    groups_overage: overage,
                })
            }
            Preset::Google => {
                let hd = claims
                    .get("hd")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                if hd.is_empty() {
                    return Err(FederationError::Claims(
                        "the Google account is not a Workspace account of this organisation (no hd claim)".into(),
                    ));
                }
                if !tenant_domains.iter().any(|d| d == &hd) {
                    return Err(FederationError::Claims(format!(
                        "the Google Workspace domain '{hd}' is not a verified domain of this organisation"
                    )));
                }
                Ok(Identified {
                    subject: sub,
                    groups,
                    groups_overage: false,
                })
            }
            Preset::Okta | Preset::Generic => Ok(Identified {
                subject: sub,
                groups,
                groups_overage: false,
            }),
        }
    }

    /// The values an admin pastes into the IdP, as the CLI prints them and the guides show them.
    pub fn setup_values(
        &self,
        issuer_url: &str,
        connection_id: &str,
    ) -> Vec<(&'static str, String)> {
        let mut v = vec![
            (
                "redirect_uri",
                format!("{issuer_url}/federation/oidc/{connection_id}/callback"),
            ),
            (
                "scopes",
                match self {
                    Preset::Google => "openid email profile (access_type=offline)",
                    _ => "openid email profile offline_access",
                }
                .to_string(),
            ),
        ];
        match self {
            Preset::Entra { .. } => {
                v.push((
                    "token_configuration",
                    "optional claims (ID token): auth_time, email".into(),
                ));
                v.push((
                    "supported_account_types",
                    "single tenant (accounts in this organizational directory only)".into(),
                ));
            }
            Preset::Okta => v.push(("grant_types", "authorization_code, refresh_token".into())),
            Preset::Google => v.push((
                "application_type",
                "web application (internal user type)".into(),
            )),
            Preset::Generic => {}
        }
        v
    }
}

/// How an authorization request asks for offline access (a refresh token) at this IdP.
pub struct OfflineAccess {
    pub scope: Option<&'static str>,
    pub params: Vec<(&'static str, String)>,
    /// The IdP returns a refresh token on first consent only and does not rotate it: a later
    /// sign-in without one may keep using the person's previous token.
    pub reuse_previous: bool,
}

pub struct Identified {
    pub subject: String,
    pub groups: Vec<String>,
    pub groups_overage: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    fn entra() -> Preset {
        Preset::parse("entra", Some(TID)).unwrap()
    }

    #[test]
    fn entra_keys_users_by_tid_and_oid_and_refuses_other_directories() {
        let ok = json!({"sub": "pairwise", "tid": TID, "oid": "00000000-AAAA-0000-0000-000000000001", "email": "a@b.c"});
        assert_eq!(
            entra().identify(&ok, &[]).unwrap().subject,
            format!("{TID}:00000000-aaaa-0000-0000-000000000001")
        );
        let other = json!({"sub": "x", "tid": "11111111-1111-1111-1111-111111111111", "oid": "o"});
        let e = entra().identify(&other, &[]).err().unwrap().to_string();
        assert!(
            e.contains("11111111-1111-1111-1111-111111111111") && e.contains(TID),
            "{e}"
        );
        assert!(
            entra()
                .identify(&json!({"sub": "x", "tid": TID}), &[])
                .is_err(),
            "oid required"
        );
    }

    #[test]
    fn entra_group_overage_is_recognised() {
        let c = json!({"sub": "s", "tid": TID, "oid": "o", "_claim_names": {"groups": "src1"}, "_claim_sources": {"src1": {}}});
        assert!(entra().identify(&c, &[]).unwrap().groups_overage);
    }

    #[test]
    fn entra_multi_tenant_endpoints_are_refused_with_the_right_url() {
        for bad in [
            "https://login.microsoftonline.com/common/v2.0",
            "https://login.microsoftonline.com/organizations/v2.0",
            "https://login.microsoftonline.com/consumers/v2.0",
        ] {
            let e = entra().check_issuer_url(bad).err().unwrap().to_string();
            assert!(
                e.contains(&format!("https://login.microsoftonline.com/{TID}/v2.0")),
                "{e}"
            );
            assert!(Preset::Generic.check_issuer_url(bad).is_err());
        }
        let e = Preset::Generic
            .check_discovered_issuer("https://login.microsoftonline.com/{tenantid}/v2.0")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("tenant-specific"), "{e}");
        assert!(entra()
            .check_issuer_url(&format!("https://login.microsoftonline.com/{TID}/v2.0"))
            .is_ok());
    }

    #[test]
    fn google_hd_is_enforced_server_side_and_both_issuers_accepted() {
        let domains = vec!["acme.com".to_string()];
        assert!(Preset::Google
            .identify(&json!({"sub": "1", "hd": "acme.com"}), &domains)
            .is_ok());
        let e = Preset::Google
            .identify(&json!({"sub": "1", "hd": "evil.com"}), &domains)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("evil.com"));
        assert!(
            Preset::Google
                .identify(&json!({"sub": "1"}), &domains)
                .is_err(),
            "consumer account"
        );
        let iss = Preset::Google.accepted_issuers(GOOGLE_ISSUER);
        assert!(iss.contains(&"accounts.google.com".to_string()));
        assert_eq!(
            Preset::Okta.accepted_issuers("https://acme.okta.com"),
            vec!["https://acme.okta.com"]
        );
    }

    #[test]
    fn parse_rejects_bad_input() {
        assert!(Preset::parse("entra", None).is_err());
        assert!(Preset::parse("entra", Some("common")).is_err());
        assert!(Preset::parse("azure", None).is_err());
    }
}
