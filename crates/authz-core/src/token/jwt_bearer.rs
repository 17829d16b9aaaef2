//! The RFC 7523 §2.1 `jwt-bearer` grant of an Identity Assertion JWT Authorization Grant
//! (ID-JAG, draft-ietf-oauth-identity-assertion-authz-grant; MCP extension "Enterprise-Managed
//! Authorization"): a client already signed in to the enterprise IdP gets an ID-JAG from it
//! (RFC 8693 token exchange at the IdP) and presents it here. No browser, no consent screen:
//! the tenant's org grants are the consent, and no refresh token is issued — the client
//! presents a fresh ID-JAG (ADR 0014).
//!
//! The signature is checked at the edge of the use case (the IdP's keys are fetched there);
//! this module checks the claims ([`check_claims`]) and redeems a verified assertion
//! ([`redeem`]): single-use `jti` on every node, user, grants, family, token, audit — one
//! transaction.
use serde_json::Value;

use super::{issue, max_tier, IssuedTokens, TokenError};
use crate::audit::{self, AuditEvent};
use crate::client::{self, Client};
use crate::clock::{Clock, MICROS};
use crate::connection::Connection;
use crate::db::Store;
use crate::jose::Jws;
use crate::scope::Tier;
use crate::tenant::TenantId;
use crate::{grant, resource};

/// RFC 7523 §2.1.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The ID-JAG's JOSE `typ` (draft §3.1; RFC 8725 §3.11 explicit typing).
pub const TYP: &str = "oauth-id-jag+jwt";
/// The longest `exp - iat` accepted. ID-JAGs are minted per request and short-lived (the
/// draft's examples: 5 minutes); a longer one is a bearer credential Gatehouse will not honour.
pub const MAX_LIFETIME_SECS: i64 = 300;
/// Clock skew tolerated on `exp`, `iat` and `nbf`.
pub const SKEW_SECS: i64 = 60;
/// The longest `jti` remembered as-is.
const MAX_JTI_LEN: usize = 256;

/// Is the JOSE `typ` the ID-JAG's? Compared case-insensitively, with or without the
/// `application/` prefix (RFC 7515 §4.1.9).
pub fn typ_ok(jws: &Jws) -> bool {
    jws.header_str("typ").is_some_and(|t| {
        let t = t.to_ascii_lowercase();
        t == TYP || t.strip_prefix("application/") == Some(TYP)
    })
}

/// The claims of an ID-JAG whose signature has been verified and whose claims passed
/// [`check_claims`].
#[derive(Debug, Clone)]
pub struct IdJag {
    pub iss: String,
    pub sub: String,
    pub client_id: String,
    pub resource: String,
    /// The scopes the IdP put in the grant (draft §3.1 `scope`), if any.
    pub scope: Option<String>,
    pub jti: String,
    pub exp: i64,
    pub iat: i64,
    /// When the person authenticated at the IdP (seconds), if the IdP said so.
    pub auth_time: Option<i64>,
    /// Every claim, for the connection's subject rules (Entra `tid`, `oid`).
    pub claims: Value,
}

fn str_claim(jws: &Jws, name: &str) -> Result<String, TokenError> {
    match jws.claim_str(name) {
        Some(s) if !s.is_empty() => Ok(s.to_string()),
        _ => Err(TokenError::grant(format!(
            "the assertion has no '{name}' claim"
        ))),
    }
}

fn int_claim(jws: &Jws, name: &str) -> Result<i64, TokenError> {
    jws.claim_i64(name).ok_or_else(|| {
        TokenError::grant(format!(
            "the assertion's '{name}' claim is missing or not a NumericDate"
        ))
    })
}

