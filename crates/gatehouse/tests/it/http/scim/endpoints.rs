//! The SCIM endpoints' contract beyond the recorded IdP sequences: errors in RFC 7644 §3.12
//! form, limits, ETags, paging and sorting, Bulk, tenant isolation and concurrent membership
//! changes. Runs on SQLite and on PostgreSQL (GATEHOUSE_TEST_DATABASE_URL).
use super::common;

use common::*;
use serde_json::{json, Value};

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

async fn create_user<S, B>(app: &S, fx: &Fx, name: &str) -> String
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let r = call(app, fx, "POST", "/Users", Some(user(name))).await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.json);
    r.json["id"].as_str().unwrap().to_string()
}

#[actix_web::test]
async fn bad_requests_get_scim_errors_never_500() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let raw = |body: &str| Some(body.as_bytes().to_vec());
    let token = Some(fx.acme_token.as_str());
    // Malformed JSON.
    let r = call_raw(
        &app,
        "POST",
        "/scim/v2/acme/Users",
        token,
        raw("{\"userName\": "),
        &[],
    )
    .await;
    error_body(&r, 400);
    assert_eq!(r.json["scimType"], "invalidSyntax");
    // Not an object.
    let r = call_raw(
        &app,
        "POST",
        "/scim/v2/acme/Users",
        token,
        raw("[1,2]"),
        &[],
    )
    .await;
    error_body(&r, 400);
    // Unknown schema.
    let mut u = user("x1");
    u["schemas"] = json!(["urn:example:custom:2.0:Thing"]);
    let r = call(&app, &fx, "POST", "/Users", Some(u)).await;
    error_body(&r, 400);
    assert_eq!(r.json["scimType"], "invalidValue");
    // Wrong types.
    let mut u = user("x2");
    u["active"] = json!({"yes": 1});
    let r = call(&app, &fx, "POST", "/Users", Some(u)).await;
    error_body(&r, 400);
    let mut u = user("x3");
    u["name"] = json!(42);
    let r = call(&app, &fx, "POST", "/Users", Some(u)).await;
    error_body(&r, 400);
    // Unknown attribute.
    let mut u = user("x4");
    u["favouriteColour"] = json!("blue");
    let r = call(&app, &fx, "POST", "/Users", Some(u)).await;
    error_body(&r, 400);
    assert_eq!(r.json["scimType"], "invalidPath");
    // Missing userName.
    let r = call(
        &app,
        &fx,
        "POST",
        "/Users",
        Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]})),
    )
    .await;
    error_body(&r, 400);
    // Bad filter, bad sort, bad paging.
    let r = call(&app, &fx, "GET", "/Users?filter=userName eq", None).await;
    error_body(&r, 400);
    assert_eq!(r.json["scimType"], "invalidFilter");
    let r = call(&app, &fx, "GET", "/Users?filter=password eq \"x\"", None).await;
    error_body(&r, 400);
    assert_eq!(r.json["scimType"], "invalidFilter");
    let r = call(&app, &fx, "GET", "/Users?sortBy=emails", None).await;
    error_body(&r, 400);
    let r = call(&app, &fx, "GET", "/Users?count=many", None).await;
    error_body(&r, 400);
    // PATCH errors.
    let id = create_user(&app, &fx, "patchme").await;
    let r = call(
        &app,
        &fx,
        "PATCH",
        &format!("/Users/{id}"),
        Some(json!({"Operations": [{"op": "replace", "path": "active", "value": false}]})),
    )
    .await;
    error_body(&r, 400);
    let r = call(
        &app,
        &fx,
        "PATCH",
        &format!("/Users/{id}"),
        Some(json!({"schemas": [PATCH_OP], "Operations": [{"op": "explode", "path": "active"}]})),
    )
    .await;
    error_body(&r, 400);
    let r = call(&app, &fx, "PATCH", &format!("/Users/{id}"), Some(json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "id", "value": "other"}]}))).await;
    error_body(&r, 400);
    assert_eq!(r.json["scimType"], "mutability");
    // Unknown resources and endpoints.
    let r = call(
        &app,
        &fx,
        "GET",
        "/Users/00000000-0000-0000-0000-000000000000",
        None,
    )
    .await;
    error_body(&r, 404);
    let r = call(&app, &fx, "GET", "/Widgets", None).await;
    error_body(&r, 404);
    let r = call(&app, &fx, "DELETE", "/ServiceProviderConfig", None).await;
    error_body(&r, 405);
    let r = call(&app, &fx, "GET", "/Me", None).await;
    error_body(&r, 501);
    // Nothing was created by the refused requests.
    let r = call(&app, &fx, "GET", "/Users?count=0", None).await;
    assert_eq!(r.json["totalResults"], 1);
}

