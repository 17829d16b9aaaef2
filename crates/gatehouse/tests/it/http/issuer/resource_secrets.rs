//! Review F11: a resource server's introspection secret rotates with an overlap and is revoked
//! at once. No node keeps accepting a secret after the operator's call returns, even one that
//! authenticated a moment before (there is no per-node credential cache).
use super::common;

use actix_web::http::StatusCode;
use authz_core::resource_secret;
use common::*;
use serde_json::json;

#[actix_web::test]
async fn a_rotated_out_or_revoked_secret_stops_working_at_introspection_at_once() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let (_, c) = dcr(&app, json!([REDIRECT])).await;
    let client = c["client_id"].as_str().unwrap().to_string();
    let code = code_for(&app, &fx, &client, REDIRECT, "crm:customers:read").await;
    let (s, tok) = token(
        &app,
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
    let at = tok["access_token"].as_str().unwrap().to_string();
    let id = fx.rs.0.clone();
    let introspect = |secret: String| {
        let (app, at, id) = (&app, at.clone(), id.clone());
        async move {
            let (s, b) = post_form(
                app,
                "/oauth/introspect",
                &[("token", &at)],
                Some((&id, &secret)),
            )
            .await;
            if s == StatusCode::OK {
                assert_eq!(b["active"], true, "{b}");
            } else {
                assert_eq!(b["error"], "invalid_client", "{b}");
            }
            s
        }
    };
    let first = fx.rs.1.clone();
    assert_eq!(introspect(first.clone()).await, StatusCode::OK);

    let res = authz_core::resource::find_by_uri(&fx.store.db, RES)
        .await
        .unwrap()
        .unwrap();
    let rotated = resource_secret::rotate(&fx.store, &fx.clock, &res.id, 600, "operator")
        .await
        .unwrap();
    let second = rotated.introspection_client_secret;
    assert_eq!(rotated.introspection_client_id, id);
    assert_eq!(
        introspect(first.clone()).await,
        StatusCode::OK,
        "in the overlap"
    );
    assert_eq!(introspect(second.clone()).await, StatusCode::OK);
    fx.clock.advance_secs(600);
    assert_eq!(
        introspect(first.clone()).await,
        StatusCode::UNAUTHORIZED,
        "the overlap has ended"
    );
    assert_eq!(introspect(second.clone()).await, StatusCode::OK);

    // The secret just authenticated on this node; revoked, it is refused on the next call.
    resource_secret::revoke(&fx.store, &fx.clock, &res.id, "operator")
        .await
        .unwrap();
    assert_eq!(introspect(second.clone()).await, StatusCode::UNAUTHORIZED);
    let (s, b) = post_event(
        &app,
        (&id, &second),
        &json!({"tenant": fx.acme.id.as_str(), "sub": fx.acme.user_id, "client_id": client,
            "tool": "list_customers", "result": "success"}),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{b}");

    // A new secret works again; the token itself was never affected.
    let third = resource_secret::rotate(&fx.store, &fx.clock, &res.id, 600, "operator")
        .await
        .unwrap();
    assert!(third.previous_valid_until.is_none());
    assert_eq!(
        introspect(third.introspection_client_secret).await,
        StatusCode::OK
    );
    assert_eq!(introspect(second).await, StatusCode::UNAUTHORIZED);
}
