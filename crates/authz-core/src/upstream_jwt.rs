//! The short-lived JWT the MCP gateway sends upstream instead of the client's token (issue 13;
//! MCP spec 2025-11-25 "Authorization", "Access Token Privilege Restriction": a server must not
//! pass the token it received on). Signed with EdDSA over Ed25519 (RFC 8037), the key named by
//! its RFC 7638 thumbprint, published as a JWKS (RFC 7517) at the issuer.
//!
//! [`verify`] is what an upstream does with it (and what the tests do): signature by `kid`
//! against the published keys, `iss`, `aud` equal to the upstream's own URL, `exp` in the
//! future and at most [`MAX_TTL_SECS`] after `iat`. Replay protection (remembering `jti` until
//! `exp`) is the upstream's: the window is at most 60 seconds.
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The longest lifetime of an upstream JWT.
pub const MAX_TTL_SECS: i64 = 60;

/// The claims (RFC 7519 §4.1 registered ones, plus who is calling through which client).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamClaims {
    pub iss: String,
    /// The upstream URL: a JWT minted for one upstream is refused by every other.
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    /// The user id in the tenant.
    pub sub: String,
    pub tenant: String,
    pub client_id: String,
    /// Space-delimited, as in the access token (RFC 8693 §4.2 `scope`).
    pub scope: String,
    /// The Gatehouse sign-in session behind the token (OpenID Connect `sid`).
    pub sid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `user` or `service` (a tenant service account, DESIGN §8): an upstream can tell an
    /// agent from a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_type: Option<String>,
    /// The credential behind the call (`authorization_code`, `api_key`, `jwt_bearer`,
    /// `client_credentials`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_kind: Option<String>,
}

/// RFC 7638 §3.2 thumbprint of an OKP key: SHA-256 of `{"crv","kty","x"}` in that order,
/// base64url.
pub fn thumbprint(key: &VerifyingKey) -> String {
    let x = URL_SAFE_NO_PAD.encode(key.as_bytes());
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// One public key as a JWK (RFC 8037 §2).
pub fn jwk(key: &VerifyingKey) -> Value {
    json!({
        "kty": "OKP",
        "crv": "Ed25519",
        "x": URL_SAFE_NO_PAD.encode(key.as_bytes()),
        "kid": thumbprint(key),
        "alg": "EdDSA",
        "use": "sig",
    })
}

/// The JWKS document of `keys` (RFC 7517 §5).
pub fn jwks(keys: &[VerifyingKey]) -> Value {
    json!({ "keys": keys.iter().map(jwk).collect::<Vec<_>>() })
}

/// Signs `claims` as a compact JWS (RFC 7515 §7.1).
/// On every call through the gateway: the header and claims are written straight to their
/// encodings (no intermediate JSON tree), and the one buffer grows into the token.
pub fn sign(key: &SigningKey, claims: &UpstreamClaims) -> String {
    // A thumbprint is base64url: nothing in it needs escaping in a JSON string.
    let header = format!(
        r#"{{"alg":"EdDSA","typ":"JWT","kid":"{}"}}"#,
        thumbprint(&key.verifying_key())
    );
    let body = serde_json::to_vec(claims).unwrap_or_default();
    let mut jws = String::with_capacity((header.len() + body.len()) * 4 / 3 + 100);
    URL_SAFE_NO_PAD.encode_string(header, &mut jws);
    jws.push('.');
    URL_SAFE_NO_PAD.encode_string(body, &mut jws);
    let sig = key.sign(jws.as_bytes());
    jws.push('.');
    URL_SAFE_NO_PAD.encode_string(sig.to_bytes(), &mut jws);
    jws
}

/// Why a JWT was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("malformed JWT")]
    Malformed,
    #[error("unknown key or algorithm")]
    UnknownKey,
    #[error("bad signature")]
    Signature,
    #[error("wrong issuer")]
    Issuer,
    #[error("wrong audience")]
    Audience,
    #[error("expired, or lives longer than 60 seconds")]
    Expired,
}

/// The public keys of a JWKS document, by `kid` (only Ed25519 OKP keys are read).
pub fn keys_from_jwks(doc: &Value) -> Vec<(String, VerifyingKey)> {
    let Some(keys) = doc.get("keys").and_then(Value::as_array) else {
        return Vec::new();
    };
    keys.iter()
        .filter(|k| k["kty"] == "OKP" && k["crv"] == "Ed25519")
        .filter_map(|k| {
            let x = URL_SAFE_NO_PAD.decode(k["x"].as_str()?).ok()?;
            let key = VerifyingKey::from_bytes(&x.try_into().ok()?).ok()?;
            Some((k["kid"].as_str()?.to_string(), key))
        })
        .collect()
}

