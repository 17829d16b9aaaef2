//! The end of a connection's test sign-in (started from the console): the claims as received,
//! no user created, no session started (the use case is [`app::sign_in::admin_test`]).
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use app::sign_in::admin_test::Tested;
use minijinja::context;

use crate::state::AppState;

/// The test result page: the claims as Gatehouse received and normalised them.
pub fn page(state: &AppState, t: &Tested) -> HttpResponse {
    let identity = &t.identity;
    let claims = serde_json::to_string_pretty(identity).unwrap_or_default();
    state.templates.page(
        StatusCode::OK,
        "admin_test.html",
        context! {
            connection_name => t.connection_name,
            protocol => t.protocol,
            slug => t.slug,
            subject => identity.subject,
            email => identity.email,
            name => identity.name,
            groups => identity.groups,
            auth_time => identity.auth_time,
            claims => claims,
        },
    )
}
