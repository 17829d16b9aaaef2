//! Cross-tenant matrix (DESIGN §6.1): two tenants A and B on one store; every attempt to reach
//! A's data through B (or the other way round) fails or returns nothing.

use authz_core::audit::{self, PLATFORM_CHAIN};
use authz_core::connection;
use authz_core::consent;
use authz_core::entities::audit_events;
use authz_core::error::CoreError;
use authz_core::grant;
use authz_core::scope::Tier;
use authz_core::session;
use authz_core::tenant;
use authz_core::testkit;
use authz_core::testkit::world::*;
use authz_core::token::refresh::{self, RefreshRequest};
use authz_core::token::revoke;
use authz_core::user;
use sea_orm::{EntityTrait, PaginatorTrait};

struct Two {
    w: World,
    a: TenantFx,
    b: TenantFx,
}

async fn two() -> Two {
    let w = World::new().await;
    // A may use the routine and the sensitive scope, B only the routine one.
    let a = w
        .tenant("tenant-a", "a-corp.example", &[READ, DELETE])
        .await;
    let b = w.tenant("tenant-b", "b-corp.example", &[READ]).await;
    Two { w, a, b }
}

fn assert_not_found<T: std::fmt::Debug>(r: Result<T, CoreError>, what: &str) {
    match r {
        Err(CoreError::NotFound(w)) => assert_eq!(w, what),
        other => panic!("expected NotFound({what}), got {other:?}"),
    }
}