/// Checks an upstream JWT as an upstream must: `kid` among `keys`, the signature, `iss`,
/// `aud` = `audience`, `now_secs < exp` and `exp - iat <= 60`.
pub fn verify(
    token: &str,
    keys: &[(String, VerifyingKey)],
    issuer: &str,
    audience: &str,
    now_secs: i64,
) -> Result<UpstreamClaims, JwtError> {
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let decode = |p: &str| URL_SAFE_NO_PAD.decode(p).map_err(|_| JwtError::Malformed);
    let header: Value = serde_json::from_slice(&decode(h)?).map_err(|_| JwtError::Malformed)?;
    if header["alg"] != "EdDSA" {
        return Err(JwtError::UnknownKey);
    }
    let kid = header["kid"].as_str().ok_or(JwtError::UnknownKey)?;
    let key = keys
        .iter()
        .find(|(k, _)| k == kid)
        .map(|(_, v)| v)
        .ok_or(JwtError::UnknownKey)?;
    let sig = Signature::from_slice(&decode(s)?).map_err(|_| JwtError::Malformed)?;
    key.verify(format!("{h}.{c}").as_bytes(), &sig)
        .map_err(|_| JwtError::Signature)?;
    let claims: UpstreamClaims =
        serde_json::from_slice(&decode(c)?).map_err(|_| JwtError::Malformed)?;
    if claims.iss != issuer {
        return Err(JwtError::Issuer);
    }
    if claims.aud != audience {
        return Err(JwtError::Audience);
    }
    if now_secs >= claims.exp || claims.exp - claims.iat > MAX_TTL_SECS {
        return Err(JwtError::Expired);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(now: i64) -> UpstreamClaims {
        UpstreamClaims {
            iss: "https://auth.example.com".into(),
            aud: "http://10.0.0.5:3000/mcp".into(),
            exp: now + 60,
            iat: now,
            jti: "j1".into(),
            sub: "u1".into(),
            tenant: "t1".into(),
            client_id: "c1".into(),
            scope: "read".into(),
            sid: "s1".into(),
            email: None,
            name: None,
            subject_type: None,
            credential_kind: None,
        }
    }

    #[test]
    fn a_signed_jwt_verifies_with_its_jwks_and_nothing_else() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let keys = keys_from_jwks(&jwks(&[key.verifying_key()]));
        let now = 1_800_000_000;
        let t = sign(&key, &claims(now));
        let iss = "https://auth.example.com";
        let aud = "http://10.0.0.5:3000/mcp";
        assert_eq!(verify(&t, &keys, iss, aud, now + 59).unwrap(), claims(now));
        assert_eq!(
            verify(&t, &keys, iss, "http://other/mcp", now),
            Err(JwtError::Audience)
        );
        assert_eq!(
            verify(&t, &keys, iss, aud, now + 60),
            Err(JwtError::Expired)
        );
        let other = SigningKey::from_bytes(&[8u8; 32]);
        let other_keys = keys_from_jwks(&jwks(&[other.verifying_key()]));
        assert_eq!(
            verify(&t, &other_keys, iss, aud, now),
            Err(JwtError::UnknownKey)
        );
        // A changed claim breaks the signature.
        let mut forged = claims(now);
        forged.sub = "admin".into();
        let body = URL_SAFE_NO_PAD.encode(json!(forged).to_string());
        let p: Vec<&str> = t.split('.').collect();
        let tampered = format!("{}.{body}.{}", p[0], p[2]);
        assert_eq!(
            verify(&tampered, &keys, iss, aud, now),
            Err(JwtError::Signature)
        );
        let mut long = claims(now);
        long.exp = now + 61;
        assert_eq!(
            verify(&sign(&key, &long), &keys, iss, aud, now),
            Err(JwtError::Expired)
        );
    }

    /// RFC 8037 Appendix A.3: the thumbprint of the example Ed25519 key.
    #[test]
    fn thumbprint_matches_rfc8037_appendix_a3() {
        let x = URL_SAFE_NO_PAD
            .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .unwrap();
        let key = VerifyingKey::from_bytes(&x.try_into().unwrap()).unwrap();
        assert_eq!(
            thumbprint(&key),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }
}
