//! The `jwt-bearer` grant of an ID-JAG (RFC 7523 §2.1; draft-ietf-oauth-identity-assertion-
//! authz-grant §4.3-§5.1; MCP extension "Enterprise-Managed Authorization"; ADR 0014).
//!
//! In order: the JOSE `typ`; the OIDC connections whose issuer is the assertion's `iss` (the
//! tenant comes from them); the signature, with that IdP's JWK Set from the sign-in discovery
//! cache (fetched again once on an unknown key); the connection has ID-JAG on and lists the
//! client; the claims; the connection's subject rules; then the domain's redemption
//! (`authz_core::token::jwt_bearer::redeem`). Nothing is audited before the signature holds
//! (an unsigned assertion could otherwise write to any tenant's log); every refusal after it is
//! audited as `id_jag.rejected` in the connection's tenant.
use authz_core::client::Client;
use authz_core::clock::Clock;
use authz_core::connection::Connection;
use authz_core::id_jag::{self, IdJagSettings};
use authz_core::jose::{JoseError, Jws};
use authz_core::token::jwt_bearer::{self, IdJag, Redemption};
use authz_core::token::{IssuedTokens, TokenError};
use authz_core::Store;
use oidc_federation::{OidcRp, Preset};

/// The relying parties that fetch IdP keys: the operator's fetcher for connections the operator
/// added, the public one for those a tenant admin added (review F3), as at sign-in.
pub struct Idps<'a> {
    pub rp: &'a OidcRp,
    pub public_rp: &'a OidcRp,
}

impl Idps<'_> {
    fn for_conn(&self, conn: &Connection) -> &OidcRp {
        if conn.operator_added {
            self.rp
        } else {
            self.public_rp
        }
    }
}

/// The grant's parameters as the client sent them (RFC 7523 §2.1, RFC 8707 §2.2).
pub struct JwtBearerGrant<'a> {
    pub assertion: Option<&'a str>,
    pub scope: Option<&'a str>,
    pub resource: Option<&'a str>,
    /// The JWK thumbprint of the client's DPoP key, if it proved one (RFC 9449 §6).
    pub dpop_jkt: Option<String>,
}

/// Redeems an ID-JAG for `client` at the authorization server `issuer` (see the module
/// documentation for the order of the checks).
pub async fn jwt_bearer(
    store: &Store,
    clock: &dyn Clock,
    issuer: &str,
    idps: Idps<'_>,
    client: &Client,
    g: JwtBearerGrant<'_>,
) -> Result<IssuedTokens, TokenError> {
    let Some(assertion) = g.assertion.filter(|a| !a.is_empty()) else {
        return Err(TokenError::new("invalid_request", "assertion is required"));
    };
    if !client.is_confidential() {
        return Err(TokenError::new(
            "unauthorized_client",
            "only confidential clients may use the jwt-bearer grant",
        ));
    }
    let jws = Jws::parse(assertion)
        .map_err(|e| TokenError::grant(format!("the assertion is not a signed JWT: {e}")))?;
    if !jwt_bearer::typ_ok(&jws) {
        return Err(TokenError::grant(format!(
            "the assertion is not an ID-JAG: its JOSE 'typ' must be '{}'",
            jwt_bearer::TYP
        )));
    }
    let iss = jws
        .claim_str("iss")
        .ok_or_else(|| TokenError::grant("the assertion has no 'iss' claim"))?;
    let all = id_jag::connections_of_issuer(&store.db, iss).await?;
    let usable: Vec<&Connection> = all
        .iter()
        .filter(|c| c.enabled && IdJagSettings::of(c).enabled)
        .collect();
    let Some(first) = usable.first() else {
        let why = if all.is_empty() {
            "no organisation trusts this assertion's issuer"
        } else if all.iter().all(|c| !c.enabled) {
            "the connection to this assertion's issuer is disabled"
        } else {
            "ID-JAG is not enabled on the connection to this assertion's issuer"
        };
        tracing::info!(code = "IDJAG0002", client_id = %client.client_id, reason = why, "ID-JAG refused");
        return Err(TokenError::grant(why));
    };
    verify_signature(&idps, first, &jws).await?;
    // The signature holds: from here on refusals are audited in the connections' tenants.
    let allowed: Vec<&Connection> = usable
        .iter()
        .copied()
        .filter(|c| IdJagSettings::of(c).allows(&client.client_id))
        .collect();
    if allowed.is_empty() {
        let e = TokenError::new(
            "unauthorized_client",
            "this client is not allowed to redeem ID-JAGs of this identity provider",
        );
        for c in &usable {
            refuse(store, clock, c, client, jws.claim_str("jti"), &e).await?;
        }
        return Err(e);
    }
    let jag = match jwt_bearer::check_claims(&jws, issuer, &client.client_id, clock.now_s()) {
        Ok(j) => j,
        Err(e) => {
            for c in &allowed {
                refuse(store, clock, c, client, jws.claim_str("jti"), &e).await?;
            }
            return Err(e);
        }
    };
    let (conn, subject) = identify(store, clock, &allowed, client, &jag).await?;
    jwt_bearer::redeem(
        store,
        clock,
        Redemption {
            tenant: &conn.tenant,
            connection: conn,
            subject: &subject,
            client,
            jag: &jag,
            scope: g.scope,
            resource: g.resource,
            dpop_jkt: g.dpop_jkt,
        },
    )
    .await
}

