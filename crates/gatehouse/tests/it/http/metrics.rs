//! `/metrics` (issue 15 §2): the series an operator watches move when the issuer, SCIM and the
//! gateway work, scraped from the one app with the bearer token; refused without it, absent
//! when no token is configured. Counters are per process and other tests run beside these, so
//! each assertion compares a series before and after the test's own requests.
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::test;
use authz_core::testkit::world;
use issuer::RateLimits;
use serde_json::{json, Value};

use super::issuer::common::*;
use super::world::Node;

const TOKEN: &str = "metrics-token-0123456789abcdef";

/// The value of one series (`name{labels}` exactly as exposed), 0 when absent.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.split(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

fn present(text: &str, series: &str) -> bool {
    text.lines()
        .any(|l| l.strip_prefix(series).is_some_and(|r| r.starts_with(' ')))
}

async fn get_metrics<S, B>(app: &S, token: Option<&str>) -> ServiceResponse<B>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let mut req = test::TestRequest::get().uri("/metrics");
    if let Some(t) = token {
        req = req.insert_header(("authorization", format!("Bearer {t}")));
    }
    test::call_service(app, req.to_request()).await
}

async fn scrape<S, B>(app: &S) -> String
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let r = get_metrics(app, Some(TOKEN)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let ct = r
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    body_text(r).await
}

/// Asserts that each series grew between the two scrapes.
fn moved(before: &str, after: &str, series: &[&str]) {
    for s in series {
        assert!(
            value(after, s) > value(before, s),
            "{s} did not move: {} -> {}\n{after}",
            value(before, s),
            value(after, s)
        );
    }
}

/// Installs the binary's subscriber for the test process, writing no lines: it turns the
/// database pool's hand-out events into the pool-wait histogram, as in `gatehouse serve`. It is
/// the process-wide default, as in the binary (a thread's scoped default misses events: tracing
/// caches each event site's interest across threads, and the other tests' threads meet sqlx's
/// event site with no subscriber).
fn binary_subscriber() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = tracing::subscriber::set_global_default(gatehouse::logging::subscriber(
            gatehouse::logging::Format::Text,
            "off",
            std::io::sink,
        ));
    });
}

