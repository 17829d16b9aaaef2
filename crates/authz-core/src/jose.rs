//! Verifying JWS compact serialisations (RFC 7515 §7.1) signed with a public JWK (RFC 7517),
//! for every credential that arrives as a signed JWT: ID-JAG assertions (RFC 7523 §3),
//! `private_key_jwt` client assertions (RFC 7523 §2.2) and DPoP proofs (RFC 9449 §4.3). One
//! verifier, so the algorithm rules hold everywhere: asymmetric algorithms only (`none` and the
//! HMAC family are refused: a public key must never verify a MAC, RFC 8725 §3.1-3.2), and the
//! key's `alg`, when it states one, must be the header's.
//!
//! The signature check itself is openidconnect's (`CoreJsonWebKey::verify_signature`: RSA
//! PKCS#1 v1.5 and PSS, ECDSA P-256/P-384/P-521, Ed25519), the library that already verifies
//! ID tokens for the OIDC connections.
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openidconnect::core::{CoreJsonWebKey, CoreJwsSigningAlgorithm};
use openidconnect::JsonWebKey;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Why a JWS was refused. The messages say what is wrong, never the token itself.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JoseError {
    #[error("not a JWS compact serialisation (three base64url parts)")]
    Malformed,
    #[error("the JOSE header is not a JSON object")]
    Header,
    #[error("the claims are not a JSON object")]
    Claims,
    #[error("signature algorithm '{0}' is not accepted (asymmetric algorithms only)")]
    Algorithm(String),
    #[error("no usable key: {0}")]
    Key(String),
    #[error("the signature does not verify")]
    Signature,
}

/// The asymmetric JWS algorithms accepted (RFC 7518 §3.1 names). Metadata lists these as
/// `*_signing_alg_values_supported`.
pub const SIGNING_ALGS: [&str; 10] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
];

/// A parsed, not yet verified, JWS.
#[derive(Debug, Clone)]
pub struct Jws {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    signing_input: String,
    signature: Vec<u8>,
}

impl Jws {
    /// Splits and decodes `compact` (RFC 7515 §5.2). Nothing is trusted yet.
    pub fn parse(compact: &str) -> Result<Jws, JoseError> {
        let mut parts = compact.trim().split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JoseError::Malformed);
        };
        let decode = |p: &str| URL_SAFE_NO_PAD.decode(p).map_err(|_| JoseError::Malformed);
        let header = match serde_json::from_slice::<Value>(&decode(h)?) {
            Ok(Value::Object(m)) => m,
            _ => return Err(JoseError::Header),
        };
        let claims = match serde_json::from_slice::<Value>(&decode(c)?) {
            Ok(Value::Object(m)) => m,
            _ => return Err(JoseError::Claims),
        };
        Ok(Jws {
            header,
            claims,
            signing_input: format!("{h}.{c}"),
            signature: decode(s)?,
        })
    }

    /// A header member as a string (`typ`, `alg`, `kid`).
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(Value::as_str)
    }

    /// A claim as a string.
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// A claim as an integer (NumericDate, RFC 7519 §2).
    pub fn claim_i64(&self, name: &str) -> Option<i64> {
        self.claims.get(name).and_then(Value::as_i64)
    }

    /// The header's `alg`, if it is one of [`SIGNING_ALGS`].
    pub fn alg(&self) -> Result<&str, JoseError> {
        let alg = self.header_str("alg").unwrap_or("");
        if SIGNING_ALGS.contains(&alg) {
            Ok(alg)
        } else {
            Err(JoseError::Algorithm(alg.chars().take(20).collect()))
        }
    }

    /// Verifies the signature with one public JWK (a JSON object, RFC 7517 §4).
    pub fn verify_with(&self, jwk: &Value) -> Result<(), JoseError> {
        let alg = self.alg()?;
        if let Some(key_alg) = jwk.get("alg").and_then(Value::as_str) {
            if key_alg != alg {
                return Err(JoseError::Key(format!(
                    "the key is for '{key_alg}', the JWS is signed with '{alg}'"
                )));
            }
        }
        if jwk.get("d").is_some() || jwk.get("k").is_some() {
            return Err(JoseError::Key(
                "a private or symmetric key was given".into(),
            ));
        }
        let key: CoreJsonWebKey = serde_json::from_value(jwk.clone())
            .map_err(|_| JoseError::Key("the JWK cannot be read".into()))?;
        let alg: CoreJwsSigningAlgorithm = serde_json::from_value(Value::String(alg.into()))
            .map_err(|_| JoseError::Algorithm(alg.into()))?;
        key.verify_signature(&alg, self.signing_input.as_bytes(), &self.signature)
            .map_err(|_| JoseError::Signature)
    }

    /// Verifies against a JWK Set (RFC 7517 §5): the key named by the header's `kid`, or,
    /// without a `kid`, the only signing key of the set whose type fits the algorithm.
    pub fn verify_with_set(&self, jwks: &Value) -> Result<(), JoseError> {
        let alg = self.alg()?;
        let keys = jwks
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| JoseError::Key("the JWK Set has no keys".into()))?;
        let fits = |k: &&Value| {
            let use_ok = k
                .get("use")
                .and_then(Value::as_str)
                .is_none_or(|u| u == "sig");
            let kty = k.get("kty").and_then(Value::as_str).unwrap_or("");
            let kty_ok = match &alg[..2] {
                "RS" | "PS" => kty == "RSA",
                "ES" => kty == "EC",
                _ => kty == "OKP",
            };
            use_ok && kty_ok
        };
        let candidates: Vec<&Value> = match self.header_str("kid") {
            Some(kid) => keys
                .iter()
                .filter(|k| k.get("kid").and_then(Value::as_str) == Some(kid))
                .collect(),
            None => keys.iter().filter(fits).collect(),
        };
        match candidates.as_slice() {
            [k] => self.verify_with(k),
            [] => Err(JoseError::Key("no key in the set matches".into())),
            _ => Err(JoseError::Key(
                "several keys match and the JWS names none".into(),
            )),
        }
    }
}

