//! Account linking rules (docs/security-model.md): users are keyed by (connection, subject);
//! an email claimed by a second connection never reaches the first connection's account.

use authz_core::connection::{self, NewOidcConnection};
use authz_core::testkit::world::*;
use authz_core::user::{self, FederatedIdentity};

#[tokio::test]
async fn same_email_through_another_connection_is_a_different_account() {
    let w = World::new().await;
    let t = w.tenant("northwind", "northwind.example", &[READ]).await;
    let c2 = connection::add_oidc(
        &w.store,
        &w.clock,
        &w.key,
        t.id(),
        NewOidcConnection {
            name: "second IdP",
            issuer: "https://idp2.example",
            client_id: "gh",
            client_secret: "s",
            preset: "generic",
            settings: serde_json::json!({}),
        },
    )
    .await
    .unwrap();
    let first = FederatedIdentity {
        connection_id: t.connection.id.clone(),
        subject: "sub-1".into(),
        email: Some("bob@northwind.example".into()),
        ..Default::default()
    };
    let (u1, created1) = user::upsert_federated(&w.store.db, &w.clock, t.id(), &first)
        .await
        .unwrap();
    assert!(created1);
    // Another IdP asserts the same email (verified or not): a new account, not u1.
    let second = FederatedIdentity {
        connection_id: c2.id.clone(),
        subject: "attacker-sub".into(),
        email: Some("BOB@northwind.example".into()),
        ..Default::default()
    };
    let (u2, created2) = user::upsert_federated(&w.store.db, &w.clock, t.id(), &second)
        .await
        .unwrap();
    assert!(created2, "a new account is created");
    assert_ne!(u1.id, u2.id, "the email did not link the accounts");
    // The same subject through the first connection finds the first account again.
    let (again, created) = user::upsert_federated(&w.store.db, &w.clock, t.id(), &first)
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(again.id, u1.id);
    // The operator's email search sees both (for revocation), which is the only email use.
    let both = user::find_by_email(&w.store.db, t.id(), "bob@northwind.example")
        .await
        .unwrap();
    assert_eq!(both.len(), 2);
}
