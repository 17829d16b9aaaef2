//! Secrets at rest (DESIGN §6.2): high-entropy values are stored as SHA-256 hashes, IdP secrets
//! and private keys are sealed with AES-256-GCM under a master key that carries a key id, so a
//! key can be rotated while old ciphertexts still open.
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::{CoreError, CoreResult};

/// A new opaque secret: 256 random bits, base64url (43 characters).
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// 128 random bits as hex, for identifiers that are not secrets.
pub fn random_hex16() -> String {
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// SHA-256 hex of a high-entropy secret. Only ever used on values with >= 128 random bits,
/// where a fast hash is the right tool (no dictionary to attack).
pub fn sha256_hex(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// Constant-time comparison of two hashes.
pub fn hashes_equal(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// PKCE S256 (RFC 7636 §4.2): BASE64URL(SHA256(verifier)).
pub fn pkce_s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[derive(Clone)]
pub struct MasterKey {
    key_id: String,
    key: [u8; 32],
    /// Earlier keys, still accepted for opening and for verifying old audit checkpoints while
    /// secrets are re-sealed (key rotation).
    previous: Vec<(String, [u8; 32])>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({})", self.key_id)
    }
}

impl MasterKey {
    /// Parses `GATEHOUSE_MASTER_KEY`: 64 hex characters, optionally prefixed by `keyid:`.
    pub fn parse(text: &str) -> CoreResult<Self> {
        let text = text.trim();
        let (kid, hex_part) = match text.split_once(':') {
            Some((k, h)) => (k.to_string(), h),
            None => (String::new(), text),
        };
        let bytes = hex::decode(hex_part)
            .map_err(|_| CoreError::Config("master key must be 64 hex characters".into()))?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| {
            CoreError::Config("master key must be 32 bytes (64 hex characters)".into())
        })?;
        let key_id = if kid.is_empty() {
            // A key id derived from the key itself: stable across nodes, reveals nothing.
            hex::encode(&Sha256::digest([b"gatehouse-kid".as_slice(), &key].concat())[..4])
        } else {
            kid
        };
        Ok(MasterKey {
            key_id,
            key,
            previous: Vec::new(),
        })
    }

    /// Adds earlier keys (`GATEHOUSE_MASTER_KEY_PREVIOUS`, comma-separated, same format).
    pub fn with_previous(mut self, list: &str) -> CoreResult<Self> {
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let k = MasterKey::parse(item)?;
            if k.key_id != self.key_id {
                self.previous.push((k.key_id, k.key));
            }
        }
        Ok(self)
    }

    pub fn generate() -> String {
        let mut b = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut b);
        hex::encode(b)
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// `v1.<kid>.<nonce>.<ciphertext>`; the key id is bound as associated data.
    pub fn seal(&self, plaintext: &[u8]) -> CoreResult<String> {
        let cipher =
            Aes256Gcm::new_from_slice(&self.key).map_err(|e| CoreError::Crypto(e.to_string()))?;
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ct = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                aes_gcm::aead::Payload {
                    msg: plaintext,
                    aad: self.key_id.as_bytes(),
                },
            )
            .map_err(|_| CoreError::Crypto("encryption failed".into()))?;
        Ok(format!(
            "v1.{}.{}.{}",
            self.key_id,
            STANDARD_NO_PAD.encode(nonce),
            STANDARD_NO_PAD.encode(ct)
        ))
    }

    pub fn open(&self, sealed: &str) -> CoreResult<Vec<u8>> {
        let parts: Vec<&str> = sealed.split('.').collect();
        if parts.len() != 4 || parts[0] != "v1" {
            return Err(CoreError::Crypto("unknown ciphertext format".into()));
        }
        let key = if parts[1] == self.key_id {
            self.key
        } else if let Some((_, k)) = self.previous.iter().find(|(id, _)| id == parts[1]) {
            *k
        } else {
            return Err(CoreError::Crypto(format!(
                "secret was sealed with master key {}, which is neither the configured key {} nor a previous one",
                parts[1], self.key_id
            )));
        };
        let nonce = STANDARD_NO_PAD
            .decode(parts[2])
            .map_err(|_| CoreError::Crypto("bad nonce".into()))?;
        let ct = STANDARD_NO_PAD
            .decode(parts[3])
            .map_err(|_| CoreError::Crypto("bad ciphertext".into()))?;
        if nonce.len() != 12 {
            return Err(CoreError::Crypto("bad nonce".into()));
        }
        let cipher =
            Aes256Gcm::new_from_slice(&key).map_err(|e| CoreError::Crypto(e.to_string()))?;
        cipher
            .decrypt(
                Nonce::from_slice(&nonce),
                aes_gcm::aead::Payload {
                    msg: &ct,
                    aad: parts[1].as_bytes(),
                },
            )
            .map_err(|_| {
                CoreError::Crypto("secret does not open with the configured master key".into())
            })
    }

    /// The Ed25519 key that signs audit checkpoints, derived (HKDF-SHA256) from the master key so
    /// it lives outside the database like the master key itself (DESIGN §8).
    pub fn audit_signing_key(&self) -> ed25519_dalek::SigningKey {
        derive_signing_key(&self.key)
    }

    /// Verifying keys of the current and every previous master key: checkpoints signed before
    /// a rotation still verify.
    pub fn audit_verifying_keys(&self) -> Vec<ed25519_dalek::VerifyingKey> {
        std::iter::once(&self.key)
            .chain(self.previous.iter().map(|(_, k)| k))
            .map(|k| derive_signing_key(k).verifying_key())
            .collect()
    }

    /// The Ed25519 key that signs the gateway's upstream JWTs (issue 13: no token passthrough),
    /// derived like the audit key but under its own label, so neither key can stand in for the
    /// other. Every node with the same master key signs with the same key.
    pub fn upstream_jwt_signing_key(&self) -> ed25519_dalek::SigningKey {
        derive_labelled_key(&self.key, UPSTREAM_JWT_LABEL)
    }

    /// Verifying keys of the current and every previous master key, current first: the JWKS
    /// lists them all so a JWT signed just before a rotation still verifies.
    pub fn upstream_jwt_verifying_keys(&self) -> Vec<ed25519_dalek::VerifyingKey> {
        std::iter::once(&self.key)
            .chain(self.previous.iter().map(|(_, k)| k))
            .map(|k| derive_labelled_key(k, UPSTREAM_JWT_LABEL).verifying_key())
            .collect()
    }
}

