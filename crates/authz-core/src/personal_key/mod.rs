//! Personal API keys for IDE clients (issue 14 §1, ADR 0013). A key IS a grant family of kind
//! [`CredentialKind::ApiKey`](crate::token::CredentialKind) with one `access` token row whose
//! hash is the key's SHA-256 and whose expiry is the key's: the gateway and introspection accept
//! it with no new lookup, and every revocation path that works on families (SCIM deactivation,
//! "revoke all", org-grant removal, tenant suspension, turning keys off) kills it. The
//! `personal_api_keys` row holds what a family cannot: the person's name for the key, the IDE,
//! the prefix shown in lists, the last use. Status comes from the family, never from this row.
//!
//! Format: `gatehouse_pat_` + 43 base62 characters (256 random bits) + 6 base62 characters of
//! the CRC32 of the random part, as GitHub's tokens carry one: a secret scanner can match
//! `gatehouse_pat_[0-9A-Za-z]{49}` and verify the checksum offline, without a false positive
//! reaching us.
mod create;
mod list;
mod revoke;
mod usage;

pub use create::{create, CreatedKey, NewKey};
pub use list::{get, list_for_tenant, list_for_user, PersonalKey, Status};
pub use revoke::{rename_in, revoke, revoke_all_in_tenant, revoke_in};
pub use usage::{record_expired, touch, USED_EVERY_SECS};

use rand::Rng;

/// What every key starts with: secret scanners (GitHub push protection, gitleaks) match it.
pub const PREFIX: &str = "gatehouse_pat_";
/// The regular expression of a key, as documented for secret scanners.
pub const PATTERN: &str = "gatehouse_pat_[0-9A-Za-z]{49}";
/// The IDE a key is made for: it names the family's `client_id` (`api-key:<label>`) and picks
/// the configuration snippet.
pub const CLIENT_LABELS: [&str; 4] = ["cursor", "vscode", "claude-code", "other"];

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// 43 base62 characters carry 256.0 bits (62^43 > 2^256).
const RANDOM_CHARS: usize = 43;
const CHECK_CHARS: usize = 6;

/// The `client_id` of a key's family and token: `api-key:<client label>`, so audit records and
/// introspection answers name the IDE and can never be mistaken for a registered client's id
/// (registered ids are UUIDs or https URLs).
pub fn client_id_for(label: &str) -> String {
    format!("api-key:{label}")
}

/// A new key: 43 uniformly drawn base62 characters (rejection sampling, no modulo bias) and
/// their checksum.
pub fn generate() -> String {
    let mut rng = rand::thread_rng();
    let mut body = String::with_capacity(RANDOM_CHARS);
    while body.len() < RANDOM_CHARS {
        let b: u8 = rng.gen();
        // 248 = 4 × 62: bytes above it would favour the first characters.
        if b < 248 {
            body.push(BASE62[(b % 62) as usize] as char);
        }
    }
    let check = checksum(&body);
    format!("{PREFIX}{body}{check}")
}

/// Whether `s` has the shape and the checksum of a key (a cheap refusal of typos; the store
/// decides whether it is one).
pub fn well_formed(s: &str) -> bool {
    let Some(rest) = s.strip_prefix(PREFIX) else {
        return false;
    };
    if rest.len() != RANDOM_CHARS + CHECK_CHARS || !rest.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return false;
    }
    let (body, check) = rest.split_at(RANDOM_CHARS);
    checksum(body) == check
}

/// What lists show of a key: the prefix and the first six random characters.
pub fn display_prefix(key: &str) -> String {
    key.chars().take(PREFIX.len() + 6).collect()
}

/// The CRC32 (IEEE) of `body`, as six base62 characters (62^6 > 2^32).
fn checksum(body: &str) -> String {
    let mut n = crc32(body.as_bytes()) as u64;
    let mut out = [b'0'; CHECK_CHARS];
    for c in out.iter_mut().rev() {
        *c = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// CRC-32/ISO-HDLC (the zlib and GitHub-token one), bitwise: six characters of a checksum on a
/// key of 43 do not need a table.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_is_the_standard_one() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn keys_have_the_documented_shape_and_a_checksum() {
        let k = generate();
        assert_eq!(k.len(), PREFIX.len() + 49);
        assert!(well_formed(&k), "{k}");
        // The documented pattern, by hand (no regex crate in the core).
        let rest = k.strip_prefix("gatehouse_pat_").unwrap();
        assert!(rest.len() == 49 && rest.bytes().all(|b| b.is_ascii_alphanumeric()));
        // One changed character breaks the checksum.
        let mut bad: Vec<char> = k.chars().collect();
        let i = PREFIX.len() + 5;
        bad[i] = if bad[i] == 'a' { 'b' } else { 'a' };
        assert!(!well_formed(&bad.into_iter().collect::<String>()));
        assert!(!well_formed("gatehouse_pat_short"));
        assert_ne!(generate(), k);
        assert_eq!(display_prefix(&k).len(), PREFIX.len() + 6);
    }
}