#[actix_web::test]
async fn every_series_moves_with_the_requests_that_feed_it() {
    binary_subscriber();
    let mut fx = fixture().await;
    fx.state = fx.state.clone().with_rate_limits(RateLimits {
        introspections_per_rs: 2,
        ..RateLimits::default()
    });
    let scim_token = world::scim_token(&fx.store, &fx.clock, &fx.acme.id, "entra", 86_400).await;
    let app = Node::with_issuer(fx.state.clone())
        .metrics_token(TOKEN)
        .app()
        .await;
    let before = scrape(&app).await;

    // A code exchange and a refresh.
    let client = register_public(&app, REDIRECT).await;
    let code = code_for(&app, &fx, &client, REDIRECT, "crm:customers:read").await;
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", VERIFIER),
        ("redirect_uri", REDIRECT),
        ("client_id", client.as_str()),
    ];
    let (s, t1) = token(&app, &exchange).await;
    assert_eq!(s, StatusCode::OK, "{t1}");
    let rt1 = t1["refresh_token"].as_str().unwrap().to_string();
    // Introspections: one active, one not, and the third over the resource server's limit.
    let rs = Some((fx.rs.0.as_str(), fx.rs.1.as_str()));
    let access = t1["access_token"].as_str().unwrap();
    let (_, i) = post_form(&app, "/oauth/introspect", &[("token", access)], rs).await;
    assert_eq!(i["active"], true);
    let (_, i) = post_form(&app, "/oauth/introspect", &[("token", "nope")], rs).await;
    assert_eq!(i["active"], false);
    let (s, _) = post_form(&app, "/oauth/introspect", &[("token", "nope")], rs).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt1.as_str()),
        ("client_id", client.as_str()),
    ];
    let (s, t2) = token(&app, &refresh).await;
    assert_eq!(s, StatusCode::OK, "{t2}");
    // The rotated-out refresh token again, past any retry grace window: reuse, the family is
    // revoked.
    fx.clock.advance_secs(120);
    let (s, e) = token(&app, &refresh).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // A SCIM create.
    let r = test::call_service(
        &app,
        test::TestRequest::post()
            .uri("/scim/v2/acme/Users")
            .insert_header(("authorization", format!("Bearer {scim_token}")))
            .insert_header(("content-type", "application/scim+json"))
            .set_payload(
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                       "userName": "bob@acme.test", "active": true})
                .to_string(),
            )
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);

    let after = scrape(&app).await;
    moved(
        &before,
        &after,
        &[
            r#"gatehouse_http_requests_total{route="/oauth/token",method="POST",status="200"}"#,
            r#"gatehouse_http_requests_total{route="/oauth/token",method="POST",status="400"}"#,
            r#"gatehouse_http_requests_total{route="/scim/v2/{tenant}/Users",method="POST",status="201"}"#,
            r#"gatehouse_http_request_duration_seconds_count{route="/oauth/token",method="POST"}"#,
            r#"gatehouse_grants_total{grant_type="authorization_code",result="ok"}"#,
            r#"gatehouse_grants_total{grant_type="refresh_token",result="ok"}"#,
            r#"gatehouse_grants_total{grant_type="refresh_token",result="invalid_grant"}"#,
            r#"gatehouse_introspections_total{active="true"}"#,
            r#"gatehouse_introspections_total{active="false"}"#,
            r#"gatehouse_replays_detected_total{credential="refresh_token"}"#,
            r#"gatehouse_scim_operations_total{resource="Users",operation="create",status="201"}"#,
            r#"gatehouse_rate_limited_total{limit="/oauth/introspect"}"#,
            // Each statement above waited for a pooled connection (most for no time at all).
            "gatehouse_db_pool_acquire_wait_seconds_count",
        ],
    );
    assert!(
        present(
            &after,
            r#"gatehouse_db_pool_acquire_wait_seconds_bucket{le="0.0001"}"#
        ),
        "{after}"
    );
    assert!(present(
        &after,
        "gatehouse_db_pool_acquire_wait_seconds_sum"
    ));
    assert!(present(&after, "gatehouse_db_unavailable_total"), "{after}");
    // Latency buckets, and routes as patterns: never a raw path with a tenant or an id.
    assert!(
        present(
            &after,
            r#"gatehouse_http_request_duration_seconds_bucket{le="0.005",route="/oauth/token",method="POST"}"#
        ),
        "{after}"
    );
    assert!(!after.contains("route=\"/scim/v2/acme"), "{after}");
    // Gauges read at scrape time: the sealer has not run in this test, so the records of the
    // grants above are unsealed; the pool is this store's.
    assert!(
        value(&after, "gatehouse_audit_unsealed_records") >= 1.0,
        "{after}"
    );
    assert!(
        present(&after, "gatehouse_audit_oldest_unsealed_age_seconds"),
        "{after}"
    );
    assert!(
        present(&after, "gatehouse_audit_checkpoint_age_seconds"),
        "{after}"
    );
    assert!(present(&after, "gatehouse_mail_outbox_depth"), "{after}");
    assert!(
        value(&after, "gatehouse_db_pool_max_connections") >= 1.0,
        "{after}"
    );
    assert!(
        present(&after, r#"gatehouse_db_pool_connections{state="in_use"}"#),
        "{after}"
    );
    assert!(
        present(&after, r#"gatehouse_db_pool_connections{state="idle"}"#),
        "{after}"
    );
    assert!(after.ends_with("# EOF\n"));
}

#[actix_web::test]
async fn the_route_needs_the_token_and_is_absent_without_one() {
    let fx = fixture().await;
    let guarded = Node::with_issuer(fx.state.clone())
        .metrics_token(TOKEN)
        .app()
        .await;
    for token in [None, Some("metrics-token-0123456789abcdeX"), Some("")] {
        let r = get_metrics(&guarded, token).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{token:?}");
        assert!(r
            .headers()
            .get("www-authenticate")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("Bearer"));
        assert!(body_text(r).await.is_empty());
    }
    let open = app(&fx).await;
    for token in [None, Some(TOKEN)] {
        let r = get_metrics(&open, token).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{token:?}");
    }
}

#[actix_web::test]
async fn gateway_calls_are_counted_by_catalogued_tool_and_result() {
    use super::gateway::fixture::{self, call};
    let gw = fixture::start().await;
    let node = Node::new(&gw.w.store, &gw.w.clock, world::ISSUER)
        .metrics_token(TOKEN)
        .app()
        .await;
    let before = scrape(&node).await;
    let token = gw.token(&[world::READ]).await;
    let r = gw
        .post(Some(&token), &call(1, "list_customers", json!({})))
        .await;
    assert_eq!(r.status(), 200);
    let _: Value = r.json().await.unwrap();
    // A name outside the catalogue is counted, but not as a series of its own.
    let r = gw
        .post(Some(&token), &call(2, "export_everything_9f2", json!({})))
        .await;
    assert_eq!(r.status(), 403);
    let after = scrape(&node).await;
    moved(
        &before,
        &after,
        &[
            r#"gatehouse_gateway_calls_total{tool="list_customers",result="success"}"#,
            r#"gatehouse_gateway_calls_total{tool="unknown",result="denied"}"#,
        ],
    );
    assert!(!after.contains("export_everything_9f2"), "{after}");
}

/// The metric names a PromQL expression uses (`gatehouse_…`).
fn names_in(expr: &str) -> Vec<String> {
    let mut out = vec![];
    let mut rest = expr;
    while let Some(i) = rest.find("gatehouse_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        out.push(tail[..end].to_string());
        rest = &tail[end..];
    }
    out
}

/// Every name is a family of the exposition (`# TYPE` line), or one of its samples.
fn assert_exposed(exposition: &str, expr: &str, what: &str) {
    let families: Vec<&str> = exposition
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next())
        .collect();
    let names = names_in(expr);
    assert!(!names.is_empty(), "{what}: no gatehouse_ series in {expr}");
    for n in names {
        let known = families.iter().any(|f| {
            n == *f
                || ["_total", "_bucket", "_count", "_sum"]
                    .iter()
                    .any(|s| n == format!("{f}{s}"))
        });
        assert!(known, "{what}: {n} is not exposed by /metrics");
    }
}

