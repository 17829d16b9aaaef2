//! A world with the CRM and wiki resources, tenant `acme` (org grants for its users), and
//! helpers to create service accounts, sign client assertions and call the token endpoint.
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::test;
use authz_core::service_account::{self as sa, Keys, Method, NewAccount};
use authz_core::testkit::world::{self, TenantFx, World};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};

pub use world::{DELETE, ISSUER, OTHER_RESOURCE_URI, READ, RESOURCE_URI, SETTINGS};

pub const TOKEN_ENDPOINT: &str = "https://auth.gatehouse.test/oauth/token";

pub struct Fx {
    pub w: World,
    pub t: TenantFx,
}

pub async fn fixture() -> Fx {
    let w = World::new().await;
    let t = w.tenant("acme", "acme.example", &[READ, DELETE]).await;
    Fx { w, t }
}

/// An Ed25519 key pair: (signing key, public JWK).
pub fn key(seed: u8, kid: &str) -> (SigningKey, Value) {
    let sk = SigningKey::from_bytes(&[seed; 32]);
    let x = URL_SAFE_NO_PAD.encode(sk.verifying_key().as_bytes());
    (
        sk,
        json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA"}),
    )
}

/// A `private_key_jwt` assertion (RFC 7523 §2.2) with `claims` over the usual ones.
pub fn assertion(sk: &SigningKey, kid: &str, client_id: &str, now: i64, claims: Value) -> String {
    let mut c = json!({
        "iss": client_id, "sub": client_id, "aud": ISSUER,
        "iat": now, "exp": now + 300, "jti": uuid_like(now, client_id, &claims),
    });
    for (k, v) in claims.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    let h = URL_SAFE_NO_PAD.encode(json!({"alg": "EdDSA", "typ": "JWT", "kid": kid}).to_string());
    let p = URL_SAFE_NO_PAD.encode(c.to_string());
    let sig = sk.sign(format!("{h}.{p}").as_bytes());
    format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

fn uuid_like(now: i64, client_id: &str, claims: &Value) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let _ = claims;
    format!("{client_id}-{now}-{}", N.fetch_add(1, Ordering::Relaxed))
}

impl Fx {
    pub fn now(&self) -> i64 {
        self.w.clock_now() / 1_000_000
    }

    /// A secret account granted `grants`; returns (client id, secret, account id).
    pub async fn secret_account(
        &self,
        name: &str,
        grants: &[(&str, &[&str])],
    ) -> (String, String, String) {
        let g: Vec<(String, Vec<String>)> = grants
            .iter()
            .map(|(r, s)| (r.to_string(), s.iter().map(|s| s.to_string()).collect()))
            .collect();
        let c = sa::create(
            &self.w.store,
            &self.w.clock,
            self.t.id(),
            NewAccount {
                name,
                grants: &g,
                method: Method::ClientSecretBasic,
                keys: None,
            },
            "test",
        )
        .await
        .unwrap();
        (c.account.client_id, c.secret.unwrap(), c.account.id)
    }

    /// A `private_key_jwt` account with `keys`; returns (client id, account id).
    pub async fn key_account(&self, name: &str, keys: Keys) -> (String, String) {
        let g = vec![(RESOURCE_URI.to_string(), vec![READ.to_string()])];
        let c = sa::create(
            &self.w.store,
            &self.w.clock,
            self.t.id(),
            NewAccount {
                name,
                grants: &g,
                method: Method::PrivateKeyJwt,
                keys: Some(keys),
            },
            "test",
        )
        .await
        .unwrap();
        (c.account.client_id, c.account.id)
    }

    pub async fn audit(&self, action: &str) -> Vec<authz_core::entities::audit_events::Model> {
        self.w
            .audit_rows(self.t.id().as_str())
            .await
            .into_iter()
            .filter(|r| r.action == action)
            .collect()
    }
}

/// Enables or disables `account` as a tenant admin would (every node's admin API calls this);
/// returns how many token families the change revoked.
pub async fn set_enabled(w: &World, t: &TenantFx, account: &str, enabled: bool) -> u64 {
    let (_, revoked) = sa::set_enabled(&w.store, &w.clock, t.id(), account, enabled, "admin:x")
        .await
        .unwrap();
    revoked
}

pub fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

/// POSTs a token request; returns (status, body).
pub async fn token<S, B>(app: &S, auth: Option<&str>, form: &[(&str, &str)]) -> (u16, Value)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let mut req = test::TestRequest::post()
        .uri("/oauth/token")
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .set_payload(serde_urlencoded::to_string(form).unwrap());
    if let Some(a) = auth {
        req = req.insert_header(("authorization", a));
    }
    let r = test::call_service(app, req.to_request()).await;
    let status = r.status().as_u16();
    let body = test::read_body(r).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}