/// RFC 7638 §3 JWK SHA-256 thumbprint, base64url: the required members in lexicographic
/// order, no whitespace. The key binding of DPoP (`jkt`, RFC 9449 §6.1).
pub fn thumbprint(jwk: &Value) -> Result<String, JoseError> {
    let s = |name: &str| {
        jwk.get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| JoseError::Key(format!("the JWK lacks '{name}'")))
    };
    // serde_json writes strings with the escaping RFC 7638 §3.3 expects of these members.
    let q = |v: &str| Value::String(v.to_string()).to_string();
    let canonical = match s("kty")? {
        "RSA" => format!(r#"{{"e":{},"kty":"RSA","n":{}}}"#, q(s("e")?), q(s("n")?)),
        "EC" => format!(
            r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#,
            q(s("crv")?),
            q(s("x")?),
            q(s("y")?)
        ),
        "OKP" => format!(
            r#"{{"crv":{},"kty":"OKP","x":{}}}"#,
            q(s("crv")?),
            q(s("x")?)
        ),
        other => {
            return Err(JoseError::Key(format!(
                "key type '{other}' is not supported"
            )))
        }
    };
    Ok(URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn ed_key() -> (SigningKey, Value) {
        let sk = SigningKey::from_bytes(&[7u8; 32]);
        let x = URL_SAFE_NO_PAD.encode(sk.verifying_key().as_bytes());
        (
            sk,
            serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "k1"}),
        )
    }

    fn sign(sk: &SigningKey, header: Value, claims: Value) -> String {
        let h = URL_SAFE_NO_PAD.encode(header.to_string());
        let c = URL_SAFE_NO_PAD.encode(claims.to_string());
        let sig = sk.sign(format!("{h}.{c}").as_bytes());
        format!("{h}.{c}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
    }

    #[test]
    fn verifies_eddsa_with_the_key_and_with_the_set() {
        let (sk, jwk) = ed_key();
        let t = sign(
            &sk,
            serde_json::json!({"alg": "EdDSA", "kid": "k1"}),
            serde_json::json!({"sub": "a"}),
        );
        let jws = Jws::parse(&t).unwrap();
        assert_eq!(jws.claim_str("sub"), Some("a"));
        jws.verify_with(&jwk).unwrap();
        jws.verify_with_set(&serde_json::json!({"keys": [jwk]}))
            .unwrap();
    }

    #[test]
    fn refuses_a_tampered_payload_none_and_hmac() {
        let (sk, jwk) = ed_key();
        let t = sign(
            &sk,
            serde_json::json!({"alg": "EdDSA"}),
            serde_json::json!({"sub": "a"}),
        );
        let mut parts: Vec<&str> = t.split('.').collect();
        let other = URL_SAFE_NO_PAD.encode(r#"{"sub":"b"}"#);
        parts[1] = &other;
        let forged = parts.join(".");
        assert_eq!(
            Jws::parse(&forged).unwrap().verify_with(&jwk),
            Err(JoseError::Signature)
        );
        for alg in ["none", "HS256"] {
            let t = sign(&sk, serde_json::json!({"alg": alg}), serde_json::json!({}));
            assert!(matches!(
                Jws::parse(&t).unwrap().verify_with(&jwk),
                Err(JoseError::Algorithm(_))
            ));
        }
        assert_eq!(Jws::parse("a.b").unwrap_err(), JoseError::Malformed);
    }

    #[test]
    fn rfc7638_thumbprint_example() {
        // RFC 7638 §3.1's RSA key and its thumbprint.
        let jwk = serde_json::json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        assert_eq!(
            thumbprint(&jwk).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
