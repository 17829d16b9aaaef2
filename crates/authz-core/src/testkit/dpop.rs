//! A DPoP client for tests (RFC 9449 §4.2): an Ed25519 key that signs proofs, with every
//! member settable so tests can break each rule of §4.3 on purpose.
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};

/// A client's DPoP key.
pub struct DpopKey {
    sk: SigningKey,
}

/// The claims of one proof; [`DpopKey::claims`] fills the usual ones.
pub struct ProofSpec {
    pub header: Value,
    pub claims: Value,
}

impl DpopKey {
    /// A key from a seed byte (different seeds, different keys and thumbprints).
    pub fn new(seed: u8) -> DpopKey {
        DpopKey {
            sk: SigningKey::from_bytes(&[seed; 32]),
        }
    }

    /// The public JWK (RFC 8037 §2).
    pub fn jwk(&self) -> Value {
        json!({"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(self.sk.verifying_key().as_bytes())})
    }

    /// The key's thumbprint (`cnf.jkt`).
    pub fn jkt(&self) -> String {
        crate::jose::thumbprint(&self.jwk()).expect("an Ed25519 JWK has a thumbprint")
    }

    /// The header and claims of a proof for `htm` `htu` at `iat` (seconds), with a fresh `jti`,
    /// `nonce` and `ath` (the hash of `token`) when given.
    pub fn claims(
        &self,
        htm: &str,
        htu: &str,
        iat: i64,
        nonce: Option<&str>,
        token: Option<&str>,
    ) -> ProofSpec {
        let mut claims = json!({
            "jti": crate::crypto::random_hex16(),
            "htm": htm,
            "htu": htu,
            "iat": iat,
        });
        if let Some(n) = nonce {
            claims["nonce"] = json!(n);
        }
        if let Some(t) = token {
            claims["ath"] = json!(crate::dpop::ath(t));
        }
        ProofSpec {
            header: json!({"typ": "dpop+jwt", "alg": "EdDSA", "jwk": self.jwk()}),
            claims,
        }
    }

    /// Signs `spec` as a compact JWS.
    pub fn sign(&self, spec: &ProofSpec) -> String {
        let h = URL_SAFE_NO_PAD.encode(spec.header.to_string());
        let c = URL_SAFE_NO_PAD.encode(spec.claims.to_string());
        let sig = self.sk.sign(format!("{h}.{c}").as_bytes());
        format!("{h}.{c}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
    }

    /// A valid proof, signed.
    pub fn proof(
        &self,
        htm: &str,
        htu: &str,
        iat: i64,
        nonce: Option<&str>,
        token: Option<&str>,
    ) -> String {
        self.sign(&self.claims(htm, htu, iat, nonce, token))
    }
}