/// The claim checks of draft §5.1 and RFC 7523 §3, for `client_id`, at `now_s`: `aud` names
/// `issuer` (a string or an array containing it); `client_id` is the authenticated client;
/// `sub`, `resource` and `jti` are present; `exp` is in the future, `iat` is not, and the
/// lifetime is at most [`MAX_LIFETIME_SECS`].
pub fn check_claims(
    jws: &Jws,
    issuer: &str,
    client_id: &str,
    now_s: i64,
) -> Result<IdJag, TokenError> {
    let iss = str_claim(jws, "iss")?;
    let sub = str_claim(jws, "sub")?;
    let ours = |a: &Value| a.as_str().map(|a| a.trim_end_matches('/')) == Some(issuer);
    let aud_ok = match jws.claims.get("aud") {
        Some(Value::Array(v)) => v.iter().any(ours),
        Some(a) => ours(a),
        None => false,
    };
    if !aud_ok {
        return Err(TokenError::grant(format!(
            "the assertion's audience ('aud') must be this authorization server, {issuer}"
        )));
    }
    let cid = str_claim(jws, "client_id")?;
    if cid != client_id {
        return Err(TokenError::grant(
            "the assertion was issued to another client ('client_id' is not the authenticated client)",
        ));
    }
    let resource = str_claim(jws, "resource")?;
    let jti = str_claim(jws, "jti")?;
    if jti.len() > MAX_JTI_LEN {
        return Err(TokenError::grant("the assertion's 'jti' is too long"));
    }
    let exp = int_claim(jws, "exp")?;
    let iat = int_claim(jws, "iat")?;
    if exp + SKEW_SECS <= now_s {
        return Err(TokenError::grant("the assertion has expired"));
    }
    if iat > now_s + SKEW_SECS {
        return Err(TokenError::grant("the assertion was issued in the future"));
    }
    if exp - iat > MAX_LIFETIME_SECS {
        return Err(TokenError::grant(format!(
            "the assertion lives {} seconds; at most {MAX_LIFETIME_SECS} are accepted",
            exp - iat
        )));
    }
    if jws
        .claim_i64("nbf")
        .is_some_and(|nbf| nbf > now_s + SKEW_SECS)
    {
        return Err(TokenError::grant("the assertion is not valid yet ('nbf')"));
    }
    let scope = match jws.claims.get("scope") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(TokenError::grant("the assertion's 'scope' is not a string")),
    };
    Ok(IdJag {
        iss,
        sub,
        client_id: cid,
        resource,
        scope,
        jti,
        exp,
        iat,
        auth_time: jws.claim_i64("auth_time"),
        claims: Value::Object(jws.claims.clone()),
    })
}

/// A verified ID-JAG to redeem for `client` in `tenant`, through `connection` (the one whose
/// IdP signed it).
pub struct Redemption<'a> {
    pub tenant: &'a TenantId,
    pub connection: &'a Connection,
    /// The connection's subject for the assertion (the preset's rules: Entra `tid:oid`).
    pub subject: &'a str,
    pub client: &'a Client,
    pub jag: &'a IdJag,
    /// The request's `scope` and `resource` (RFC 7523 §2.1, RFC 8707 §2.2), as sent.
    pub scope: Option<&'a str>,
    pub resource: Option<&'a str>,
    /// The DPoP key the tokens are bound to (RFC 9449 §6), if the client proved one.
    pub dpop_jkt: Option<String>,
}

/// The audit record of a refused ID-JAG in `tenant` (`id_jag.rejected`, with the reason).
pub fn rejection(
    tenant: &TenantId,
    client_id: &str,
    connection_id: &str,
    jti: Option<&str>,
    reason: &str,
) -> AuditEvent {
    AuditEvent::new(Some(tenant), "id_jag.rejected")
        .result("denied")
        .client(client_id.to_string())
        .detail("grant_type", GRANT_TYPE)
        .detail("connection_id", connection_id)
        .detail("jti", jti.map(str::to_string))
        .detail("reason", reason)
}

/// Records a refusal decided before [`redeem`] (in its own transaction).
pub async fn reject(store: &Store, clock: &dyn Clock, ev: AuditEvent) -> Result<(), TokenError> {
    let txn = store.begin().await?;
    audit::record(&txn, clock, ev).await?;
    txn.commit().await?;
    Ok(())
}