/// RFC 7644 §3.4.2.2: a filter naming an attribute the server does not support is a 400 with
/// `scimType: invalidFilter`; `invalidPath` stays for PATCH paths and unknown sort attributes.
#[actix_web::test]
async fn a_filter_on_an_unknown_attribute_is_invalid_filter() {
    let fx = fixture().await;
    let app = app(&fx).await;
    for path in [
        "/Users?filter=favouriteColour eq \"blue\"",
        "/Users?filter=password eq \"x\"",
        "/Users?filter=userName eq \"a\" or tenant_id pr",
        "/Users?filter=emails[display eq \"x\"]",
        "/Groups?filter=colour eq \"x\"",
    ] {
        let r = call(&app, &fx, "GET", path, None).await;
        error_body(&r, 400);
        assert_eq!(r.json["scimType"], "invalidFilter", "{path}: {}", r.json);
        assert!(
            r.json["detail"]
                .as_str()
                .unwrap_or("")
                .contains("filtered on"),
            "{path}: {}",
            r.json
        );
    }
    let r = call(&app, &fx, "GET", "/Users?sortBy=password", None).await;
    error_body(&r, 400);
    assert_eq!(r.json["scimType"], "invalidPath");
}

#[actix_web::test]
async fn oversized_bodies_are_413_as_advertised() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let spc = call(&app, &fx, "GET", "/ServiceProviderConfig", None).await;
    let max = spc.json["bulk"]["maxPayloadSize"].as_u64().unwrap() as usize;
    let mut u = user("big");
    u["nickName"] = json!("x".repeat(max + 1));
    let r = call(&app, &fx, "POST", "/Users", Some(u)).await;
    error_body(&r, 413);
}

#[actix_web::test]
async fn duplicate_user_name_is_409_uniqueness_case_insensitively() {
    let fx = fixture().await;
    let app = app(&fx).await;
    create_user(&app, &fx, "Dup.User@acme.test").await;
    let r = call(
        &app,
        &fx,
        "POST",
        "/Users",
        Some(user("dup.user@ACME.test")),
    )
    .await;
    error_body(&r, 409);
    assert_eq!(r.json["scimType"], "uniqueness");
    // Renaming another user onto the name is refused too.
    let other = create_user(&app, &fx, "other").await;
    let r = call(&app, &fx, "PATCH", &format!("/Users/{other}"), Some(json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "userName", "value": "DUP.user@acme.test"}]}))).await;
    error_body(&r, 409);
}

