//! Personal API keys at the gateway (issue 14 §1): a key is a bearer token like any other (no
//! new lookup), refused with 401 from the next call on once it is revoked by its owner, by the
//! user's deactivation (the path SCIM deactivation runs) or by the withdrawal of a grant it
//! relies on; its last use is written at most once a minute, off the request path.
use authz_core::admin::settings::{self, TenantSettings};
use authz_core::personal_key::{self, NewKey};
use authz_core::testkit::world::{self, scopes, READ};
use authz_core::token::revoke;
use serde_json::json;

use super::fixture::{self, call, rpc, Gw};

async fn enable_keys(gw: &Gw) {
    settings::set(
        &gw.w.store,
        &gw.w.clock,
        gw.t.id(),
        &TenantSettings {
            api_keys_enabled: Some(true),
            ..Default::default()
        },
        "admin:test",
    )
    .await
    .unwrap();
}

async fn key(gw: &Gw, want: &[&str]) -> personal_key::CreatedKey {
    personal_key::create(
        &gw.w.store,
        &gw.w.clock,
        NewKey {
            tenant: gw.t.id(),
            user_id: &gw.t.user.id,
            auth_time: gw.w.clock_now(),
            resource: &gw.w.resource,
            name: "Cursor on my laptop",
            client_label: "cursor",
            scopes: &scopes(want),
            days: 30,
            actor: &format!("user:{}", gw.t.user.id),
        },
    )
    .await
    .unwrap()
}

async fn used_records(gw: &Gw) -> usize {
    gw.state.flush_key_usage().await;
    gw.w.audit_rows(gw.t.id().as_str())
        .await
        .into_iter()
        .filter(|r| r.action == "api_key.used")
        .count()
}

#[actix_web::test]
async fn a_key_calls_tools_and_is_refused_once_its_owner_revokes_it() {
    let gw = fixture::start().await;
    enable_keys(&gw).await;
    let k = key(&gw, &[READ]).await;
    let r = gw
        .post(Some(&k.secret), &rpc(1, "tools/list", json!({})))
        .await;
    assert_eq!(r.status(), 200);
    let r = gw
        .post(Some(&k.secret), &call(2, "list_customers", json!({})))
        .await;
    assert_eq!(r.status(), 200);
    // The per-call record names the credential kind and the key's client id.
    let calls = gw.audit().await;
    let last = calls.last().unwrap();
    let detail: serde_json::Value = serde_json::from_str(&last.details).unwrap();
    assert_eq!(detail["credential_kind"], "api_key", "{detail}");
    assert_eq!(last.client_id.as_deref(), Some("api-key:cursor"));
    // A scope the key does not hold: 403, as for any token.
    let r = gw
        .post(
            Some(&k.secret),
            &call(3, "delete_customer", json!({"id": 1})),
        )
        .await;
    assert_eq!(r.status(), 403);
    let listed = personal_key::get(&gw.w.store.db, &gw.w.clock, gw.t.id(), None, &k.key.id)
        .await
        .unwrap();
    personal_key::revoke(&gw.w.store, &gw.w.clock, &listed, "user:x")
        .await
        .unwrap();
    let r = gw
        .post(Some(&k.secret), &call(4, "list_customers", json!({})))
        .await;
    assert_eq!(r.status(), 401);
    assert_eq!(gw.forwarded(), 2);
}

#[actix_web::test]
async fn deactivating_the_user_or_withdrawing_the_grant_kills_the_key_at_the_next_call() {
    let gw = fixture::start().await;
    enable_keys(&gw).await;
    // Deactivation (what SCIM `active: false` runs: every family of the user is revoked).
    let k = key(&gw, &[READ]).await;
    let r = gw
        .post(Some(&k.secret), &rpc(1, "tools/list", json!({})))
        .await;
    assert_eq!(r.status(), 200);
    revoke::revoke_user(
        &gw.w.store.db,
        &gw.w.clock,
        gw.t.id(),
        &gw.t.user.id,
        "scim",
    )
    .await
    .unwrap();
    let r = gw
        .post(Some(&k.secret), &rpc(2, "tools/list", json!({})))
        .await;
    assert_eq!(r.status(), 401);
    // The org grant the key relies on is withdrawn.
    let k = key(&gw, &[READ, world::DELETE]).await;
    let r = gw
        .post(Some(&k.secret), &rpc(3, "tools/list", json!({})))
        .await;
    assert_eq!(r.status(), 200);
    authz_core::grant::remove(
        &gw.w.store,
        &gw.w.clock,
        gw.t.id(),
        &gw.w.resource.id,
        &scopes(&[world::DELETE]),
        None,
        "admin:test",
    )
    .await
    .unwrap();
    let r = gw
        .post(Some(&k.secret), &rpc(4, "tools/list", json!({})))
        .await;
    assert_eq!(r.status(), 401);
    let all = personal_key::list_for_tenant(&gw.w.store.db, &gw.w.clock, gw.t.id())
        .await
        .unwrap();
    assert!(all
        .iter()
        .all(|k| k.status == personal_key::Status::Revoked));
}

#[actix_web::test]
async fn last_use_is_written_at_most_once_a_minute() {
    let gw = fixture::start().await;
    enable_keys(&gw).await;
    let k = key(&gw, &[READ]).await;
    let last_used = || async {
        personal_key::get(&gw.w.store.db, &gw.w.clock, gw.t.id(), None, &k.key.id)
            .await
            .unwrap()
            .last_used_at
    };
    assert_eq!(last_used().await, None);
    let first = gw.w.clock_now();
    for id in 0..3 {
        let r = gw
            .post(Some(&k.secret), &rpc(id, "tools/list", json!({})))
            .await;
        assert_eq!(r.status(), 200);
    }
    assert_eq!(used_records(&gw).await, 1);
    assert_eq!(last_used().await, Some(first));
    // 30 s later: within the minute, nothing is written.
    gw.w.clock.advance_secs(30);
    gw.post(Some(&k.secret), &rpc(4, "tools/list", json!({})))
        .await;
    assert_eq!(used_records(&gw).await, 1);
    assert_eq!(last_used().await, Some(first));
    // 61 s after the first: written again.
    gw.w.clock.advance_secs(31);
    gw.post(Some(&k.secret), &rpc(5, "tools/list", json!({})))
        .await;
    assert_eq!(used_records(&gw).await, 2);
    assert_eq!(last_used().await, Some(gw.w.clock_now()));
}
