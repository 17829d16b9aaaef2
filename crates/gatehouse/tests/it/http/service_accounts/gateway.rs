//! A service account's token at the gateway: it calls tools as `service:<id>`, a disable cuts
//! it off on the next call, and removing an org grant (which is for people) does not touch it.
use authz_core::service_account as sa;
use authz_core::testkit::world::{self, DELETE, READ};
use serde_json::json;

use super::fixture::{basic, set_enabled, token};
use crate::http::gateway::fixture::{self, call};
use crate::http::world::Node;

async fn service_token(gw: &fixture::Gw, scopes: &[&str]) -> (String, String) {
    let g = vec![(
        world::RESOURCE_URI.to_string(),
        scopes.iter().map(|s| s.to_string()).collect(),
    )];
    let c = sa::create(
        &gw.w.store,
        &gw.w.clock,
        gw.t.id(),
        sa::NewAccount {
            name: "agent",
            grants: &g,
            method: sa::Method::ClientSecretBasic,
            keys: None,
        },
        "test",
    )
    .await
    .unwrap();
    let app = Node::new(&gw.w.store, &gw.w.clock, world::ISSUER)
        .app()
        .await;
    let (s, body) = token(
        &app,
        Some(&basic(&c.account.client_id, c.secret.as_deref().unwrap())),
        &[
            ("grant_type", "client_credentials"),
            ("resource", world::RESOURCE_URI),
        ],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    (
        body["access_token"].as_str().unwrap().to_string(),
        c.account.id,
    )
}

#[actix_web::test]
async fn a_service_token_calls_tools_and_a_disable_ends_it_on_the_next_call() {
    let gw = fixture::start().await;
    let (tok, account) = service_token(&gw, &[READ]).await;
    let r = gw
        .post(Some(&tok), &call(1, "list_customers", json!({})))
        .await;
    assert_eq!(r.status(), 200);
    let rows = gw.audit().await;
    let row = rows.last().unwrap();
    assert_eq!(
        row.actor.as_deref(),
        Some(format!("service:{account}").as_str())
    );
    assert!(
        row.details.contains("client_credentials"),
        "{}",
        row.details
    );
    // Its scope does not reach a tool that needs more.
    let r = gw
        .post(Some(&tok), &call(2, "delete_customer", json!({"id": 1})))
        .await;
    assert_eq!(r.status(), 403);
    let n = set_enabled(&gw.w, &gw.t, &account, false).await;
    assert_eq!(n, 1);
    let r = gw
        .post(Some(&tok), &call(3, "list_customers", json!({})))
        .await;
    assert_eq!(r.status(), 401, "disabled: the token is dead at once");
    let disabled =
        gw.w.audit_rows(gw.t.id().as_str())
            .await
            .into_iter()
            .filter(|r| r.action == "service_account.disabled")
            .count();
    assert_eq!(disabled, 1);
}

#[actix_web::test]
async fn removing_an_org_grant_leaves_service_tokens_and_removing_the_accounts_scope_revokes_them()
{
    let gw = fixture::start().await;
    let (tok, account) = service_token(&gw, &[READ, DELETE]).await;
    let user_tok = gw.token(&[READ, DELETE]).await;
    let revoked = authz_core::grant::remove(
        &gw.w.store,
        &gw.w.clock,
        gw.t.id(),
        &gw.w.resource.id,
        &[READ.to_string(), DELETE.to_string()],
        None,
        "admin:x",
    )
    .await
    .unwrap();
    assert_eq!(
        revoked, 1,
        "the user's family only: the service family is not an org grant's"
    );
    let r = gw
        .post(Some(&user_tok), &call(1, "list_customers", json!({})))
        .await;
    assert_eq!(r.status(), 401, "the user's token went with the org grant");
    let r = gw
        .post(Some(&tok), &call(1, "list_customers", json!({})))
        .await;
    assert_eq!(
        r.status(),
        200,
        "the account's scopes come from the account"
    );
    let g = vec![(world::RESOURCE_URI.to_string(), vec![READ.to_string()])];
    let (_, n) = sa::set_grants(&gw.w.store, &gw.w.clock, gw.t.id(), &account, &g, "admin:x")
        .await
        .unwrap();
    assert_eq!(n, 1, "the token carried the removed scope");
    let r = gw
        .post(Some(&tok), &call(2, "list_customers", json!({})))
        .await;
    assert_eq!(r.status(), 401);
}
