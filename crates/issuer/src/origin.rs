//! Middleware scoping each request's client address and user agent for the audit records it
//! writes ([`authz_core::audit::origin`]).
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::Error;
use authz_core::audit::{origin, RequestOrigin};

/// Middleware: `App::wrap(actix_web::middleware::from_fn(issuer::AuditOrigin))`. The address is
/// the TCP peer, or the client behind a trusted proxy ([`crate::params::peer_ip`]).
#[allow(non_snake_case)]
pub async fn AuditOrigin(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let o = RequestOrigin {
        ip: Some(crate::params::peer_ip(req.request())),
        user_agent: crate::params::user_agent(req.request()),
    };
    origin::within(o, next.call(req)).await
}