#[tokio::test]
async fn users_and_connections_are_invisible_across_tenants() {
    let Two { w, a, b } = two().await;
    let db = &w.store.db;
    // Positive controls.
    assert_eq!(
        user::get(db, a.id(), &a.user.id).await.unwrap().id,
        a.user.id
    );
    assert_eq!(
        connection::get(db, a.id(), &a.connection.id)
            .await
            .unwrap()
            .id,
        a.connection.id
    );

    assert_not_found(user::get(db, b.id(), &a.user.id).await, "user");
    assert_not_found(user::get(db, a.id(), &b.user.id).await, "user");
    assert_not_found(
        connection::get(db, b.id(), &a.connection.id).await,
        "connection",
    );
    assert_not_found(
        connection::get(db, a.id(), &b.connection.id).await,
        "connection",
    );

    let email_a = a.user.email.clone().unwrap();
    assert_eq!(
        user::find_by_email(db, a.id(), &email_a)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(user::find_by_email(db, b.id(), &email_a)
        .await
        .unwrap()
        .is_empty());

    let conns_b: Vec<String> = connection::list_enabled(db, b.id())
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(conns_b, std::slice::from_ref(&b.connection.id));
    // The sealed IdP secret opens only with the master key, and belongs to A's connection.
    let ca = connection::get(db, a.id(), &a.connection.id).await.unwrap();
    assert_eq!(ca.tenant, *a.id());
    assert_eq!(ca.client_secret(&w.key).unwrap(), "idp-secret");
}

#[tokio::test]
async fn tokens_carry_the_session_tenant_and_revoke_user_is_scoped() {
    let Two { w, a, b } = two().await;
    let ta = w.tokens(&a, &[READ]).await;
    let tb = w.tokens(&b, &[READ]).await;
    let ia = w.introspect(&ta.access_token).await;
    assert!(ia.active);
    assert_eq!(ia.tenant.as_deref(), Some(a.id().as_str()));
    assert_eq!(ia.sub.as_deref(), Some(a.user.id.as_str()));
    assert_eq!(ia.session_id.as_deref(), Some(a.session.id.as_str()));
    let ib = w.introspect(&tb.access_token).await;
    assert_eq!(ib.tenant.as_deref(), Some(b.id().as_str()));

    // Revoking "A's user" inside tenant B reaches nothing of A.
    let txn = w.store.begin().await.unwrap();
    let n = revoke::revoke_user(&txn, &w.clock, b.id(), &a.user.id, "operator")
        .await
        .unwrap();
    txn.commit().await.unwrap();
    assert_eq!(n, 0);
    assert!(
        w.active(&ta.access_token).await,
        "A's access token still active"
    );
    assert!(
        w.active(&tb.access_token).await,
        "B's access token untouched too"
    );
    assert!(
        session::find_by_id(&w.store.db, &w.clock, &a.session.id)
            .await
            .unwrap()
            .is_some(),
        "A's session alive"
    );
    // A's refresh token still works.
    let ra = refresh::refresh(
        &w.store,
        &w.clock,
        &w.client,
        RefreshRequest {
            dpop_jkt: None,
            refresh_token: ta.refresh_token.as_deref().unwrap(),
            scope: None,
            resource: None,
        },
    )
    .await
    .expect("A's refresh token still valid");
    assert!(w.active(&ra.access_token).await);

    // And within A it does revoke (positive control), leaving B alone.
    let txn = w.store.begin().await.unwrap();
    let n = revoke::revoke_user(&txn, &w.clock, a.id(), &a.user.id, "operator")
        .await
        .unwrap();
    txn.commit().await.unwrap();
    assert_eq!(n, 4, "A's two access and two refresh tokens");
    assert!(!w.active(&ta.access_token).await);
    assert!(!w.active(&ra.access_token).await);
    assert!(
        w.active(&tb.access_token).await,
        "B's token survives A's revocation"
    );
    assert!(session::find_by_id(&w.store.db, &w.clock, &a.session.id)
        .await
        .unwrap()
        .is_none());
    assert!(session::find_by_id(&w.store.db, &w.clock, &b.session.id)
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn grants_and_consents_are_per_tenant() {
    let Two { w, a, b } = two().await;
    let db = &w.store.db;
    let mut ga = grant::granted_scopes(db, a.id(), &w.resource.id)
        .await
        .unwrap();
    ga.sort();
    assert_eq!(ga, scopes(&[DELETE, READ]));
    assert_eq!(
        grant::granted_scopes(db, b.id(), &w.resource.id)
            .await
            .unwrap(),
        scopes(&[READ])
    );
    let c = w.tenant("tenant-c", "c-corp.example", &[]).await;
    assert!(grant::granted_scopes(db, c.id(), &w.resource.id)
        .await
        .unwrap()
        .is_empty());

    // B's members cannot be refreshed into a scope only A granted: B's token never has DELETE.
    let tb = w.tokens(&b, &[READ]).await;
    let err = refresh::refresh(
        &w.store,
        &w.clock,
        &w.client,
        RefreshRequest {
            dpop_jkt: None,
            refresh_token: tb.refresh_token.as_deref().unwrap(),
            scope: Some(DELETE),
            resource: None,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, "invalid_scope");

    consent::remember(
        db,
        &w.clock,
        a.id(),
        &a.user.id,
        &w.client.client_id,
        &w.resource.id,
        &scopes(&[READ, DELETE]),
        Tier::Sensitive,
    )
    .await
    .unwrap();
    let ca = consent::get(
        db,
        &w.clock,
        a.id(),
        &a.user.id,
        &w.client.client_id,
        &w.resource.id,
    )
    .await
    .unwrap();
    assert_eq!(ca.unwrap().scopes, scopes(&[READ, DELETE]));
    assert!(consent::get(
        db,
        &w.clock,
        b.id(),
        &a.user.id,
        &w.client.client_id,
        &w.resource.id
    )
    .await
    .unwrap()
    .is_none());
    // B's own consent (from its sign-in above) never carries what A's user approved.
    assert!(consent::get(
        db,
        &w.clock,
        b.id(),
        &b.user.id,
        &w.client.client_id,
        &w.resource.id
    )
    .await
    .unwrap()
    .is_none_or(|c| !c.scopes.contains(&DELETE.to_string())));
    // Forgetting in B removes nothing of A.
    assert_eq!(
        consent::forget_for_user(db, b.id(), &a.user.id)
            .await
            .unwrap(),
        0
    );
    assert!(consent::get(
        db,
        &w.clock,
        a.id(),
        &a.user.id,
        &w.client.client_id,
        &w.resource.id
    )
    .await
    .unwrap()
    .is_some());
}

#[tokio::test]
async fn audit_chains_hold_only_their_own_tenants_records() {
    let Two { w, a, b } = two().await;
    for _ in 0..3 {
        w.tokens(&a, &[READ, DELETE]).await;
    }
    w.tokens(&b, &[READ]).await;
    audit::seal_all(
        &w.store,
        &testkit::master_key().audit_signing_key(),
        &w.clock,
    )
    .await
    .unwrap();
    let vk = testkit::master_key().audit_signing_key().verifying_key();
    let ra = audit::verify_chain(&w.store, a.id().as_str(), &vk)
        .await
        .unwrap();
    let rb = audit::verify_chain(&w.store, b.id().as_str(), &vk)
        .await
        .unwrap();
    let rp = audit::verify_chain(&w.store, PLATFORM_CHAIN, &vk)
        .await
        .unwrap();
    assert!(ra.ok() && rb.ok() && rp.ok());
    // A: tenant.created, connection.created, grant.added + 3 x (code.issued, token.issued).
    assert_eq!(ra.records, 3 + 6);
    // B: tenant.created, connection.created, grant.added + code.issued, token.issued.
    assert_eq!(rb.records, 3 + 2);
    assert_eq!(rp.records, 3);
    let total = audit_events::Entity::find()
        .count(&w.store.db)
        .await
        .unwrap() as i64;
    assert_eq!(
        ra.records + rb.records + rp.records,
        total,
        "every record is in exactly one chain"
    );

    let rows_a = w.audit_rows(a.id().as_str()).await;
    assert!(rows_a.iter().all(|r| r.tenant_id == a.id().as_str()));
    assert!(rows_a
        .iter()
        .all(|r| r.user_id.as_deref() != Some(b.user.id.as_str())));
    assert!(rows_a
        .iter()
        .all(|r| r.session_id.as_deref() != Some(b.session.id.as_str())));
    let rows_b = w.audit_rows(b.id().as_str()).await;
    assert!(rows_b
        .iter()
        .all(|r| r.user_id.as_deref() != Some(a.user.id.as_str())));
    assert!(rows_b.iter().all(|r| !r.details.contains(&a.connection.id)));
    assert!(rows_b.iter().any(|r| r.details.contains(&b.connection.id)));
}

#[tokio::test]
async fn domains_belong_to_one_tenant_and_consumer_domains_are_refused() {
    let Two { w, a, b } = two().await;
    let db = &w.store.db;
    for (slug, domain) in [
        ("thief", "a-corp.example"),
        ("thief", "A-Corp.Example."),
        ("thief", "b-corp.example"),
    ] {
        match tenant::create(
            &w.store,
            &w.clock,
            slug,
            "Thief",
            &[s("thief.example"), s(domain)],
        )
        .await
        {
            Err(CoreError::Conflict(m)) => {
                let d = domain.trim_end_matches('.').to_ascii_lowercase();
                assert_eq!(m, format!("domain '{d}' already belongs to another tenant"));
            }
            other => panic!("claiming {domain} must conflict, got {other:?}"),
        }
        // Nothing of the failed tenant was written (not even its other domain).
        assert_not_found(tenant::find_by_slug(db, slug).await, "tenant");
        assert!(tenant::find_by_email_domain(db, "x@thief.example")
            .await
            .unwrap()
            .is_none());
    }
    for consumer in ["gmail.com", "Outlook.com", "hotmail.com", "proton.me"] {
        match tenant::create(&w.store, &w.clock, "consumer", "C", &[s(consumer)]).await {
            Err(CoreError::Invalid(m)) => assert_eq!(
                m,
                format!(
                    "'{}' is a consumer mail domain; a tenant can only claim a domain its organisation owns",
                    consumer.to_ascii_lowercase()
                )
            ),
            other => panic!("{consumer} must be refused, got {other:?}"),
        }
    }
    assert_not_found(tenant::find_by_slug(db, "consumer").await, "tenant");

    let by = |e: &'static str| async move {
        tenant::find_by_email_domain(db, e)
            .await
            .unwrap()
            .map(|t| t.id)
    };
    assert_eq!(by("alice@a-corp.example").await, Some(a.id().clone()));
    assert_eq!(by("Bob@B-CORP.example").await, Some(b.id().clone()));
    assert_eq!(by("eve@gmail.com").await, None);
    assert_eq!(
        by("eve@sub.a-corp.example").await,
        None,
        "subdomains are not implied"
    );
    assert_eq!(by("eve@a-corp.example.evil.com").await, None);
    assert_eq!(by("no-at-sign").await, None);
}
