//! Security alerts are queued in the transaction of the change they report, for the tenant's
//! recipients only, and nothing is queued for a tenant without recipients. SQLite and PostgreSQL.
use authz_core::connection::{self, NewOidcConnection};
use authz_core::{mail, tenant, testkit, Store};
use sea_orm::{ConnectionTrait, Statement};

async fn outbox(store: &Store) -> Vec<(String, String, String)> {
    let rows = store
        .db
        .query_all(Statement::from_string(
            store.db.get_database_backend(),
            "SELECT kind, recipient, body_text FROM mail_outbox ORDER BY created_at, kind, recipient",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            (
                r.try_get("", "kind").unwrap(),
                r.try_get("", "recipient").unwrap(),
                r.try_get("", "body_text").unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn connection_alerts_go_to_the_recipients_of_that_tenant_only() {
    let store = testkit::store().await;
    let clock = testkit::clock();
    let acme = tenant::create(&store, &clock, "acme", "Acme", &["acme.test".into()])
        .await
        .unwrap();
    let beta = tenant::create(&store, &clock, "beta", "Beta", &["beta.test".into()])
        .await
        .unwrap();
    let add = |t: authz_core::TenantId| {
        let (store, clock) = (store.clone(), clock.clone());
        async move {
            connection::add_oidc(
                &store,
                &clock,
                &testkit::master_key(),
                &t,
                NewOidcConnection {
                    name: "Okta",
                    issuer: "https://acme.okta.test",
                    client_id: "gh",
                    client_secret: "s3cret",
                    preset: "okta",
                    settings: serde_json::json!({}),
                },
            )
            .await
            .unwrap()
        }
    };
    // No recipients: nothing is queued.
    add(acme.id.clone()).await;
    assert!(outbox(&store).await.is_empty());
    mail::set_alert_recipients(
        &store,
        &clock,
        &acme.id,
        &["SecOps@acme.test".into(), "ciso@acme.test".into()],
        "operator",
    )
    .await
    .unwrap();
    assert_eq!(
        mail::alert_recipients(&store.db, &acme.id).await.unwrap(),
        ["secops@acme.test", "ciso@acme.test"]
    );
    assert!(
        mail::set_alert_recipients(&store, &clock, &acme.id, &["a@b".into()], "operator")
            .await
            .is_err()
    );
    let c = add(acme.id.clone()).await;
    add(beta.id.clone()).await;
    let queued = outbox(&store).await;
    assert_eq!(queued.len(), 2, "{queued:?}");
    assert!(queued
        .iter()
        .all(|(k, _, body)| k == "alert.connection_enabled"
            && body.contains("Okta (oidc okta, new)")));
    // Disabling alerts nobody; enabling again does, and names who did it.
    connection::set_enabled(&store, &clock, &acme.id, &c.id, false, "admin-key:k1")
        .await
        .unwrap();
    assert_eq!(outbox(&store).await.len(), 2);
    connection::set_enabled(&store, &clock, &acme.id, &c.id, true, "admin-key:k1")
        .await
        .unwrap();
    let queued = outbox(&store).await;
    assert_eq!(queued.len(), 4);
    assert_eq!(
        queued
            .iter()
            .filter(|(_, _, b)| b.contains("By: admin-key:k1"))
            .count(),
        2
    );
    assert!(queued
        .iter()
        .all(|(_, _, b)| b.contains("{issuer}/admin/t/acme/audit?action=")));
    // Claimed once: a second sender finds nothing until the claim lapses.
    let first = mail::claim(&store, &clock, 10).await.unwrap();
    assert_eq!(first.len(), 4);
    assert!(mail::claim(&store, &clock, 10).await.unwrap().is_empty());
    mail::finish(&store, &clock, &first[0].id, None)
        .await
        .unwrap();
    mail::finish(
        &store,
        &clock,
        &first[1].id,
        Some("550 mailbox unavailable"),
    )
    .await
    .unwrap();
    // The failed one is retried at once; the sent one never again.
    let retry = mail::claim(&store, &clock, 10).await.unwrap();
    assert_eq!(
        retry.iter().map(|m| m.id.clone()).collect::<Vec<_>>(),
        [first[1].id.clone()]
    );
}

#[tokio::test]
async fn a_scim_token_nearing_expiry_is_alerted_once() {
    let store = testkit::store().await;
    let clock = testkit::clock();
    let acme = tenant::create(&store, &clock, "acme", "Acme", &["acme.test".into()])
        .await
        .unwrap();
    mail::set_alert_recipients(
        &store,
        &clock,
        &acme.id,
        &["secops@acme.test".into()],
        "operator",
    )
    .await
    .unwrap();
    let (soon, _) = authz_core::scim_token::create(&store, &clock, &acme.id, "Entra", 10 * 86_400)
        .await
        .unwrap();
    let (later, _) = authz_core::scim_token::create(&store, &clock, &acme.id, "Okta", 90 * 86_400)
        .await
        .unwrap();
    assert_eq!(
        authz_core::scim_token::alert_expiring(&store, &clock)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        authz_core::scim_token::alert_expiring(&store, &clock)
            .await
            .unwrap(),
        0,
        "once per token"
    );
    let q = outbox(&store).await;
    assert_eq!(q.len(), 1);
    assert!(
        q[0].0 == "alert.scim_token_expiring" && q[0].2.contains(&soon.id),
        "{q:?}"
    );
    // 80 days on, the other one is due; a revoked token never is.
    clock.advance_secs(80 * 86_400);
    assert_eq!(
        authz_core::scim_token::alert_expiring(&store, &clock)
            .await
            .unwrap(),
        1
    );
    assert!(outbox(&store)
        .await
        .iter()
        .any(|(_, _, b)| b.contains(&later.id)));
    let (gone, _) = authz_core::scim_token::create(&store, &clock, &acme.id, "Old", 5 * 86_400)
        .await
        .unwrap();
    authz_core::scim_token::revoke(&store, &clock, &acme.id, &gone.id)
        .await
        .unwrap();
    assert_eq!(
        authz_core::scim_token::alert_expiring(&store, &clock)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn a_delivered_invitation_leaves_no_link_in_the_outbox() {
    let store = testkit::store().await;
    let clock = testkit::clock();
    let t = tenant::create(&store, &clock, "acme", "Acme", &["acme.test".into()])
        .await
        .unwrap();
    let (_, token) =
        authz_core::admin::invitation::create(&store, &clock, &t.id, "it@acme.test", "operator")
            .await
            .unwrap();
    let queued = outbox(&store).await;
    assert!(
        queued[0].2.contains(&format!("/admin/invitations/{token}")),
        "{queued:?}"
    );
    let claimed = mail::claim(&store, &clock, 10).await.unwrap();
    assert!(claimed[0].text.contains(&token), "the sender gets the link");
    // A failed attempt keeps it for the retry; a delivery forgets it.
    mail::finish(&store, &clock, &claimed[0].id, Some("421 try later"))
        .await
        .unwrap();
    assert!(outbox(&store).await[0].2.contains(&token));
    mail::finish(&store, &clock, &claimed[0].id, None)
        .await
        .unwrap();
    let after = outbox(&store).await;
    assert_eq!(after[0].2, mail::DELIVERED_CREDENTIAL);
    assert!(!after.iter().any(|(_, _, body)| body.contains(&token)));
}
