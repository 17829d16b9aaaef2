//! The connection page's "Enterprise-managed authorization (ID-JAG)" panel (ADR 0014): a
//! tenant admin accepts an OIDC IdP's ID-JAGs from listed clients; an unknown client is refused
//! with a message; a SAML connection has no such panel.
use actix_web::test;
use authz_core::admin::role;
use authz_core::clock::Clock;
use authz_core::crypto::sha256_hex;
use authz_core::id_jag::IdJagSettings;
use authz_core::testkit::{self, world};
use authz_core::user::FederatedIdentity;
use authz_core::{client, connection};

#[actix_web::test]
async fn an_admin_accepts_an_idps_id_jags_from_listed_clients_on_the_connection_page() {
    let store = testkit::store().await;
    let clock = testkit::clock();
    let acme = world::add_tenant(&store, &clock, "acme", "Acme", &["acme.test"]).await;
    let conn = world::add_oidc(
        &store,
        &clock,
        &acme.id,
        "IdP",
        "https://idp.example.test",
        "gh",
        "s3cret",
    )
    .await;
    let who = FederatedIdentity {
        connection_id: conn.id.clone(),
        subject: "ann".into(),
        email: Some("ann@acme.test".into()),
        ..Default::default()
    };
    let (u, cookie) = world::signed_in_user(&store, &clock, &acme.id, &who, clock.now_us()).await;
    let txn = store.begin().await.unwrap();
    role::grant(&txn, &clock, &acme.id, &u.id, "operator", None, "operator")
        .await
        .unwrap();
    txn.commit().await.unwrap();
    let agent = client::add_preregistered(
        &store,
        &clock,
        &Default::default(),
        "Agent",
        &["https://agent.example.test/cb".to_string()],
        true,
    )
    .await
    .unwrap()
    .client
    .client_id;
    let app = crate::http::world::Node::new(&store, &clock, "http://gatehouse.test")
        .app()
        .await;
    let page = format!("/admin/t/acme/connections/{}", conn.id);
    let send = |method: &str, path: &str, form: Option<String>| {
        let mut req = test::TestRequest::default()
            .method(actix_web::http::Method::from_bytes(method.as_bytes()).unwrap())
            .uri(path)
            .cookie(actix_web::cookie::Cookie::new("gh_session", cookie.clone()));
        if let Some(f) = form {
            req = req
                .insert_header(("content-type", "application/x-www-form-urlencoded"))
                .set_payload(f);
        }
        req.to_request()
    };
    let csrf = sha256_hex(&format!("console|admin|{cookie}"));
    let body = |r| async move { String::from_utf8_lossy(&test::read_body(r).await).to_string() };

    let r = test::call_service(&app, send("GET", &page, None)).await;
    assert_eq!(r.status(), 200);
    let html = body(r).await;
    assert!(
        html.contains("Enterprise-managed authorization (ID-JAG)"),
        "{html}"
    );
    assert!(!html.contains(" checked>"), "off by default");

    let form = format!("enabled=on&clients={agent}%0Apre_unknown&csrf={csrf}");
    let r = test::call_service(&app, send("POST", &format!("{page}/id-jag"), Some(form))).await;
    assert_eq!(r.status(), 400);
    let html = body(r).await;
    assert!(
        html.contains("pre_unknown") && html.contains("registered"),
        "{html}"
    );

    let form = format!("enabled=on&clients={agent}&csrf={csrf}");
    let r = test::call_service(&app, send("POST", &format!("{page}/id-jag"), Some(form))).await;
    assert_eq!(r.status(), 303);
    let stored = connection::get(&store.db, &acme.id, &conn.id)
        .await
        .unwrap();
    assert_eq!(
        IdJagSettings::of(&stored),
        IdJagSettings {
            enabled: true,
            clients: vec![agent.clone()]
        }
    );
    let r = test::call_service(&app, send("GET", &page, None)).await;
    let html = body(r).await;
    assert!(
        html.contains(" checked>") && html.contains(&agent),
        "{html}"
    );
}