const UPSTREAM_JWT_LABEL: &[u8] = b"gateway upstream jwt signing v1";

impl MasterKey {
    /// The key of the token endpoint's DPoP server nonces (RFC 9449 §8): every node with the
    /// same master key hands out and accepts the same nonces.
    pub fn dpop_nonce_key(&self) -> crate::dpop::NonceKey {
        crate::dpop::NonceKey::derive(&self.key)
    }
}

impl MasterKey {
    /// A MAC of `value` for `purpose` under the master key (HKDF-SHA256 expand used as a PRF),
    /// hex. Values the server mints for the browser (the binding cookie) carry one, so a value
    /// chosen by someone else is refused.
    pub fn mac(&self, purpose: &str, value: &str) -> String {
        mac_with(&self.key, purpose, value)
    }

    /// Does `mac` match `value` under the current or a previous master key?
    pub fn mac_ok(&self, purpose: &str, value: &str, mac: &str) -> bool {
        std::iter::once(&self.key)
            .chain(self.previous.iter().map(|(_, k)| k))
            .any(|k| hashes_equal(&mac_with(k, purpose, value), mac))
    }
}

fn mac_with(master: &[u8; 32], purpose: &str, value: &str) -> String {
    let hk = hkdf::Hkdf::<Sha256>::new(Some(b"gatehouse mac"), master);
    let mut out = [0u8; 32];
    let info = format!("{purpose}\n{value}");
    hk.expand(info.as_bytes(), &mut out)
        .expect("32 bytes is a valid HKDF length");
    hex::encode(out)
}

fn derive_signing_key(master: &[u8; 32]) -> ed25519_dalek::SigningKey {
    derive_labelled_key(master, b"audit checkpoint signing v1")
}

fn derive_labelled_key(master: &[u8; 32], label: &[u8]) -> ed25519_dalek::SigningKey {
    let hk = hkdf::Hkdf::<Sha256>::new(Some(b"gatehouse"), master);
    let mut seed = [0u8; 32];
    hk.expand(label, &mut seed)
        .expect("32 bytes is a valid HKDF length");
    ed25519_dalek::SigningKey::from_bytes(&seed)
}

/// Longest lifetime of an issued credential (SCIM token, admin API key).
pub const MAX_CREDENTIAL_TTL_SECS: i64 = 366 * 86_400;

/// The checks every issued credential (SCIM token, admin API key) shares: a lifetime between one
/// minute and 366 days, and a name of 1-100 characters. Returns the trimmed name.
pub fn check_credential<'a>(
    what: &str,
    name: &'a str,
    ttl_secs: i64,
) -> crate::error::CoreResult<&'a str> {
    if !(60..=MAX_CREDENTIAL_TTL_SECS).contains(&ttl_secs) {
        return Err(crate::error::CoreError::invalid(format!(
            "{what} lives between one minute and 366 days"
        )));
    }
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(crate::error::CoreError::invalid(format!(
            "{what} needs a name of 1-100 characters"
        )));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_roundtrip_and_wrong_key() {
        let k = MasterKey::parse(&MasterKey::generate()).unwrap();
        let sealed = k.seal(b"idp secret").unwrap();
        assert!(!sealed.contains("idp secret"));
        assert_eq!(k.open(&sealed).unwrap(), b"idp secret");
        let other = MasterKey::parse(&MasterKey::generate()).unwrap();
        assert!(other.open(&sealed).is_err());
    }

    #[test]
    fn pkce_matches_rfc7636_appendix_b() {
        assert_eq!(
            pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn previous_keys_still_open_old_secrets() {
        let old_hex = MasterKey::generate();
        let old = MasterKey::parse(&old_hex).unwrap();
        let sealed = old.seal(b"idp secret").unwrap();
        let new = MasterKey::parse(&MasterKey::generate()).unwrap();
        assert!(new.open(&sealed).is_err());
        let new = new.with_previous(&old_hex).unwrap();
        assert_eq!(new.open(&sealed).unwrap(), b"idp secret");
        assert_eq!(new.audit_verifying_keys().len(), 2);
        assert_eq!(new.upstream_jwt_verifying_keys().len(), 2);
    }

    #[test]
    fn the_upstream_jwt_key_is_not_the_audit_key() {
        let k = MasterKey::parse(&MasterKey::generate()).unwrap();
        assert_ne!(
            k.upstream_jwt_signing_key().verifying_key(),
            k.audit_signing_key().verifying_key()
        );
        assert_eq!(
            k.upstream_jwt_verifying_keys()[0],
            k.upstream_jwt_signing_key().verifying_key()
        );
    }

    #[test]
    fn master_key_rejects_short_keys() {
        assert!(MasterKey::parse("abcd").is_err());
    }
}