/// Redeems a verified ID-JAG: burns its `jti` (namespace `id_jag:<iss>`, shared by every node),
/// finds the person under the connection's directory rules (never creating one), and issues
/// an access token — no refresh token — for what the org grants that person on the resource,
/// intersected with what was asked and what the IdP put in the grant. Critical scopes only
/// within the step-up window of the IdP's `auth_time` (else `iat`). Every refusal after the
/// `jti` check is audited as `id_jag.rejected`; the issue as `token.issued`.
pub async fn redeem(
    store: &Store,
    clock: &dyn Clock,
    r: Redemption<'_>,
) -> Result<IssuedTokens, TokenError> {
    let now = clock.now_us();
    let (tenant, jag) = (r.tenant, r.jag);
    let txn = store.begin().await?;
    let fail = |reason: &str| {
        rejection(
            tenant,
            &r.client.client_id,
            &r.connection.id,
            Some(&jag.jti),
            reason,
        )
    };
    macro_rules! refuse {
        ($err:expr) => {{
            let e: TokenError = $err;
            audit::record(&txn, clock, fail(&e.description)).await?;
            txn.commit().await?;
            tracing::info!(code = "IDJAG0001", tenant = %tenant.as_str(), client_id = %r.client.client_id, reason = %e.description, "ID-JAG refused");
            return Err(e);
        }};
    }
    let until = (jag.exp + SKEW_SECS) * MICROS;
    let namespace = format!("id_jag:{}", jag.iss);
    if !crate::jti::use_once(&txn, &namespace, &jag.jti, until).await? {
        refuse!(TokenError::grant(
            "the assertion was already used ('jti' replayed)"
        ));
    }
    if crate::incident::is_suspended(&txn, tenant).await? {
        refuse!(TokenError::grant("the organisation is suspended"));
    }
    let Some(res) = resource::find_by_uri(&txn, &normalized(&jag.resource)).await? else {
        refuse!(TokenError::new(
            "invalid_target",
            "the assertion's 'resource' names no registered resource"
        ));
    };
    if let Some(asked) = r.resource {
        if normalized(asked) != res.uri {
            refuse!(TokenError::new(
                "invalid_target",
                "the request's resource differs from the assertion's"
            ));
        }
    }
    let user =
        match crate::directory::admission::find_admitted(&txn, tenant, r.connection, r.subject)
            .await
        {
            Ok(u) => u,
            Err(crate::CoreError::Invalid(m)) => refuse!(TokenError::grant(m)),
            Err(e) => return Err(e.into()),
        };
    let (_, catalogue) = resource::with_catalogue(store, &txn, clock, &res.id).await?;
    let granted = grant::granted_to_user(&txn, tenant, &res.id, &user.id).await?;
    let auth_time_s = jag.auth_time.unwrap_or(jag.iat).min(now / MICROS);
    let step_up_fresh = now / MICROS - auth_time_s <= super::refresh::STEP_UP_WINDOW_SECS;
    let asked = r.scope.map(crate::scope::split);
    let from_idp = jag.scope.as_deref().map(crate::scope::split);
    let scopes: Vec<String> = granted
        .into_iter()
        .filter(|s| asked.as_ref().is_none_or(|a| a.contains(s)))
        .filter(|s| from_idp.as_ref().is_none_or(|a| a.contains(s)))
        .filter(|s| {
            catalogue
                .iter()
                .find(|c| &c.name == s)
                .is_some_and(|c| c.tier != Tier::Critical || step_up_fresh)
        })
        .collect();
    if scopes.is_empty() {
        // RFC 6749 §5.2: the scope "exceeds the scope granted by the resource owner".
        refuse!(TokenError::new(
            "invalid_scope",
            "the organisation grants this person none of the requested scopes on this resource"
        ));
    }
    let tier = max_tier(&catalogue, &scopes);
    let ttl = crate::admin::settings::get(&txn, tenant)
        .await?
        .access_token_secs(tier);
    let family = super::start_family(
        &txn,
        clock,
        super::NewFamily {
            id: uuid::Uuid::new_v4().to_string(),
            tenant,
            subject: &user.id,
            client_id: &r.client.client_id,
            resource_id: &res.id,
            scopes: &scopes,
            session_id: &format!("id-jag:{}", jag.jti),
            auth_time: auth_time_s * MICROS,
            expires_at: now + ttl * MICROS,
            kind: super::CredentialKind::JwtBearer,
            dpop_jkt: r.dpop_jkt.clone(),
        },
    )
    .await?;
    let issued = issue(&txn, clock, &family, &scopes, tier, false).await?;
    client::touch(&txn, clock, r.client).await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(tenant), "token.issued")
            .user(user.id.clone())
            .client(r.client.client_id.clone())
            .session(family.session_id.clone())
            .resource(res.uri.clone())
            .scope(issued.scope.clone())
            .detail("grant_type", GRANT_TYPE)
            .detail("credential_kind", super::CredentialKind::JwtBearer.as_str())
            .detail("tier", tier.as_str())
            .detail("refresh_token", false)
            .detail("connection_id", r.connection.id.as_str())
            .detail("idp", jag.iss.as_str())
            .detail("jti", jag.jti.as_str())
            .detail("asked_scope", r.scope.map(str::to_string))
            .detail("critical_dropped", !step_up_fresh),
    )
    .await?;
    txn.commit().await?;
    Ok(issued)
}

