//! Errors sent back to the client once its redirect URI is validated: a 303 to that URI with
//! `error`, `state` and `iss` (RFC 6749 §4.1.2.1, RFC 9207). Before validation, errors are
//! pages (RFC 9700 §4.11).
use actix_web::http::header;
use actix_web::HttpResponse;
use url::Url;

/// A 303 to the client's (validated) redirect URI with `error`, `state` and `iss`.
pub fn redirect_error(
    issuer: &str,
    redirect_uri: &str,
    state: Option<&str>,
    code: &str,
    description: &str,
) -> HttpResponse {
    let mut u = match Url::parse(redirect_uri) {
        Ok(u) => u,
        Err(_) => return HttpResponse::BadRequest().finish(),
    };
    {
        let mut q = u.query_pairs_mut();
        q.append_pair("error", code);
        q.append_pair("error_description", description);
        if let Some(s) = state {
            q.append_pair("state", s);
        }
        q.append_pair("iss", issuer);
    }
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, u.to_string()))
        .finish()
}
