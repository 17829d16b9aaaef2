//! DPoP proofs (RFC 9449): a client proves, on each request, that it holds the private key a
//! token is bound to. One checker for both places a proof arrives: the token endpoint (§5,
//! the key the new grant family is bound to) and the MCP gateway (§7, the key a bound token
//! must be presented with). The rules are §4.3's, in its order; what is left to the caller is
//! the single use of the `jti` ([`use_once`], the shared store of every node, §11.1) and the
//! comparison with a bound token's `cnf.jkt` (§4.3 item 12, §6).
//!
//! Server nonces (§8, §9) are stateless, so every node agrees without sharing anything: a
//! nonce is a time slot and a MAC of it under a key every node derives alike (from the master
//! key, or a gateway's signing key). The current and the previous slot are accepted, so a nonce
//! lives between [`NONCE_SLOT_SECS`] and twice that. Nonces are always required: they bound
//! how long a proof made in advance (by malware on the client, §11.2) stays usable, and every
//! RFC 9449 client library retries once on `use_dpop_nonce`.
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::clock::MICROS;
use crate::jose::{self, Jws};

/// The `typ` of a proof (§4.2): a proof can never be another JWT replayed as one.
pub const TYP: &str = "dpop+jwt";
/// How far a proof's `iat` may lie from the server's clock, either way (§4.3 item 11, §11.1).
pub const IAT_WINDOW_SECS: i64 = 60;
/// A nonce's time slot (§8.1): a nonce is accepted in its slot and the next one.
pub const NONCE_SLOT_SECS: i64 = 300;
/// The longest `jti` accepted (§4.2 asks for 96 bits of randomness; this only bounds storage).
const MAX_JTI_LEN: usize = 256;
/// Members of a JWK that are private (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Why a proof was refused: the two §7.1 / §8 error codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DpopError {
    /// `invalid_dpop_proof`; the text says which rule failed, never the proof itself.
    #[error("{0}")]
    Invalid(String),
    /// `use_dpop_nonce`: the proof lacks a current server nonce (§8, §9); the answer carries
    /// a fresh one in `DPoP-Nonce`.
    #[error("the DPoP proof must carry the server's current nonce (see the DPoP-Nonce header)")]
    UseNonce,
}

impl DpopError {
    /// The RFC 9449 error code (§7.1 for resources, §5 for the token endpoint).
    pub fn code(&self) -> &'static str {
        match self {
            DpopError::Invalid(_) => "invalid_dpop_proof",
            DpopError::UseNonce => "use_dpop_nonce",
        }
    }
    fn invalid(m: impl Into<String>) -> Self {
        DpopError::Invalid(m.into())
    }
}

/// The key of the stateless server nonces (see the module comment). Every node of one server
/// derives the same key, so a nonce one node hands out is accepted by all.
#[derive(Clone)]
pub struct NonceKey([u8; 32]);

impl std::fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NonceKey(..)")
    }
}

impl NonceKey {
    /// The nonce key derived (HKDF-SHA256, its own label) from a server secret: the master
    /// key ([`crate::crypto::MasterKey::dpop_nonce_key`]) or a gateway's signing key.
    pub fn derive(secret: &[u8]) -> NonceKey {
        let hk = hkdf::Hkdf::<Sha256>::new(Some(b"gatehouse"), secret);
        let mut key = [0u8; 32];
        hk.expand(b"dpop server nonce v1", &mut key)
            .expect("32 bytes is a valid HKDF length");
        NonceKey(key)
    }

    fn mac(&self, slot: i64) -> [u8; 16] {
        let hk = hkdf::Hkdf::<Sha256>::from_prk(&self.0).expect("a 32-byte PRK is valid");
        let mut out = [0u8; 16];
        hk.expand(&slot.to_be_bytes(), &mut out)
            .expect("16 bytes is a valid HKDF length");
        out
    }

    fn slot(now_us: i64) -> i64 {
        now_us.div_euclid(NONCE_SLOT_SECS * MICROS)
    }

    /// The nonce to hand out now (`DPoP-Nonce`, §8.1): base64url of the slot and its MAC,
    /// which is within the header's NQCHAR syntax.
    pub fn current(&self, now_us: i64) -> String {
        let slot = Self::slot(now_us);
        let mut b = slot.to_be_bytes().to_vec();
        b.extend_from_slice(&self.mac(slot));
        URL_SAFE_NO_PAD.encode(b)
    }

    /// Is `nonce` one this server handed out in the current or the previous slot?
    pub fn accepts(&self, nonce: &str, now_us: i64) -> bool {
        let Ok(b) = URL_SAFE_NO_PAD.decode(nonce) else {
            return false;
        };
        if b.len() != 24 {
            return false;
        }
        let slot = i64::from_be_bytes(b[..8].try_into().expect("8 bytes"));
        let now = Self::slot(now_us);
        if slot != now && slot != now - 1 {
            return false;
        }
        use subtle::ConstantTimeEq;
        bool::from(self.mac(slot).ct_eq(&b[8..]))
    }
}

