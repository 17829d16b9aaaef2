//! Attribute mapping presets: which attribute holds the stable key, the email, the name and the
//! groups, for Entra ID, Okta and Google Workspace. Email is never the key.
use crate::error::SamlError;
use crate::validate::ValidatedAssertion;

pub const PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
const ENTRA_OID: &str = "http://schemas.microsoft.com/identity/claims/objectidentifier";
const ENTRA_TID: &str = "http://schemas.microsoft.com/identity/claims/tenantid";
const XMLSOAP_EMAIL: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress";
const XMLSOAP_NAME: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name";
const ENTRA_DISPLAY: &str = "http://schemas.microsoft.com/identity/claims/displayname";
const ENTRA_GROUPS: &str = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups";

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mapping {
    pub preset: String,
    /// Attribute holding the immutable user key; `None`: a persistent NameID.
    pub key_attribute: Option<String>,
    /// Custom attribute names, overriding the preset's (a "custom mapping").
    #[serde(default)]
    pub email_attribute: Option<String>,
    #[serde(default)]
    pub name_attribute: Option<String>,
    #[serde(default)]
    pub groups_attribute: Option<String>,
}

impl Mapping {
    pub fn for_preset(preset: &str, key_attribute: Option<String>) -> Result<Mapping, String> {
        if let Some(k) = &key_attribute {
            let lower = k.to_ascii_lowercase();
            if [XMLSOAP_EMAIL, "email", "mail", "emailaddress", "upn"]
                .iter()
                .any(|e| lower == e.to_ascii_lowercase())
                || lower.ends_with("/emailaddress")
                || lower.ends_with("/upn")
            {
                return Err(format!("'{k}' holds an email address, which can change hands: it cannot be the user key"));
            }
        }
        let key_attribute = match (preset, key_attribute) {
            (_, Some(k)) => Some(k),
            ("entra", None) => Some(ENTRA_OID.to_string()),
            ("google", None) => {
                return Err("Google Workspace sends the primary email as NameID, and an email can change hands: map an immutable \
                    attribute such as Employee ID in the Google SAML app and name it with --key-attribute"
                    .into())
            }
            ("okta" | "generic", None) => None,
            (other, _) => {
                return Err(format!(
                    "unknown preset '{other}' (use entra, okta, google or generic)"
                ))
            }
        };
        Ok(Mapping {
            preset: preset.to_string(),
            key_attribute,
            email_attribute: None,
            name_attribute: None,
            groups_attribute: None,
        })
    }
}

pub struct Mapped {
    pub subject: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub groups: Vec<String>,
}

fn first<'a>(a: &'a ValidatedAssertion, names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|n| a.attribute(n))
}

pub fn map(m: &Mapping, a: &ValidatedAssertion) -> Result<Mapped, SamlError> {
    let subject = match &m.key_attribute {
        Some(attr) => {
            let v = a
                .attribute(attr)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| SamlError::NoSubject(attr.clone()))?;
            // Entra object ids are unique within a directory: qualify by the tenant id.
            match (m.preset.as_str(), a.attribute(ENTRA_TID)) {
                ("entra", Some(tid)) if attr == ENTRA_OID => {
                    format!("{}:{}", tid.to_ascii_lowercase(), v.to_ascii_lowercase())
                }
                _ => v.to_string(),
            }
        }
        None => match (&a.name_id, a.name_id_format.as_deref()) {
            (Some(id), Some(PERSISTENT)) if !id.is_empty() => id.clone(),
            // Okta's default NameID is the Okta user id with format "unspecified".
            (Some(id), Some("urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"))
                if m.preset == "okta" && !id.contains('@') =>
            {
                id.clone()
            }
            _ => return Err(SamlError::NoSubject("persistent NameID".into())),
        },
    };
    let custom = |o: &Option<String>| {
        o.as_deref()
            .and_then(|n| a.attribute(n))
            .map(str::to_string)
    };
    let email = custom(&m.email_attribute)
        .or_else(|| first(a, &[XMLSOAP_EMAIL, "email", "Email", "mail"]).map(str::to_string))
        .or_else(|| {
            a.name_id.clone().filter(|_| {
                a.name_id_format.as_deref()
                    == Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress")
            })
        });
    let name = custom(&m.name_attribute)
        .or_else(|| {
            first(a, &[ENTRA_DISPLAY, XMLSOAP_NAME, "displayName", "name"]).map(str::to_string)
        })
        .or_else(|| {
            match (
                first(a, &["firstName", "givenName"]),
                first(a, &["lastName", "surname"]),
            ) {
                (Some(f), Some(l)) => Some(format!("{f} {l}")),
                _ => None,
            }
        });
    let groups = a
        .attributes
        .iter()
        .filter(|(n, _)| match &m.groups_attribute {
            Some(g) => n == g,
            None => n == ENTRA_GROUPS || n == "groups",
        })
        .flat_map(|(_, v)| v.clone())
        .collect();
    Ok(Mapped {
        subject,
        email,
        name,
        groups,
    })
}
