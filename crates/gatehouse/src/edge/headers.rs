//! Security headers on every response of the app (issuer pages, the console, SCIM and the
//! admin API alike).
use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;

/// Security headers on every response: no framing, a strict CSP, no sniffing, no referrer; and
/// on an https issuer, HSTS (RFC 6797) so that a browser never reaches the issuer over http,
/// where its cookies and sign-in could be tampered with.
#[allow(non_snake_case)]
pub fn SecurityHeaders(https: bool) -> DefaultHeaders {
    let h = DefaultHeaders::new();
    let h = if https {
        h.add((header::STRICT_TRANSPORT_SECURITY, "max-age=31536000"))
    } else {
        h
    };
    h
        .add((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
        ))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"))
}