/// What the request a proof came with looks like, as the server knows it.
pub struct Expect<'a> {
    /// The request's method (`htm`, §4.3 item 8).
    pub method: &'a str,
    /// The URL the client called, as the server publishes it (`htu`, §4.3 item 9): the token
    /// endpoint, or the resource's URI at the gateway.
    pub url: &'a str,
    /// The access token presented with the proof: then `ath` is required (§4.3 item 12, §7).
    pub access_token: Option<&'a str>,
    pub now_us: i64,
    pub nonces: &'a NonceKey,
}

/// A proof that passed every check of §4.3 but the single use of its `jti`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// The RFC 7638 thumbprint of the proof's key: what a token is bound to (§6.1).
    pub jkt: String,
    pub jti: String,
    /// Seconds.
    pub iat: i64,
}

/// `base64url(SHA-256(access token))`, the `ath` claim (§4.2).
pub fn ath(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()))
}

/// `url` as compared for `htu` (§4.3 item 9): without query and fragment, normalised as
/// RFC 3986 §6.2.2-6.2.3 allow (case of scheme and host, default port, dot segments, an
/// empty path as `/`), which is what parsing with the WHATWG URL rules does.
fn htu_form(url: &str) -> Option<String> {
    let mut u = url::Url::parse(url).ok()?;
    if !matches!(u.scheme(), "http" | "https") {
        return None;
    }
    u.set_query(None);
    u.set_fragment(None);
    Some(u.to_string())
}

/// Checks the `DPoP` header values of a request (§4.3 items 1-12; the jkt comparison with a
/// bound token is the caller's). `values`: every `DPoP` header of the request.
pub fn check(values: &[&str], e: &Expect<'_>) -> Result<Proof, DpopError> {
    // 1-2: one header, one well-formed JWS (a comma-joined pair is not one).
    let [value] = values else {
        return Err(DpopError::invalid("send exactly one DPoP header"));
    };
    let jws = Jws::parse(value)
        .map_err(|_| DpopError::invalid("the DPoP header is not a compact JWS"))?;
    // 4: typ.
    if jws.header_str("typ") != Some(TYP) {
        return Err(DpopError::invalid(format!("typ must be '{TYP}'")));
    }
    // 5: an asymmetric algorithm we support (none and MACs are refused).
    jws.alg().map_err(|e| DpopError::invalid(e.to_string()))?;
    // 3, 7: the public key in the header, with no private member.
    let jwk = match jws.header.get("jwk") {
        Some(Value::Object(k)) => Value::Object(k.clone()),
        _ => {
            return Err(DpopError::invalid(
                "the header must carry the public key as 'jwk'",
            ))
        }
    };
    if PRIVATE_MEMBERS.iter().any(|m| jwk.get(m).is_some()) {
        return Err(DpopError::invalid(
            "the jwk must be a public key (it has private members)",
        ));
    }
    // 6: the signature, with that key.
    jws.verify_with(&jwk)
        .map_err(|e| DpopError::invalid(format!("the proof does not verify: {e}")))?;
    let jkt = jose::thumbprint(&jwk).map_err(|e| DpopError::invalid(e.to_string()))?;
    // 3: the claims every proof has.
    let jti = match jws.claim_str("jti") {
        Some(j) if !j.is_empty() && j.len() <= MAX_JTI_LEN => j.to_string(),
        _ => return Err(DpopError::invalid("jti is missing or too long")),
    };
    let Some(iat) = jws.claim_i64("iat") else {
        return Err(DpopError::invalid("iat is missing"));
    };
    // 8: htm.
    if jws.claim_str("htm") != Some(e.method) {
        return Err(DpopError::invalid(format!(
            "htm must be '{}' (this request's method)",
            e.method
        )));
    }
    // 9: htu.
    let htu = jws.claim_str("htu").and_then(htu_form);
    if htu.is_none() || htu != htu_form(e.url) {
        return Err(DpopError::invalid(format!(
            "htu must be '{}' (the URL called, without query and fragment)",
            htu_form(e.url).unwrap_or_default()
        )));
    }
    // 12: ath, when a token comes with the proof.
    if let Some(token) = e.access_token {
        if jws.claim_str("ath") != Some(ath(token).as_str()) {
            return Err(DpopError::invalid(
                "ath must be the base64url SHA-256 of the access token presented",
            ));
        }
    }
    // 11: iat within the window.
    let now = e.now_us.div_euclid(MICROS);
    if (iat - now).abs() > IAT_WINDOW_SECS {
        return Err(DpopError::invalid(format!(
            "iat is more than {IAT_WINDOW_SECS} seconds from the server's time"
        )));
    }
    // 10: the server's nonce, last, so a proof refused only for its nonce is otherwise sound.
    match jws.claim_str("nonce") {
        Some(n) if e.nonces.accepts(n, e.now_us) => {}
        _ => return Err(DpopError::UseNonce),
    }
    Ok(Proof { jkt, jti, iat })
}

/// Marks `proof`'s `jti` used, in the store every node shares (§11.1; namespace `dpop:<jkt>`),
/// until the proof could no longer pass the `iat` check. `false`: a replay.
pub async fn use_once<C: sea_orm::ConnectionTrait>(
    conn: &C,
    proof: &Proof,
) -> crate::CoreResult<bool> {
    let until = (proof.iat + IAT_WINDOW_SECS + 1) * MICROS;
    crate::jti::use_once(conn, &format!("dpop:{}", proof.jkt), &proof.jti, until).await
}

#[cfg(test)]
#[path = "dpop_tests.rs"]
mod tests;
