//! NUL characters (U+0000) in request values: PostgreSQL text cannot hold them, so a value
//! carrying one would reach a query and fail there as a 500 instead of a client error. Paths
//! are refused before routing by the app's edge (`gatehouse::edge::RejectNul`); query and form
//! values are checked by [`crate::params::Params`], JSON bodies by [`NulFreeJson`].
use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::web::Json;
use actix_web::{Error, FromRequest, HttpRequest};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::OAuthError;

/// The `error_description` of a request refused for carrying U+0000.
pub const NUL_REFUSED: &str =
    "the request contains a NUL character (U+0000), which no parameter accepts";

/// Does any string in `v` (object keys included, at any depth) contain U+0000?
pub fn json_has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(a) => a.iter().any(json_has_nul),
        Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || json_has_nul(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// A JSON body (under the app's `JsonConfig` limits) with no NUL in any string, deserialised
/// into `T`. A NUL is a 400 `invalid_request`; a body that does not fit `T` is answered like a
/// malformed body (`invalid_client_metadata` at the registration endpoint, RFC 7591 §3.2.2).
pub struct NulFreeJson<T>(pub T);

impl<T> NulFreeJson<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for NulFreeJson<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for NulFreeJson<T> {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = Json::<Value>::from_request(req, payload);
        let registration = req.path().starts_with("/oauth/register");
        Box::pin(async move {
            let v = json.await?.into_inner();
            if json_has_nul(&v) {
                return Err(OAuthError::request(NUL_REFUSED).into());
            }
            serde_json::from_value(v).map(NulFreeJson).map_err(|e| {
                let code = if registration {
                    "invalid_client_metadata"
                } else {
                    "invalid_request"
                };
                OAuthError::new(
                    code,
                    format!("the request body is not acceptable JSON: {e}"),
                )
                .into()
            })
        })
    }
}

#[cfg(test)]
mod json_tests {
    use serde_json::json;

    #[test]
    fn a_nul_anywhere_in_a_json_body_is_found() {
        assert!(!super::json_has_nul(
            &json!({"a": ["b", {"c": 1, "d": null}]})
        ));
        assert!(super::json_has_nul(&json!({"a": ["b", {"c": "x\u{0}"}]})));
        assert!(super::json_has_nul(&json!({"a\u{0}": 1})));
        assert!(super::json_has_nul(&json!(["\u{0}"])));
    }
}
