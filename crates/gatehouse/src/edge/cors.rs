//! CORS for the endpoints browser-based MCP clients call directly (DESIGN §4): open, without
//! credentials; a preflight `OPTIONS` is answered 204 and never 401.
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse};

fn is_open(path: &str) -> bool {
    path.starts_with("/.well-known/")
        || path.starts_with("/oauth/register")
        || path == "/oauth/token"
        || path == "/oauth/revoke"
}

/// Middleware: `App::wrap(actix_web::middleware::from_fn(gatehouse::edge::Cors))`.
#[allow(non_snake_case)]
pub async fn Cors(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let open = is_open(req.path());
    if open && req.method() == Method::OPTIONS {
        let resp = HttpResponse::NoContent()
            .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
            .insert_header((
                header::ACCESS_CONTROL_ALLOW_METHODS,
                "GET, POST, PUT, DELETE, OPTIONS",
            ))
            .insert_header((
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "Authorization, Content-Type, MCP-Protocol-Version, DPoP",
            ))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, "86400"))
            .finish();
        return Ok(req.into_response(resp).map_into_right_body());
    }
    let mut res = next.call(req).await?;
    if open {
        res.headers_mut().insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            header::HeaderValue::from_static("*"),
        );
        // A browser client must read the DPoP nonce of a token answer (RFC 9449 §8).
        res.headers_mut().insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            header::HeaderValue::from_static("DPoP-Nonce, WWW-Authenticate"),
        );
    }
    Ok(res.map_into_left_body())
}
