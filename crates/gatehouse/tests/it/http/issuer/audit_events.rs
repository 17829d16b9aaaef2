//! `POST /audit/v1/events` (review F6): a resource server reports tool calls only for the
//! clients and sessions that held its tokens, near the present, with bounded fields, and the
//! record names the resource server that reported it.
use super::common;

use actix_web::http::StatusCode;
use authz_core::clock::{Clock, MICROS};
use common::*;
use serde_json::{json, Value};

/// Issues alice a token for RES through a new client; returns (client_id, session_id).
async fn issued<S, B>(app: &S, fx: &Fx) -> (String, String)
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let (_, c) = dcr(app, json!([REDIRECT])).await;
    let client = c["client_id"].as_str().unwrap().to_string();
    let code = code_for(app, fx, &client, REDIRECT, "crm:customers:read").await;
    let (s, tok) = token(
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", REDIRECT),
            ("client_id", &client),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{tok}");
    let (_, i) = post_form(
        app,
        "/oauth/introspect",
        &[("token", tok["access_token"].as_str().unwrap())],
        Some((&fx.rs.0, &fx.rs.1)),
    )
    .await;
    (client, i["session_id"].as_str().unwrap().to_string())
}

fn event(fx: &Fx, client: &str, session: &str) -> Value {
    json!({"tenant": fx.acme.id.as_str(), "sub": fx.acme.user_id, "client_id": client, "session_id": session,
        "tool": "list_customers", "scopes": ["crm:customers:read"], "result": "success"})
}

fn refused(s: StatusCode, body: &Value, want: StatusCode, says: &str) {
    assert_eq!(s, want, "{body}");
    assert_eq!(body["error"], "invalid_request", "{body}");
    let d = body["error_description"].as_str().unwrap_or_default();
    assert!(d.contains(says), "`{d}` should say `{says}`");
}

#[actix_web::test]
async fn a_resource_server_cannot_blame_a_client_or_session_that_held_no_token() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let (client, session) = issued(&app, &fx).await;
    let rs = (fx.rs.0.as_str(), fx.rs.1.as_str());

    let (s, b) = post_event(&app, rs, &event(&fx, &client, &session)).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    for (c, sess) in [
        ("pre_official_admin_tool", session.as_str()),
        (client.as_str(), "any-session"),
    ] {
        let (s, b) = post_event(&app, rs, &event(&fx, c, sess)).await;
        refused(s, &b, StatusCode::FORBIDDEN, "never issued a token");
    }
    // Without a session the client must still have held a token.
    let mut e = event(&fx, "pre_official_admin_tool", "x");
    e.as_object_mut().unwrap().remove("session_id");
    let (s, b) = post_event(&app, rs, &e).await;
    refused(s, &b, StatusCode::FORBIDDEN, "never issued a token");
    // Another resource server cannot report calls made with this resource's tokens.
    let (s, b) = post_event(&app, (&fx.rs2.0, &fx.rs2.1), &event(&fx, &client, &session)).await;
    refused(s, &b, StatusCode::FORBIDDEN, "never issued a token");
    // Scopes outside the resource's catalogue are not recorded as used.
    let mut e = event(&fx, &client, &session);
    e["scopes"] = json!(["crm:customers:read", "admin:everything"]);
    let (s, b) = post_event(&app, rs, &e).await;
    refused(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "scope 'admin:everything' is not in the calling resource's catalogue",
    );

    // Exactly one record, and it names the resource server that reported it.
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let evs = authz_core::entities::audit_events::Entity::find()
        .filter(authz_core::entities::audit_events::Column::Action.eq("tool.called"))
        .all(&fx.store.db)
        .await
        .unwrap();
    assert_eq!(evs.len(), 1);
    let d: Value = serde_json::from_str(&evs[0].details).unwrap();
    assert_eq!(d["reported_by"]["rs_client_id"], fx.rs.0.as_str(), "{d}");
    assert_eq!(d["reported_by"]["resource"], RES, "{d}");
    assert_eq!(evs[0].client_id.as_deref(), Some(client.as_str()));
}

#[actix_web::test]
async fn reported_time_source_address_and_field_lengths_are_bounded() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let (client, session) = issued(&app, &fx).await;
    let rs = (fx.rs.0.as_str(), fx.rs.1.as_str());
    let now = fx.clock.now_us();
    let with = |k: &str, v: Value| {
        let mut e = event(&fx, &client, &session);
        e[k] = v;
        e
    };

    for t in [
        1_000_000,
        i64::MAX,
        i64::MIN,
        now - 8 * 24 * 3600 * MICROS,
        now + 10 * 60 * MICROS,
    ] {
        let (s, b) = post_event(&app, rs, &with("occurred_at", json!(t))).await;
        refused(
            s,
            &b,
            StatusCode::BAD_REQUEST,
            "occurred_at must lie within",
        );
    }
    for ip in ["=HYPERLINK(\"http://evil\")", "localhost", "10.0.0.1/8"] {
        let (s, b) = post_event(&app, rs, &with("source_ip", json!(ip))).await;
        refused(
            s,
            &b,
            StatusCode::BAD_REQUEST,
            "source_ip must be an IPv4 or IPv6",
        );
    }
    let long = "a".repeat(30_000);
    for (k, v, says) in [
        ("client_id", json!(long), "client_id must be at most"),
        ("session_id", json!(long), "session_id must be at most"),
        (
            "source_ip",
            json!("1".repeat(3000)),
            "source_ip must be at most",
        ),
        ("user_agent", json!(long), "user_agent must be at most"),
        ("error", json!(long), "error must be at most"),
        ("sub", json!(long), "sub must be at most"),
        ("scopes", json!([long]), "scopes must be at most"),
        ("client_id", json!("c\u{0}1"), "NUL character"),
    ] {
        let (s, b) = post_event(&app, rs, &with(k, v)).await;
        refused(s, &b, StatusCode::BAD_REQUEST, says);
    }

    // Within the window, with an address: recorded as reported.
    let mut e = with("occurred_at", json!(now - 3600 * MICROS));
    e["source_ip"] = json!("2001:db8::7");
    let (s, b) = post_event(&app, rs, &e).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    let (s, b) = post_event(&app, rs, &with("occurred_at", json!(now + 60 * MICROS))).await;
    assert_eq!(s, StatusCode::ACCEPTED, "clock skew of a minute: {b}");
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let ev = authz_core::entities::audit_events::Entity::find()
        .filter(authz_core::entities::audit_events::Column::Action.eq("tool.called"))
        .order_by_asc(authz_core::entities::audit_events::Column::Id)
        .one(&fx.store.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ev.occurred_at, now - 3600 * MICROS);
    assert_eq!(ev.source_ip.as_deref(), Some("2001:db8::7"));
}