/// The signature, with the IdP's keys; an unknown key makes one fresh fetch (rotation).
async fn verify_signature(idps: &Idps<'_>, conn: &Connection, jws: &Jws) -> Result<(), TokenError> {
    let rp = idps.for_conn(conn);
    let preset = Preset::from_stored(&conn.preset, &conn.settings);
    let unreachable = |e: oidc_federation::FederationError| {
        tracing::warn!(code = "IDJAG0003", connection = %conn.id, error = %e, "the IdP's keys could not be fetched");
        TokenError::new(
            "invalid_grant",
            "the identity provider's signing keys could not be fetched; try again later",
        )
    };
    let keys = rp
        .jwks(&conn.issuer, false, &preset)
        .await
        .map_err(unreachable)?;
    let result = match jws.verify_with_set(&keys) {
        Err(JoseError::Key(_)) => {
            let keys = rp
                .jwks(&conn.issuer, true, &preset)
                .await
                .map_err(unreachable)?;
            jws.verify_with_set(&keys)
        }
        other => other,
    };
    result.map_err(|e| {
        TokenError::grant(format!(
            "the assertion's signature does not verify with the identity provider's keys: {e}"
        ))
    })
}

/// The connection whose subject rules accept the assertion, and the subject they give. Several
/// tenants may trust one issuer (Google): the rules (Google `hd`, Entra `tid`) pick one; more
/// than one is refused rather than guessed.
async fn identify<'c>(
    store: &Store,
    clock: &dyn Clock,
    allowed: &[&'c Connection],
    client: &Client,
    jag: &IdJag,
) -> Result<(&'c Connection, String), TokenError> {
    let mut found = Vec::new();
    let mut last_err = None;
    for c in allowed {
        let preset = Preset::from_stored(&c.preset, &c.settings);
        let domains = authz_core::tenant::domains(&store.db, &c.tenant).await?;
        match preset.identify(&jag.claims, &domains) {
            Ok(who) => found.push((*c, who.subject)),
            Err(e) => last_err = Some(e.to_string()),
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => {
            let e = TokenError::grant(format!(
                "the assertion's subject does not fit the connection's rules: {}",
                last_err.unwrap_or_default()
            ));
            for c in allowed {
                refuse(store, clock, c, client, Some(&jag.jti), &e).await?;
            }
            Err(e)
        }
        _ => Err(TokenError::grant(
            "several organisations trust this issuer for this client; the assertion is ambiguous",
        )),
    }
}

async fn refuse(
    store: &Store,
    clock: &dyn Clock,
    conn: &Connection,
    client: &Client,
    jti: Option<&str>,
    e: &TokenError,
) -> Result<(), TokenError> {
    tracing::info!(code = "IDJAG0001", tenant = %conn.tenant.as_str(), client_id = %client.client_id, reason = %e.description, "ID-JAG refused");
    let ev = jwt_bearer::rejection(
        &conn.tenant,
        &client.client_id,
        &conn.id,
        jti,
        &e.description,
    );
    jwt_bearer::reject(store, clock, ev).await
}
