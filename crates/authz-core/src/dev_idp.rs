//! The development identity provider (ADR 0017): a connection kind whose users come from a TOML
//! file the operator gives, so a sign-in can be tried on one machine without a real IdP. It is
//! refused unless the issuer is a loopback `http` URL, when it is added and at every sign-in:
//! the passwords are the operator's own test passwords, and nobody else can reach a loopback
//! issuer.
//!
//! The users are stored sealed with the master key, like an OIDC client secret, and every
//! password is stored as an Argon2id hash (RFC 9106) whatever the file held; a bcrypt hash in the
//! file is kept as it is (it cannot be turned into another hash) and checked as bcrypt.
use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::{Deserialize, Serialize};

use crate::error::{CoreError, CoreResult};

/// The connection kind stored in `connections.kind`.
pub const KIND: &str = "dev";
/// The preset stored for it: what every list shows beside the kind.
pub const PRESET: &str = "development";
/// The most users one file may hold (a development fixture, not a directory).
pub const MAX_USERS: usize = 1000;

/// Is `issuer` a loopback `http` URL (`127.0.0.0/8`, `::1` or `localhost`)? Only then may the
/// development IdP be added or used.
pub fn loopback_issuer(issuer: &str) -> bool {
    let Ok(u) = url::Url::parse(issuer) else {
        return false;
    };
    if u.scheme() != "http" {
        return false;
    }
    match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// One user of the file as the operator writes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileUser {
    email: String,
    name: Option<String>,
    /// Plain text (development only), or an Argon2 (`$argon2…`) or bcrypt (`$2b$…`) hash.
    password: String,
    #[serde(default)]
    groups: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersFile {
    #[serde(default)]
    users: Vec<FileUser>,
}

/// A stored user: the password only as a hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DevUser {
    /// Lowercase; also the user's subject at this connection.
    pub email: String,
    pub name: Option<String>,
    pub groups: Vec<String>,
    pub password_hash: String,
}

/// The users of a development connection, as sealed in its secret column.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DevUsers {
    pub users: Vec<DevUser>,
}

fn argon2() -> Argon2<'static> {
    Argon2::default()
}

fn hash(password: &str) -> CoreResult<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CoreError::Crypto(format!("cannot hash a password: {e}")))
}

fn is_bcrypt(s: &str) -> bool {
    ["$2a$", "$2b$", "$2x$", "$2y$"]
        .iter()
        .any(|p| s.starts_with(p))
}

impl DevUsers {
    /// Parses the operator's TOML file (`[[users]]` tables with `email`, `name`, `password`,
    /// `groups`) and hashes every plain password. Refuses a file with no user, a duplicate or
    /// malformed email, an empty password or a hash that does not parse.
    pub fn from_toml(text: &str) -> CoreResult<Self> {
        let file: UsersFile = toml::from_str(text)
            .map_err(|e| CoreError::invalid(format!("the users file is not valid: {e}")))?;
        if file.users.is_empty() {
            return Err(CoreError::invalid(
                "the users file has no [[users]] entry (each with email, name, password, groups)",
            ));
        }
        if file.users.len() > MAX_USERS {
            return Err(CoreError::invalid(format!(
                "the users file has more than {MAX_USERS} users"
            )));
        }
        let mut users: Vec<DevUser> = Vec::with_capacity(file.users.len());
        for u in file.users {
            let email = u.email.trim().to_ascii_lowercase();
            let valid = email.len() <= 254
                && matches!(email.split_once('@'), Some((l, d)) if !l.is_empty() && d.contains('.'));
            if !valid {
                return Err(CoreError::invalid(format!(
                    "'{email}' is not an email address"
                )));
            }
            if users.iter().any(|x| x.email == email) {
                return Err(CoreError::invalid(format!(
                    "{email} appears twice in the users file"
                )));
            }
            if u.password.is_empty() {
                return Err(CoreError::invalid(format!("{email} has an empty password")));
            }
            let password_hash = if u.password.starts_with("$argon2") {
                let complete = PasswordHash::new(&u.password)
                    .map(|h| h.salt.is_some() && h.hash.is_some())
                    .unwrap_or(false);
                if !complete {
                    return Err(CoreError::invalid(format!(
                        "{email}: the argon2 hash does not parse"
                    )));
                }
                u.password
            } else if is_bcrypt(&u.password) {
                u.password.parse::<bcrypt::HashParts>().map_err(|_| {
                    CoreError::invalid(format!("{email}: the bcrypt hash does not parse"))
                })?;
                u.password
            } else {
                hash(&u.password)?
            };
            users.push(DevUser {
                email,
                name: u.name.filter(|n| !n.trim().is_empty()),
                groups: u.groups,
                password_hash,
            });
        }
        Ok(DevUsers { users })
    }

