//! Paths with a percent-encoded NUL (`%00`) are refused before routing (400): actix decodes it
//! into path parameters, and PostgreSQL text cannot hold U+0000, so such a request would
//! otherwise reach a query and fail there as a 500 instead of a client error. This wraps the
//! whole app (SCIM and admin paths included); query, form and JSON values are checked by each
//! surface (the issuer's `Params` and `NulFreeJson`).
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse};

/// Middleware: `App::wrap(actix_web::middleware::from_fn(gatehouse::edge::RejectNul))`.
#[allow(non_snake_case)]
pub async fn RejectNul(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    if req.path().to_ascii_lowercase().contains("%00") {
        let resp = HttpResponse::BadRequest()
            .content_type("text/plain; charset=utf-8")
            .body("The request path contains a NUL character (%00), which no Gatehouse address accepts.");
        return Ok(req.into_response(resp).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use actix_web::middleware::from_fn;
    use actix_web::{test, web, App, HttpResponse};

    #[actix_web::test]
    async fn a_nul_in_the_path_is_a_400_before_any_handler() {
        let app = test::init_service(App::new().wrap(from_fn(super::RejectNul)).route(
            "/admin/t/{tenant}/",
            web::get().to(|| async { HttpResponse::Ok().finish() }),
        ))
        .await;
        let r = test::call_service(
            &app,
            test::TestRequest::get().uri("/admin/t/%00/").to_request(),
        )
        .await;
        assert_eq!(r.status(), 400);
        let r = test::call_service(
            &app,
            test::TestRequest::get().uri("/admin/t/acme/").to_request(),
        )
        .await;
        assert_eq!(r.status(), 200);
    }
}
