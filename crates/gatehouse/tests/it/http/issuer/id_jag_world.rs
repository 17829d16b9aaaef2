//! The world of the ID-JAG tests (ADR 0014): two enterprise IdPs on one https server on
//! 127.0.0.2 (issuers `…/a` and `…/b`, each with its discovery document and its own RSA
//! signing key in its JWK Set), acme's OIDC connection to IdP a with alice signed in once,
//! beta's connection to IdP b, a pre-registered confidential client, and the one app with the
//! operator's fetcher (the test CA, 127.0.0.0/8 allowed) as `gatehouse serve` builds it.
#![allow(dead_code)]
use super::common::*;

use std::sync::{Arc, OnceLock};

use actix_web::http::StatusCode;
use authz_core::clock::Clock;
use authz_core::connection::{self, Connection};
use authz_core::id_jag::{self, IdJagSettings};
use authz_core::redirect::RedirectPolicy;
use authz_core::testkit::world;
use authz_core::user::FederatedIdentity;
use authz_core::{client, TenantId};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use issuer::AppState;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::sign::Signer;
use safe_fetch::{FetchConfig, SafeFetcher};
use serde_json::{json, Value};

pub const SUB: &str = "alice-at-idp-a";

pub struct Idp {
    pub ca: Vec<u8>,
    pub port: u16,
    keys: [PKey<Private>; 2],
}

fn jwk(key: &PKey<Private>, kid: &str) -> Value {
    let rsa = key.rsa().unwrap();
    json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
           "n": URL_SAFE_NO_PAD.encode(rsa.n().to_vec()),
           "e": URL_SAFE_NO_PAD.encode(rsa.e().to_vec())})
}

/// The two IdPs, started once for the whole test binary.
pub fn idp() -> &'static Idp {
    static IDP: OnceLock<Idp> = OnceLock::new();
    IDP.get_or_init(|| {
        let keys = [0, 1].map(|_| PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap());
        let public = [jwk(&keys[0], "a1"), jwk(&keys[1], "b1")];
        let (ca, port) = crate::http::tls::https_on_127_0_0_2(move |port, request| {
            let path = request.split_whitespace().nth(1).unwrap_or("");
            for (i, name) in ["a", "b"].iter().enumerate() {
                if path == format!("/{name}/jwks") {
                    return json!({"keys": [public[i]]}).to_string();
                }
                if path.starts_with(&format!("/{name}/.well-known/")) {
                    let base = format!("https://127.0.0.2:{port}/{name}");
                    return json!({
                        "issuer": base,
                        "authorization_endpoint": format!("{base}/auth"),
                        "token_endpoint": format!("{base}/token"),
                        "jwks_uri": format!("{base}/jwks"),
                        "response_types_supported": ["code"],
                        "subject_types_supported": ["public"],
                        "id_token_signing_alg_values_supported": ["RS256"],
                    })
                    .to_string();
                }
            }
            "{}".into()
        });
        Idp { ca, port, keys }
    })
}

impl Idp {
    pub fn issuer(&self, which: usize) -> String {
        format!("https://127.0.0.2:{}/{}", self.port, ["a", "b"][which])
    }

    /// A JWS over `claims` with `header`, signed RS256 by IdP `which`'s key.
    pub fn sign(&self, which: usize, header: Value, claims: &Value) -> String {
        let h = URL_SAFE_NO_PAD.encode(header.to_string());
        let c = URL_SAFE_NO_PAD.encode(claims.to_string());
        let mut s = Signer::new(MessageDigest::sha256(), &self.keys[which]).unwrap();
        s.update(format!("{h}.{c}").as_bytes()).unwrap();
        format!(
            "{h}.{c}.{}",
            URL_SAFE_NO_PAD.encode(s.sign_to_vec().unwrap())
        )
    }
}

pub struct W {
    pub fx: Fx,
    pub conn: Connection,
    pub beta: TenantId,
    pub beta_conn: Connection,
    pub client: String,
    pub secret: String,
    /// alice's user at IdP a.
    pub user_id: String,
}

/// The operator's fetcher: it trusts the test CA and may reach 127.0.0.0/8.
fn operator_fetcher() -> SafeFetcher {
    let (allow, resolve) = FetchConfig::parse_lists("127.0.0.0/8", "").unwrap();
    SafeFetcher::new(&FetchConfig {
        extra_ca_pem: Some(idp().ca.clone()),
        allow,
        resolve,
    })
    .unwrap()
}

/// A node of the world: its own state (its own key caches), the shared store.
pub fn node(w: &W) -> AppState {
    crate::http::world::issuer_state(
        &w.fx.store,
        Arc::new(w.fx.clock.clone()),
        ISSUER,
        operator_fetcher(),
    )
}

