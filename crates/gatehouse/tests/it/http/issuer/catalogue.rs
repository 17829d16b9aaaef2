//! The consent page lists, under each scope offered, the tools that scope enables (issue 13
//! §2), from the catalogue as stored now: a tool the operator adds shows on the next page.
use super::common;

use actix_web::http::StatusCode;
use actix_web::test;
use authz_core::resource::ToolSpec;
use common::*;

/// The consent page's HTML for an authorization request asking `scope`.
async fn consent_page<S, B>(app: &S, fx: &Fx, client_id: &str, scope: &str) -> String
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let mut req =
        test::TestRequest::get().uri(&authorize_url(client_id, REDIRECT, &[("scope", scope)]));
    for c in browser_cookies(Some(&fx.acme.session_cookie)) {
        req = req.cookie(c);
    }
    let r = test::call_service(app, req.to_request()).await;
    let path = location(&r).trim_start_matches(ISSUER).to_string();
    let mut req = test::TestRequest::get().uri(&path);
    for c in browser_cookies(Some(&fx.acme.session_cookie)) {
        req = req.cookie(c);
    }
    let r = test::call_service(app, req.to_request()).await;
    assert_eq!(r.status(), StatusCode::OK);
    body_text(r).await
}

/// The part of the page between scope `name`'s checkbox and the next scope's.
fn section<'a>(html: &'a str, name: &str) -> &'a str {
    let start = html
        .find(&format!("value=\"{name}\""))
        .unwrap_or_else(|| panic!("scope {name} offered:\n{html}"));
    let rest = &html[start..];
    let end = rest[1..]
        .find("<input type=\"checkbox\"")
        .map(|i| i + 1)
        .unwrap_or(rest.len());
    &rest[..end]
}

#[actix_web::test]
async fn the_consent_page_lists_under_each_scope_the_tools_it_enables() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let client_id = register_public(&app, REDIRECT).await;
    let scopes = "crm:customers:read crm:customers:export";
    let html = consent_page(&app, &fx, &client_id, scopes).await;
    assert!(
        section(&html, "crm:customers:read").contains("list_customers"),
        "{html}"
    );
    assert!(!section(&html, "crm:customers:export").contains("list_customers"));

    // The operator adds a described tool that needs both scopes: the next page shows it under
    // each of them.
    let op = app::Operator::cli();
    let (_, mut spec) = app::resource::show(&fx.store, &op, RES).await.unwrap();
    spec.tools.push(ToolSpec {
        name: "export_customers".into(),
        scopes: vec!["crm:customers:read".into(), "crm:customers:export".into()],
        description: Some("Export <all> customers".into()),
    });
    app::resource::update(&fx.store, &fx.clock, &op, RES, spec, false)
        .await
        .unwrap();
    let html = consent_page(&app, &fx, &client_id, scopes).await;
    let export = section(&html, "crm:customers:export");
    assert!(export.contains("export_customers"), "{html}");
    assert!(!export.contains("list_customers"), "{export}");
    assert!(
        export.contains("Export &lt;all&gt; customers"),
        "the description is shown, escaped: {export}"
    );
    assert!(section(&html, "crm:customers:read").contains("export_customers"));
}