#[actix_web::test]
async fn etags_version_every_change_and_if_match_guards_writes() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let r = call(&app, &fx, "POST", "/Users", Some(user("etag"))).await;
    let id = r.json["id"].as_str().unwrap().to_string();
    let v1 = r.header("etag").expect("ETag on create");
    assert_eq!(r.json["meta"]["version"], v1.as_str());
    let path = format!("/scim/v2/acme/Users/{id}");
    let tok = Some(fx.acme_token.as_str());
    let patch = |v: bool| {
        Some(json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": format!("D{v}")}]}).to_string().into_bytes())
    };
    let r = call_raw(&app, "PATCH", &path, tok, patch(true), &[("if-match", &v1)]).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.json);
    let v2 = r.header("etag").unwrap();
    assert_ne!(v1, v2);
    // A writer still holding v1 is refused, and nothing changes.
    let r = call_raw(
        &app,
        "PATCH",
        &path,
        tok,
        patch(false),
        &[("if-match", &v1)],
    )
    .await;
    error_body(&r, 412);
    let r = call_raw(
        &app,
        "PUT",
        &path,
        tok,
        Some(user("etag").to_string().into_bytes()),
        &[("if-match", &v1)],
    )
    .await;
    error_body(&r, 412);
    let r = call_raw(&app, "DELETE", &path, tok, None, &[("if-match", &v1)]).await;
    error_body(&r, 412);
    let r = call_raw(&app, "GET", &path, tok, None, &[("if-none-match", &v2)]).await;
    assert_eq!(r.status.as_u16(), 304);
    let r = call(&app, &fx, "GET", &format!("/Users/{id}"), None).await;
    assert_eq!(r.json["displayName"], "Dtrue");
    let r = call_raw(&app, "DELETE", &path, tok, None, &[("if-match", &v2)]).await;
    assert_eq!(r.status.as_u16(), 204);
}

#[actix_web::test]
async fn lists_filter_sort_page_and_project_in_the_database() {
    let fx = fixture().await;
    let app = app(&fx).await;
    for n in ["carol", "alice", "bob", "dave", "erin"] {
        create_user(&app, &fx, n).await;
    }
    let r = call(
        &app,
        &fx,
        "GET",
        "/Users?sortBy=userName&sortOrder=descending&startIndex=2&count=2&attributes=userName",
        None,
    )
    .await;
    assert_eq!(r.json["totalResults"], 5);
    assert_eq!(r.json["startIndex"], 2);
    assert_eq!(r.json["itemsPerPage"], 2);
    let names: Vec<&str> = r.json["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dave", "carol"]);
    let first = &r.json["Resources"][0];
    assert!(
        first.get("emails").is_none() && first.get("id").is_some(),
        "{first}"
    );
    let r = call(&app, &fx, "GET", "/Users?filter=emails[type eq \"work\" and value sw \"B\"] or userName eq \"ERIN\"&sortBy=userName", None).await;
    let names: Vec<&str> = r.json["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bob", "erin"]);
    let r = call(
        &app,
        &fx,
        "GET",
        "/Users?excludedAttributes=emails,name",
        None,
    )
    .await;
    assert!(r.json["Resources"][0].get("emails").is_none());
    let r = call(&app, &fx, "POST", "/Users/.search", Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "name.givenName co \"li\"", "attributes": ["userName"]}))).await;
    assert_eq!(r.json["totalResults"], 1, "{}", r.json);
    assert_eq!(r.json["Resources"][0]["userName"], "alice");
}