async fn add_connection(fx: &Fx, tenant: &TenantId, issuer: &str) -> Connection {
    world::add_oidc(
        &fx.store,
        &fx.clock,
        tenant,
        "Enterprise IdP",
        issuer,
        "gh",
        "s3cret",
    )
    .await
}

pub async fn world() -> W {
    let fx = fixture().await;
    let conn = add_connection(&fx, &fx.acme.id, &idp().issuer(0)).await;
    let (u, _) = world::signed_in_user(
        &fx.store,
        &fx.clock,
        &fx.acme.id,
        &FederatedIdentity {
            connection_id: conn.id.clone(),
            subject: SUB.into(),
            email: Some("alice@acme.test".into()),
            ..Default::default()
        },
        fx.clock.now_us(),
    )
    .await;
    let beta = world::add_tenant(&fx.store, &fx.clock, "beta", "Beta", &["beta.test"])
        .await
        .id;
    let beta_conn = add_connection(&fx, &beta, &idp().issuer(1)).await;
    let reg = client::add_preregistered(
        &fx.store,
        &fx.clock,
        &RedirectPolicy::default(),
        "Enterprise agent",
        &["https://agent.example.test/cb".to_string()],
        true,
    )
    .await
    .unwrap();
    let w = W {
        fx,
        conn,
        beta,
        beta_conn,
        client: reg.client.client_id.clone(),
        secret: reg.client_secret.unwrap(),
        user_id: u.id,
    };
    allow(
        &w,
        &w.fx.acme.id.clone(),
        &w.conn.id.clone(),
        true,
        &[w.client.as_str()],
    )
    .await;
    w
}

/// Sets a connection's ID-JAG settings.
pub async fn allow(w: &W, tenant: &TenantId, conn: &str, enabled: bool, clients: &[&str]) {
    let s = IdJagSettings {
        enabled,
        clients: clients.iter().map(|c| c.to_string()).collect(),
    };
    id_jag::set(&w.fx.store, &w.fx.clock, tenant, conn, &s, "admin:test")
        .await
        .unwrap();
}

/// An ID-JAG's claims for alice, the test client and RES, issued now by IdP a (5 minutes).
pub fn claims(w: &W) -> Value {
    let now = w.fx.clock.now_s();
    json!({
        "iss": idp().issuer(0), "sub": SUB, "aud": ISSUER, "client_id": w.client,
        "resource": RES, "jti": uuid::Uuid::new_v4().to_string(),
        "iat": now, "exp": now + 300, "auth_time": now - 30,
    })
}

/// `claims(w)` with `changes` applied (`null` removes a claim).
pub fn with(w: &W, changes: Value) -> Value {
    let mut c = claims(w);
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

/// The ID-JAG for `claims`, signed by IdP `which` with the ID-JAG `typ`.
pub fn jag(which: usize, claims: &Value) -> String {
    let kid = ["a1", "b1"][which];
    idp().sign(
        which,
        json!({"alg": "RS256", "typ": "oauth-id-jag+jwt", "kid": kid}),
        claims,
    )
}

/// Presents `assertion` with the jwt-bearer grant as the test client (client_secret_post, as
/// the MCP Python SDK does), with the extra parameters.
pub async fn redeem<S, B>(
    app: &S,
    w: &W,
    assertion: &str,
    extra: &[(&str, &str)],
) -> (StatusCode, Value)
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let mut body = vec![
        ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
        ("assertion", assertion),
        ("client_id", w.client.as_str()),
        ("client_secret", w.secret.as_str()),
    ];
    body.extend_from_slice(extra);
    post_form(app, "/oauth/token", &body, None).await
}

/// The audit records of `action` in `tenant`'s chain, their details parsed.
pub async fn audited(w: &W, tenant: &TenantId, action: &str) -> Vec<Value> {
    world::audit_rows(&w.fx.store, tenant.as_str())
        .await
        .into_iter()
        .filter(|r| r.action == action)
        .map(|r| {
            let mut d: Value = serde_json::from_str(&r.details).unwrap_or(Value::Null);
            d["_client_id"] = json!(r.client_id);
            d["_user_id"] = json!(r.user_id);
            d["_scope"] = json!(r.scope);
            d
        })
        .collect()
}

pub async fn disable_connection(w: &W) {
    connection::set_enabled(
        &w.fx.store,
        &w.fx.clock,
        &w.fx.acme.id,
        &w.conn.id,
        false,
        "admin:test",
    )
    .await
    .unwrap();
}
