//! A submitted console form (`application/x-www-form-urlencoded`), read with the console's own
//! size limit (SAML metadata is pasted into a form).
use actix_web::dev::Payload;
use futures::StreamExt;

use super::ConsoleError;

/// Largest console form: room for pasted SAML metadata.
pub const MAX_FORM: usize = 1024 * 1024;

#[derive(Debug, Default, Clone)]
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn parse(body: &[u8]) -> Result<Form, ConsoleError> {
        let pairs = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
            .map_err(|_| ConsoleError::bad_request("The form could not be read."))?;
        if pairs
            .iter()
            .any(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            return Err(ConsoleError::bad_request(
                "The form contains a NUL character, which no field accepts.",
            ));
        }
        Ok(Form(pairs))
    }

    pub async fn read(payload: &mut Payload) -> Result<Form, ConsoleError> {
        let mut body = Vec::new();
        while let Some(chunk) = payload.next().await {
            let chunk =
                chunk.map_err(|_| ConsoleError::bad_request("The form did not arrive whole."))?;
            if body.len() + chunk.len() > MAX_FORM {
                return Err(ConsoleError::page(
                    actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
                    "Nothing was changed",
                    "The form is larger than 1 MiB.",
                    "If you pasted metadata, check it is the right document.",
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Self::parse(&body)
    }

    /// The first value of `name`, trimmed; None when absent or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// A required value, or a 400 page naming the field.
    pub fn require(&self, name: &str, label: &str) -> Result<&str, ConsoleError> {
        self.get(name)
            .ok_or_else(|| ConsoleError::bad_request(format!("{label} is required.")))
    }

    /// Every value of `name` (checkbox lists, multi-selects).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
            .collect()
    }

    pub fn checked(&self, name: &str) -> bool {
        matches!(self.get(name), Some("on" | "1" | "true" | "yes"))
    }

    /// An integer field within bounds, if given.
    pub fn int(&self, name: &str, label: &str) -> Result<Option<i64>, ConsoleError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .parse::<i64>()
                .map(Some)
                .map_err(|_| ConsoleError::bad_request(format!("{label} must be a whole number."))),
        }
    }
}