fn deploy_file(path: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[actix_web::test]
async fn the_dashboard_and_the_alert_rules_use_only_exposed_series() {
    let fx = fixture().await;
    let app = Node::with_issuer(fx.state.clone())
        .metrics_token(TOKEN)
        .app()
        .await;
    let exposition = scrape(&app).await;

    let dash: Value = serde_json::from_str(&deploy_file("grafana/gatehouse.json")).unwrap();
    let panels = dash["panels"].as_array().expect("panels");
    assert!(panels.len() >= 10);
    for p in panels {
        let targets = p["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{}", p["title"]);
        for t in targets {
            assert_exposed(
                &exposition,
                t["expr"].as_str().unwrap(),
                p["title"].as_str().unwrap(),
            );
        }
    }

    use yaml_rust2::YamlLoader;
    let docs = YamlLoader::load_from_str(&deploy_file("prometheus/alerts.yml")).expect("YAML");
    let rules = docs[0]["groups"][0]["rules"]
        .as_vec()
        .expect("groups[0].rules");
    let mut alerts = vec![];
    for r in rules {
        let name = r["alert"].as_str().expect("alert name");
        assert!(
            r["labels"]["severity"].as_str().is_some(),
            "{name}: severity"
        );
        assert!(
            r["annotations"]["summary"].as_str().is_some(),
            "{name}: summary"
        );
        assert_exposed(&exposition, r["expr"].as_str().expect("expr"), name);
        alerts.push(name.to_string());
    }
    for wanted in [
        "GatehouseAuditSealerLagging",
        "GatehouseHighServerErrorRate",
        "GatehouseDbPoolSaturated",
        "GatehouseDbPoolWaits",
        "GatehouseGrantErrorRate",
    ] {
        assert!(alerts.iter().any(|a| a == wanted), "{wanted} in {alerts:?}");
    }
}
