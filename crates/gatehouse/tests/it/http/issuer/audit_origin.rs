//! Audit records of token issuance, refresh, reuse and revocation carry the source address and
//! user agent of the request behind them (reference checklist; issue 11 §4).
use super::common;

use actix_web::test;
use authz_core::entities::audit_events;
use common::*;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::Value;

const AGENT: &str = "claude-code/2.1 (test)";
const FROM: &str = "203.0.113.7:40000";

async fn post<S, B>(app: &S, uri: &str, pairs: &[(&str, &str)]) -> Value
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let r = test::call_service(
        app,
        test::TestRequest::post()
            .uri(uri)
            .peer_addr(FROM.parse().unwrap())
            .insert_header(("user-agent", AGENT))
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload(form(pairs))
            .to_request(),
    )
    .await;
    body_json(r).await
}

async fn last(fx: &Fx, action: &str) -> audit_events::Model {
    audit_events::Entity::find()
        .filter(audit_events::Column::Action.eq(action))
        .order_by_desc(audit_events::Column::Id)
        .one(&fx.store.db)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no {action} record"))
}

#[actix_web::test]
async fn token_records_carry_the_source_address_and_user_agent() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let (_, c) = dcr(&app, serde_json::json!([REDIRECT])).await;
    let client = c["client_id"].as_str().unwrap().to_string();
    let code = code_for(&app, &fx, &client, REDIRECT, "crm:customers:read").await;
    let tok = post(
        &app,
        "/oauth/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &client),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    let rt1 = tok["refresh_token"].as_str().unwrap().to_string();
    fx.clock.advance_secs(1);
    let next = post(
        &app,
        "/oauth/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt1),
            ("client_id", &client),
        ],
    )
    .await;
    let rt2 = next["refresh_token"].as_str().unwrap().to_string();
    // Reuse of the rotated-out token (past the retry grace), then a revocation.
    fx.clock.advance_secs(11);
    post(
        &app,
        "/oauth/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt1),
            ("client_id", &client),
        ],
    )
    .await;
    post(
        &app,
        "/oauth/revoke",
        &[("token", &rt2), ("client_id", &client)],
    )
    .await;
    for action in [
        "token.issued",
        "token.refreshed",
        "refresh_token.reuse_detected",
        "token.revoked",
    ] {
        let e = last(&fx, action).await;
        assert_eq!(e.source_ip.as_deref(), Some("203.0.113.7"), "{action}");
        assert_eq!(e.user_agent.as_deref(), Some(AGENT), "{action}");
    }
}