    /// The user `email` if `password` is theirs. An unknown email costs the same hash check
    /// as a known one and gives the same answer as a wrong password, so the form tells nobody
    /// which emails exist. Hash comparisons are constant-time (argon2 and bcrypt compare their
    /// outputs so).
    pub fn check(&self, email: &str, password: &str) -> Option<&DevUser> {
        let email = email.trim().to_ascii_lowercase();
        let found = self.users.iter().find(|u| u.email == email);
        let stored = found
            .map(|u| u.password_hash.as_str())
            .unwrap_or_else(|| dummy_hash());
        let ok = verify(stored, password);
        found.filter(|_| ok)
    }
}

/// Checks `password` against a stored Argon2 or bcrypt hash.
fn verify(stored: &str, password: &str) -> bool {
    if is_bcrypt(stored) {
        return bcrypt::verify(password, stored).unwrap_or(false);
    }
    match PasswordHash::new(stored) {
        Ok(h) => argon2().verify_password(password.as_bytes(), &h).is_ok(),
        Err(_) => false,
    }
}

/// The hash checked for an unknown email: same algorithm and cost as a stored one.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash("no such user").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_issuers_only() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.0.0.2",
            "http://localhost:3000",
            "http://[::1]:8080",
        ] {
            assert!(loopback_issuer(ok), "{ok}");
        }
        for no in [
            "https://127.0.0.1:8080",
            "http://10.0.0.1",
            "http://gatehouse.example.com",
            "https://localhost",
            "http://localhost.example.com",
            "not a url",
        ] {
            assert!(!loopback_issuer(no), "{no}");
        }
    }

    const FILE: &str = r#"
[[users]]
email = "Alice@Example.com"
name = "Alice"
password = "alice-pw"
groups = ["engineering", "crm-admins"]
"#;

    #[test]
    fn plain_passwords_are_stored_hashed_and_checked() {
        let u = DevUsers::from_toml(FILE).unwrap();
        let alice = &u.users[0];
        assert_eq!(alice.email, "alice@example.com");
        assert!(alice.password_hash.starts_with("$argon2id$"));
        assert!(!serde_json::to_string(&u).unwrap().contains("alice-pw"));
        assert_eq!(
            u.check("ALICE@example.com", "alice-pw").map(|x| &x.groups),
            Some(&vec!["engineering".to_string(), "crm-admins".to_string()])
        );
        assert!(u.check("alice@example.com", "wrong").is_none());
        assert!(u.check("nobody@example.com", "alice-pw").is_none());
    }

    #[test]
    fn bcrypt_hashes_are_kept_and_checked() {
        let h = bcrypt::hash("bob-pw", 4).unwrap();
        let text = format!("[[users]]\nemail = \"bob@example.com\"\npassword = \"{h}\"\n");
        let u = DevUsers::from_toml(&text).unwrap();
        assert_eq!(u.users[0].password_hash, h);
        assert!(u.check("bob@example.com", "bob-pw").is_some());
        assert!(u.check("bob@example.com", "nope").is_none());
    }

    #[test]
    fn bad_files_are_refused() {
        for bad in [
            "",
            "[[users]]\nemail = \"a@example.com\"\n",
            "[[users]]\nemail = \"nope\"\npassword = \"x\"\n",
            "[[users]]\nemail = \"a@example.com\"\npassword = \"\"\n",
            "[[users]]\nemail = \"a@example.com\"\npassword = \"x\"\nrole = \"admin\"\n",
            "[[users]]\nemail = \"a@example.com\"\npassword = \"x\"\n[[users]]\nemail = \"A@example.com\"\npassword = \"y\"\n",
            "[[users]]\nemail = \"a@example.com\"\npassword = \"$argon2id$garbage\"\n",
        ] {
            assert!(DevUsers::from_toml(bad).is_err(), "{bad}");
        }
    }
}
