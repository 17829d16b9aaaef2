//! Incident-response levers (issue 11 §3, review F7): revoke a tenant, a connection or a client;
//! disabling a connection cuts off what it issued; a suspended tenant gets no token, refresh or
//! introspection until it is resumed. Storage-level, on SQLite and PostgreSQL.

use authz_core::connection::{self, NewOidcConnection};
use authz_core::entities::audit_events;
use authz_core::incident;
use authz_core::testkit::world::*;
use authz_core::token::refresh::{self, RefreshRequest};
use authz_core::token::{IssuedTokens, TokenError};
use authz_core::user::{self, FederatedIdentity};
use authz_core::{session, testkit};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

async fn refresh_with(w: &World, t: &IssuedTokens) -> Result<IssuedTokens, TokenError> {
    refresh::refresh(
        &w.store,
        &w.clock,
        &w.client,
        RefreshRequest {
            dpop_jkt: None,
            refresh_token: t.refresh_token.as_deref().expect("a refresh token"),
            scope: None,
            resource: None,
        },
    )
    .await
}

async fn audited(w: &World, action: &str) -> u64 {
    audit_events::Entity::find()
        .filter(audit_events::Column::Action.eq(action))
        .count(&w.store.db)
        .await
        .unwrap()
}

/// A second connection of `t` with its own user and session.
async fn second_connection(w: &World, t: &TenantFx) -> TenantFx {
    let c = connection::add_oidc(
        &w.store,
        &w.clock,
        &testkit::master_key(),
        t.id(),
        NewOidcConnection {
            name: "second idp",
            issuer: "https://idp2.example.test",
            client_id: "gh",
            client_secret: "s",
            preset: "generic",
            settings: serde_json::json!({}),
        },
    )
    .await
    .unwrap();
    let (u, _) = user::upsert_federated(
        &w.store.db,
        &w.clock,
        t.id(),
        &FederatedIdentity {
            connection_id: c.id.clone(),
            subject: "bob".into(),
            email: Some(format!("bob@{}", t.domain)),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let (_, s) = session::create(&w.store.db, &w.clock, t.id(), &u.id, &c.id, w.clock_now())
        .await
        .unwrap();
    TenantFx {
        tenant: t.tenant.clone(),
        domain: t.domain.clone(),
        connection: c,
        user: u,
        session: s,
    }
}

#[tokio::test]
async fn disabling_a_connection_cuts_off_its_sessions_and_grants_only() {
    let w = World::new().await;
    let a = w.tenant("acme", "acme.example", &[READ]).await;
    let b = second_connection(&w, &a).await;
    let via_a = w.tokens(&a, &[READ]).await;
    let via_b = w.tokens(&b, &[READ]).await;
    let pending = w.code_for(&a, &w.client, &[READ]).await;
    connection::set_enabled(
        &w.store,
        &w.clock,
        a.id(),
        &a.connection.id,
        false,
        "admin:x",
    )
    .await
    .unwrap();
    assert!(
        !w.active(&via_a.access_token).await,
        "its access token is inactive"
    );
    let err = refresh_with(&w, &via_a).await.unwrap_err();
    assert_eq!(err.code, "invalid_grant");
    assert!(
        w.exchange(&w.client, &pending).await.is_err(),
        "its codes are gone"
    );
    assert!(session::find_by_id(&w.store.db, &w.clock, &a.session.id)
        .await
        .unwrap()
        .is_none());
    // The other connection's people keep working.
    assert!(w.active(&via_b.access_token).await);
    assert!(refresh_with(&w, &via_b).await.is_ok());
    assert!(session::find_by_id(&w.store.db, &w.clock, &b.session.id)
        .await
        .unwrap()
        .is_some());
    assert_eq!(audited(&w, "connection.revoked_all").await, 1);
}

#[tokio::test]
async fn revoking_a_tenant_leaves_other_tenants_alone_and_counts_what_it_cut() {
    let w = World::new().await;
    let a = w.tenant("acme", "acme.example", &[READ]).await;
    let b = w.tenant("beta", "beta.example", &[READ]).await;
    let ta = w.tokens(&a, &[READ]).await;
    let tb = w.tokens(&b, &[READ]).await;
    let c = incident::revoke_tenant(&w.store, &w.clock, a.id(), "operator")
        .await
        .unwrap();
    assert_eq!((c.sessions, c.grants, c.tokens), (1, 1, 2), "{c:?}");
    assert!(!w.active(&ta.access_token).await);
    assert!(w.active(&tb.access_token).await);
    assert_eq!(audited(&w, "tenant.revoked_all").await, 1);
}

#[tokio::test]
async fn revoking_a_client_reaches_every_tenant() {
    let w = World::new().await;
    let a = w.tenant("acme", "acme.example", &[READ]).await;
    let b = w.tenant("beta", "beta.example", &[READ]).await;
    let ta = w.tokens(&a, &[READ]).await;
    let tb = w.tokens(&b, &[READ]).await;
    let c = incident::revoke_client(&w.store, &w.clock, &w.client.client_id)
        .await
        .unwrap();
    assert_eq!(c.grants, 2);
    assert!(!w.active(&ta.access_token).await);
    assert!(!w.active(&tb.access_token).await);
    assert!(
        incident::revoke_client(&w.store, &w.clock, "no-such-client")
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_suspended_tenant_gets_no_token_refresh_or_introspection_until_resumed() {
    let w = World::new().await;
    let a = w.tenant("acme", "acme.example", &[READ]).await;
    let b = w.tenant("beta", "beta.example", &[READ]).await;
    let ta = w.tokens(&a, &[READ]).await;
    let tb = w.tokens(&b, &[READ]).await;
    let code = w.code_for(&a, &w.client, &[READ]).await;
    assert!(incident::suspend(&w.store, &w.clock, a.id(), "operator")
        .await
        .unwrap());
    assert!(
        !incident::suspend(&w.store, &w.clock, a.id(), "operator")
            .await
            .unwrap(),
        "idempotent"
    );
    assert!(!w.active(&ta.access_token).await, "introspection: inactive");
    assert!(w.active(&tb.access_token).await, "other tenants unaffected");
    let err = refresh_with(&w, &ta).await.unwrap_err();
    assert_eq!(
        (err.code, err.description.as_str()),
        ("invalid_grant", "the organisation is suspended")
    );
    let err = w.exchange(&w.client, &code).await.unwrap_err();
    assert_eq!(err.description, "the organisation is suspended");
    // Resumed: what has not expired works again (nothing was revoked), the refresh token too
    // (the refused refresh above did not burn it).
    assert!(incident::resume(&w.store, &w.clock, a.id(), "operator")
        .await
        .unwrap());
    assert!(w.active(&ta.access_token).await);
    assert!(refresh_with(&w, &ta).await.is_ok());
    assert_eq!(audited(&w, "tenant.suspended").await, 1);
    assert_eq!(audited(&w, "tenant.resumed").await, 1);
}