/// A resource URI as registered (RFC 8707; trailing slash normalised), or as given when it is
/// not a URI (it then matches nothing).
fn normalized(uri: &str) -> String {
    resource::normalize_uri(uri).unwrap_or_else(|_| uri.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use serde_json::json;

    const AS: &str = "https://auth.example.test";

    fn jws(header: Value, claims: Value) -> Jws {
        let h = URL_SAFE_NO_PAD.encode(header.to_string());
        let c = URL_SAFE_NO_PAD.encode(claims.to_string());
        Jws::parse(&format!("{h}.{c}.AA")).unwrap()
    }

    fn claims(now: i64) -> Value {
        json!({"iss": "https://idp.test", "sub": "u1", "aud": AS, "client_id": "c1",
               "resource": "https://crm.test/mcp", "jti": "j1", "iat": now, "exp": now + 300})
    }

    fn check(c: Value, now: i64) -> Result<IdJag, String> {
        check_claims(&jws(json!({"typ": TYP}), c), AS, "c1", now).map_err(|e| e.description)
    }

    #[test]
    fn typ_is_explicit() {
        assert!(typ_ok(&jws(json!({"typ": "oauth-id-jag+jwt"}), json!({}))));
        assert!(typ_ok(&jws(
            json!({"typ": "application/OAUTH-ID-JAG+JWT"}),
            json!({})
        )));
        assert!(!typ_ok(&jws(json!({"typ": "JWT"}), json!({}))));
        assert!(!typ_ok(&jws(json!({}), json!({}))));
    }

    #[test]
    fn claims_bind_audience_client_and_time() {
        let now = 1_000_000;
        assert!(check(claims(now), now).is_ok());
        let mut c = claims(now);
        c["aud"] = json!(["https://other.test", AS]);
        assert!(check(c, now).is_ok());
        let cases: [(&str, Value, &str); 7] = [
            ("aud", json!("https://other.test"), "audience"),
            ("client_id", json!("c2"), "another client"),
            ("exp", json!(now - 61), "expired"),
            ("iat", json!(now + 120), "future"),
            ("exp", json!(now + 3600), "at most 300"),
            ("resource", Value::Null, "'resource'"),
            ("jti", Value::Null, "'jti'"),
        ];
        for (k, v, want) in cases {
            let mut c = claims(now);
            c[k] = v;
            let got = check(c, now).unwrap_err();
            assert!(got.contains(want), "{k}: {got}");
        }
    }
}