#[actix_web::test]
async fn tenants_are_isolated_by_token_and_by_filter() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let alice_acme = create_user(&app, &fx, "alice").await;
    // Beta's token on acme's base URL, and acme's on beta's: 401.
    let r = call_raw(
        &app,
        "GET",
        "/scim/v2/acme/Users",
        Some(&fx.beta_token),
        None,
        &[],
    )
    .await;
    error_body(&r, 401);
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    let r = call_raw(
        &app,
        "GET",
        &format!("/scim/v2/beta/Users/{alice_acme}"),
        Some(&fx.acme_token),
        None,
        &[],
    )
    .await;
    error_body(&r, 401);
    let r = call_raw(
        &app,
        "GET",
        "/scim/v2/nosuch/Users",
        Some(&fx.acme_token),
        None,
        &[],
    )
    .await;
    error_body(&r, 401);
    let r = call_raw(&app, "GET", "/scim/v2/acme/Users", None, None, &[]).await;
    error_body(&r, 401);
    // Beta has its own alice; filters and ids never reach across.
    let r = call_raw(
        &app,
        "POST",
        "/scim/v2/beta/Users",
        Some(&fx.beta_token),
        Some(user("alice").to_string().into_bytes()),
        &[],
    )
    .await;
    assert_eq!(
        r.status.as_u16(),
        201,
        "the same userName in another tenant is not a conflict"
    );
    let alice_beta = r.json["id"].as_str().unwrap().to_string();
    let r = call(
        &app,
        &fx,
        "GET",
        &format!("/Users?filter=userName eq \"alice\" or id eq \"{alice_beta}\""),
        None,
    )
    .await;
    assert_eq!(r.json["totalResults"], 1);
    assert_eq!(r.json["Resources"][0]["id"], alice_acme.as_str());
    let r = call(&app, &fx, "GET", &format!("/Users/{alice_beta}"), None).await;
    error_body(&r, 404);
    let r = call(&app, &fx, "DELETE", &format!("/Users/{alice_beta}"), None).await;
    error_body(&r, 404);
    // Another tenant's user cannot be made a member.
    let r = call(&app, &fx, "POST", "/Groups", Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "g", "members": [{"value": alice_beta}]}))).await;
    error_body(&r, 400);
    let r = call(
        &app,
        &fx,
        "GET",
        &format!("/Groups?filter=members[value eq \"{alice_beta}\"]"),
        None,
    )
    .await;
    assert_eq!(r.json["totalResults"], 0);
}

#[actix_web::test]
async fn rate_limit_answers_429_with_retry_after() {
    let fx = fixture_with_rate(3).await;
    let app = app(&fx).await;
    for _ in 0..3 {
        let r = call(&app, &fx, "GET", "/Users", None).await;
        assert_eq!(r.status.as_u16(), 200);
    }
    let r = call(&app, &fx, "GET", "/Users", None).await;
    error_body(&r, 429);
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait));
}

#[actix_web::test]
async fn bulk_resolves_bulk_ids_and_stops_after_fail_on_errors() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let r = call(&app, &fx, "POST", "/Bulk", Some(json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "u1", "data": user("bulk1")},
            {"method": "POST", "path": "/Users", "bulkId": "u2", "data": user("bulk2")},
            {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Bulk", "members": [{"value": "bulkId:u1"}, {"value": "bulkId:u2"}]}},
            {"method": "PATCH", "path": "/Users/bulkId:u2", "data": {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": false}]}},
            {"method": "DELETE", "path": "/Users/bulkId:nope"}
        ]
    }))).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.json);
    let ops = r.json["Operations"].as_array().unwrap();
    let statuses: Vec<&str> = ops.iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["201", "201", "201", "200", "409"]);
    assert!(ops[2]["location"].as_str().unwrap().contains("/Groups/"));
    let g = call(
        &app,
        &fx,
        "GET",
        "/Groups?filter=displayName eq \"Bulk\"",
        None,
    )
    .await;
    assert_eq!(
        g.json["Resources"][0]["members"].as_array().unwrap().len(),
        2
    );
    // failOnErrors: 1 stops at the first failure.
    let r = call(
        &app,
        &fx,
        "POST",
        "/Bulk",
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "failOnErrors": 1,
            "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "a", "data": user("bulk1")},
                {"method": "POST", "path": "/Users", "bulkId": "b", "data": user("bulk3")}
            ]
        })),
    )
    .await;
    let ops = r.json["Operations"].as_array().unwrap();
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0]["status"], "409");
    assert_eq!(ops[0]["response"]["scimType"], "uniqueness");
    let r = call(
        &app,
        &fx,
        "GET",
        "/Users?filter=userName eq \"bulk3\"",
        None,
    )
    .await;
    assert_eq!(r.json["totalResults"], 0);
    // Not a bulk request.
    let r = call(&app, &fx, "POST", "/Bulk", Some(json!({"Operations": []}))).await;
    error_body(&r, 400);
}

