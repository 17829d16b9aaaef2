//! The admin API reference at `/admin/api/v1/docs` (issue 16 §4): rendered by Gatehouse from
//! its OpenAPI document, every operation listed, nothing loaded from another origin.
use actix_web::test;
use authz_core::testkit;
use serde_json::Value;

async fn get(path: &str) -> (u16, String, String, String) {
    let store = testkit::store().await;
    let clock = testkit::clock();
    let app = crate::http::world::Node::new(&store, &clock, "http://gatehouse.test")
        .app()
        .await;
    let r = test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
    let status = r.status().as_u16();
    let header = |name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (ct, csp) = (header("content-type"), header("content-security-policy"));
    let body = test::read_body(r).await;
    (status, ct, csp, String::from_utf8_lossy(&body).into_owned())
}

/// Undoes the page's HTML escaping of the few characters a path or summary can hold.
fn unescape(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[actix_web::test]
async fn the_reference_lists_every_operation_of_the_openapi_document() {
    let (s, _, _, doc) = get("/admin/api/v1/openapi.json").await;
    assert_eq!(s, 200);
    let doc: Value = serde_json::from_str(&doc).unwrap();
    let (s, ct, csp, html) = get("/admin/api/v1/docs").await;
    assert_eq!(s, 200, "{html}");
    assert!(ct.starts_with("text/html"), "{ct}");
    let page = unescape(&html);
    let base = doc["servers"][0]["url"].as_str().unwrap();
    let paths = doc["paths"].as_object().unwrap();
    assert!(!paths.is_empty());
    let mut operations = 0;
    for (path, item) in paths {
        let full = format!("{base}{path}");
        assert!(page.contains(&full), "{full} is missing from the reference");
        for (method, op) in item.as_object().unwrap() {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            operations += 1;
            let summary = op["summary"].as_str().unwrap_or_default();
            assert!(
                page.contains(summary),
                "{method} {path}: summary {summary:?} missing"
            );
            let anchor = format!(
                "id=\"op-{}\"",
                op["operationId"]
                    .as_str()
                    .unwrap()
                    .replace(|c: char| !c.is_ascii_alphanumeric(), "-")
            );
            assert!(page.contains(&anchor), "{method} {path}: no {anchor}");
        }
    }
    assert_eq!(
        page.matches("class=\"panel op\"").count(),
        operations,
        "one section per operation"
    );
    // Request bodies, responses and security are shown, by schema and scheme name.
    for needle in ["Request body", "Responses", "Problem", "bearer", "public"] {
        assert!(page.contains(needle), "{needle} missing");
    }
    // Every in-page link (operations, schemas) lands on something.
    for link in page.split("href=\"#").skip(1) {
        let target = &link[..link.find('"').unwrap()];
        assert!(
            page.contains(&format!("id=\"{target}\"")),
            "#{target} has no target"
        );
    }
    assert!(
        page.contains("href=\"#schema-Problem\""),
        "schema names link to their section"
    );
    // Built offline: no script at all, and nothing from another origin (no CDN).
    assert!(!page.contains("<script"), "the reference needs no script");
    for attr in [
        "src=\"http",
        "href=\"http",
        "src=\"//",
        "href=\"//",
        "url(http",
        "@import",
    ] {
        assert!(!page.contains(attr), "external resource: {attr}");
    }
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(!csp.contains("http"), "{csp}");
}