/// Entra ID sends membership PATCHes for one group in parallel: none may be lost.
#[actix_web::test]
async fn concurrent_member_patches_to_one_group_lose_no_member() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let mut ids = Vec::new();
    for i in 0..40 {
        ids.push(create_user(&app, &fx, &format!("m{i:02}")).await);
    }
    let g = call(&app, &fx, "POST", "/Groups", Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Parallel"}))).await;
    let gid = g.json["id"].as_str().unwrap().to_string();
    let gpath = format!("/Groups/{gid}");
    let patches = ids.iter().map(|id| {
        let body = json!({"schemas": [PATCH_OP], "Operations": [{"op": "Add", "path": "members", "value": [{"value": id, "$ref": null}]}]});
        call(&app, &fx, "PATCH", &gpath, Some(body))
    });
    for r in futures::future::join_all(patches).await {
        assert!(r.status.is_success(), "{}", r.json);
    }
    let r = call(&app, &fx, "GET", &format!("/Groups/{gid}"), None).await;
    let members: Vec<Value> = r.json["members"].as_array().unwrap().clone();
    assert_eq!(
        members.len(),
        40,
        "no member lost under {} parallel PATCHes",
        ids.len()
    );
    // Parallel removals of half, while the other half is re-added: exactly the kept half stays.
    let (gone, kept) = ids.split_at(20);
    let ops = gone
        .iter()
        .map(|id| json!({"schemas": [PATCH_OP], "Operations": [{"op": "Remove", "path": "members", "value": [{"value": id}]}]}))
        .chain(kept.iter().map(|id| json!({"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": [{"value": id}]}]})))
        .map(|b| call(&app, &fx, "PATCH", &gpath, Some(b)));
    for r in futures::future::join_all(ops).await {
        assert!(r.status.is_success(), "{}", r.json);
    }
    let r = call(&app, &fx, "GET", &format!("/Groups/{gid}"), None).await;
    let before = r.header("etag").unwrap();
    let mut got: Vec<String> = r.json["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_string())
        .collect();
    got.sort();
    let mut want = kept.to_vec();
    want.sort();
    assert_eq!(got, want);
    // Deleting a member changes the group: its ETag moves on.
    call(&app, &fx, "DELETE", &format!("/Users/{}", kept[0]), None).await;
    let r = call(&app, &fx, "GET", &format!("/Groups/{gid}"), None).await;
    assert_ne!(r.header("etag").unwrap(), before);
    assert_eq!(r.json["members"].as_array().unwrap().len(), 19);
}

#[actix_web::test]
async fn discovery_describes_what_writes_accept() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let spc = call(&app, &fx, "GET", "/ServiceProviderConfig", None).await;
    for f in ["patch", "bulk", "filter", "sort", "etag"] {
        assert_eq!(spc.json[f]["supported"], true, "{f}");
    }
    assert_eq!(spc.json["changePassword"]["supported"], false);
    let rts = call(&app, &fx, "GET", "/ResourceTypes", None).await;
    assert_eq!(rts.json["totalResults"], 2);
    let user_schema = call(
        &app,
        &fx,
        "GET",
        "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
        None,
    )
    .await;
    let attrs = user_schema.json["attributes"].as_array().unwrap();
    let user_name = attrs.iter().find(|a| a["name"] == "userName").unwrap();
    assert_eq!(user_name["uniqueness"], "server");
    assert_eq!(user_name["required"], true);
    let password = attrs.iter().find(|a| a["name"] == "password").unwrap();
    assert_eq!(password["returned"], "never");
    // A password is accepted and never stored or returned.
    let mut u = user("pw");
    u["password"] = json!("hunter2!");
    let r = call(&app, &fx, "POST", "/Users", Some(u)).await;
    assert_eq!(r.status.as_u16(), 201);
    assert!(r.json.get("password").is_none());
    assert!(!r.json.to_string().contains("hunter2"));
}
