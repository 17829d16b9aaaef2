//! PATCH end to end with bodies as Entra ID and Okta send them: parsing, application to a
//! resource, the membership deltas, and the refusals a client would see.
use scim::patch::{apply, PatchError, PatchOutcome, PatchRequest, PatchSchema};
use serde_json::{json, Value};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn request(ops: Value) -> PatchRequest {
    PatchRequest::from_json(&json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": ops
    }))
    .unwrap_or_else(|e| panic!("{e}"))
}

fn user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "bjensen",
        "userName": "bjensen@example.com",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "active": true,
        "emails": [{"value": "bjensen@example.com", "type": "home", "primary": true}],
        "meta": {"resourceType": "User", "version": "W/\"3\""}
    })
}

fn group(members: &[&str]) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
        "displayName": "Tour Guides",
        "members": members.iter().map(|m| json!({"value": m})).collect::<Vec<_>>()
    })
}

fn patch_user(resource: &mut Value, ops: Value) -> Result<PatchOutcome, PatchError> {
    apply(resource, &request(ops), &PatchSchema::user())
}

fn patch_group(resource: &mut Value, ops: Value) -> Result<PatchOutcome, PatchError> {
    apply(resource, &request(ops), &PatchSchema::group())
}

fn member_ids(group: &Value) -> Vec<&str> {
    group["members"]
        .as_array()
        .map(|m| m.iter().map(|m| m["value"].as_str().unwrap()).collect())
        .unwrap_or_default()
}

fn refused(result: Result<PatchOutcome, PatchError>) -> PatchError {
    match result {
        Err(e) => e,
        Ok(o) => panic!("expected an error, got {o:?}"),
    }
}

#[test]
fn entra_deactivation_with_a_string_boolean() {
    let body = br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}"#;
    let req = PatchRequest::from_slice(body).unwrap();
    let mut u = user();
    let out = apply(&mut u, &req, &PatchSchema::user()).unwrap();
    assert!(out.changed);
    assert_eq!(u["active"], json!(false));
    assert_eq!(out.members_added, Vec::<String>::new());
    assert_eq!(out.members_replaced, None);

    // The same again changes nothing.
    let out = apply(&mut u, &req, &PatchSchema::user()).unwrap();
    assert!(!out.changed);
}

#[test]
fn entra_pathless_replace_with_dotted_keys() {
    let mut u = user();
    patch_user(
        &mut u,
        json!([{"op": "Replace", "value": {
            "name.givenName": "Jo",
            "name.familyName": "Doe",
            "active": "False",
            "displayName": "Jo Doe",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Sales",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager": "26118915-6090-4610-87e4-49d8ca9f808d"
        }}]),
    )
    .unwrap();
    assert_eq!(u["name"], json!({"givenName": "Jo", "familyName": "Doe"}));
    assert_eq!(u["active"], json!(false));
    assert_eq!(u["displayName"], json!("Jo Doe"));
    assert_eq!(u[ENTERPRISE]["department"], json!("Sales"));
    // A bare id for the complex `manager` becomes {"value": id}.
    assert_eq!(
        u[ENTERPRISE]["manager"],
        json!({"value": "26118915-6090-4610-87e4-49d8ca9f808d"})
    );
    // Writing an extension declares it.
    assert!(u["schemas"]
        .as_array()
        .unwrap()
        .contains(&json!(ENTERPRISE)));
}

#[test]
fn enterprise_paths_map_into_the_extension_object() {
    let mut u = user();
    patch_user(
        &mut u,
        json!([
            {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", "value": "m-1"},
            {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:EmployeeNumber", "value": "701984"}
        ]),
    )
    .unwrap();
    assert_eq!(
        u[ENTERPRISE],
        json!({"manager": {"value": "m-1"}, "employeeNumber": "701984"})
    );

    // Removing the last extension attribute drops the object and its schema URN.
    patch_user(
        &mut u,
        json!([
            {"op": "Remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"},
            {"op": "Remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"}
        ]),
    )
    .unwrap();
    assert!(u.get(ENTERPRISE).is_none());
    assert!(!u["schemas"]
        .as_array()
        .unwrap()
        .contains(&json!(ENTERPRISE)));
}

#[test]
fn entra_add_of_a_value_path_creates_the_entry() {
    let mut u = user();
    patch_user(
        &mut u,
        json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "bjensen@work.example"}]),
    )
    .unwrap();
    assert_eq!(
        u["emails"],
        json!([
            {"value": "bjensen@example.com", "type": "home", "primary": true},
            {"type": "work", "value": "bjensen@work.example"}
        ])
    );

    // Then a replace of the same path updates it in place (filter values match any case).
    patch_user(
        &mut u,
        json!([{"op": "Replace", "path": "emails[type eq \"WORK\"].value", "value": "b@work.example"}]),
    )
    .unwrap();
    assert_eq!(
        u["emails"][1],
        json!({"type": "work", "value": "b@work.example"})
    );
    assert_eq!(u["emails"].as_array().unwrap().len(), 2);

    // Replace on a never-set address creates it too (eq-only filter).
    patch_user(
        &mut u,
        json!([{"op": "Replace", "path": "addresses[type eq \"work\"].locality", "value": "Paris"}]),
    )
    .unwrap();
    assert_eq!(
        u["addresses"],
        json!([{"type": "work", "locality": "Paris"}])
    );

    // A filter that describes no value to create has no target.
    let e = refused(patch_user(
        &mut u,
        json!([{"op": "Replace", "path": "phoneNumbers[type co \"mob\"].value", "value": "+1"}]),
    ));
    assert_eq!(e.scim_type(), "noTarget");

    // Removal through a value path, idempotent when nothing matches.
    patch_user(
        &mut u,
        json!([
            {"op": "remove", "path": "emails[type eq \"work\"]"},
            {"op": "remove", "path": "emails[type eq \"other\"]"}
        ]),
    )
    .unwrap();
    assert_eq!(u["emails"].as_array().unwrap().len(), 1);
}

#[test]
fn entra_adds_and_removes_members_in_one_request() {
    let mut g = group(&["a", "b", "c"]);
    let out = patch_group(
        &mut g,
        json!([
            {"op": "Add", "path": "members", "value": [{"value": "d"}, {"value": "e"}]},
            {"op": "Remove", "path": "members", "value": [{"value": "a"}, {"value": "b"}]}
        ]),
    )
    .unwrap();
    assert!(out.changed);
    assert_eq!(out.members_added, vec!["d", "e"]);
    assert_eq!(out.members_removed, vec!["a", "b"]);
    assert_eq!(out.members_replaced, None);
    assert_eq!(member_ids(&g), vec!["c", "d", "e"]);
}

#[test]
fn removing_listed_members_keeps_the_others() {
    let mut g = group(&["id1", "id2", "id3"]);
    let out = patch_group(
        &mut g,
        json!([{"op": "Remove", "path": "members", "value": [{"value": "id1"}, {"value": "id2"}]}]),
    )
    .unwrap();
    assert_eq!(member_ids(&g), vec!["id3"]);
    assert_eq!(out.members_removed, vec!["id1", "id2"]);
    assert_eq!(out.members_replaced, None);

    // Entra's single-member form with a value filter, and members not loaded at all: the
    // removal is still reported.
    let mut g = json!({"id": "g", "displayName": "x"});
    let out = patch_group(
        &mut g,
        json!([{"op": "Remove", "path": "members[value eq \"id9\"]"}]),
    )
    .unwrap();
    assert_eq!(out.members_removed, vec!["id9"]);
    assert!(out.changed);

    // Without a value, remove clears the list.
    let mut g = group(&["id1", "id2"]);
    let out = patch_group(&mut g, json!([{"op": "remove", "path": "members"}])).unwrap();
    assert!(g.get("members").is_none());
    assert_eq!(out.members_replaced, Some(vec![]));
}

#[test]
fn member_values_compare_by_value_and_ignore_null_refs() {
    let mut g = group(&["a"]);
    let out = patch_group(
        &mut g,
        json!([{"op": "add", "path": "members", "value": [
            {"value": "a", "display": "Already there"},
            {"value": "b", "$ref": null},
            {"value": "b"}
        ]}]),
    )
    .unwrap();
    assert_eq!(g["members"], json!([{"value": "a"}, {"value": "b"}]));
    assert_eq!(out.members_added, vec!["a", "b"]);

    // A remove listing the member with other attributes still removes it.
    patch_group(
        &mut g,
        json!([{"op": "remove", "path": "members", "value": [{"value": "b", "display": "B", "$ref": null}]}]),
    )
    .unwrap();
    assert_eq!(member_ids(&g), vec!["a"]);

    let e = refused(patch_group(
        &mut g,
        json!([{"op": "add", "path": "members", "value": [{"display": "no id"}]}]),
    ));
    assert_eq!(e.scim_type(), "invalidValue");
}

#[test]
fn replace_of_members_replaces_the_list_and_later_ops_fold_in() {
    let mut g = group(&["a", "b"]);
    let out = patch_group(
        &mut g,
        json!([
            {"op": "replace", "path": "members", "value": [{"value": "x"}, {"value": "y"}]},
            {"op": "add", "path": "members", "value": [{"value": "z"}]},
            {"op": "remove", "path": "members[value eq \"x\"]"}
        ]),
    )
    .unwrap();
    assert_eq!(member_ids(&g), vec!["y", "z"]);
    assert_eq!(
        out.members_replaced,
        Some(vec!["y".to_string(), "z".to_string()])
    );
    assert!(out.members_added.is_empty() && out.members_removed.is_empty());
}

#[test]
fn okta_pathless_replace_with_the_id() {
    let mut g = group(&["a"]);
    // Okta repeats the id: equal, so ignored.
    patch_group(
        &mut g,
        json!([{"op": "replace", "value": {"id": "e9e30dba-f08f-4109-8486-d5c6a331660a", "displayName": "x"}}]),
    )
    .unwrap();
    assert_eq!(g["displayName"], json!("x"));
    assert_eq!(g["id"], json!("e9e30dba-f08f-4109-8486-d5c6a331660a"));

    // A different id is refused, and nothing of the request is applied.
    let before = g.clone();
    let e = refused(patch_group(
        &mut g,
        json!([{"op": "replace", "value": {"displayName": "y", "id": "other"}}]),
    ));
    assert_eq!(e.scim_type(), "mutability");
    assert_eq!(g, before);
}

#[test]
fn read_only_meta_is_refused() {
    let mut u = user();
    let e = refused(patch_user(
        &mut u,
        json!([{"op": "replace", "path": "meta.lastModified", "value": "2024-01-01T00:00:00Z"}]),
    ));
    assert_eq!(e.scim_type(), "mutability");
    assert!(e.detail().contains("meta"), "{e}");
    let e = refused(patch_user(
        &mut u,
        json!([{"op": "remove", "path": "meta"}]),
    ));
    assert_eq!(e.scim_type(), "mutability");
    let e = refused(patch_user(
        &mut u,
        json!([{"op": "remove", "path": "userName"}]),
    ));
    assert_eq!(e.scim_type(), "invalidValue");
}

#[test]
fn unknown_attributes_and_bad_paths() {
    let mut u = user();
    for path in [
        "favoriteColor",
        "name.nickname",
        "urn:example:Ext:x",
        "emails[colour eq \"x\"].value",
        "active[value eq true]",
    ] {
        let e = refused(patch_user(
            &mut u,
            json!([{"op": "replace", "path": path, "value": "x"}]),
        ));
        assert_eq!(e.scim_type(), "invalidPath", "{path}: {e}");
    }
    let e = refused(patch_user(
        &mut u,
        json!([{"op": "replace", "value": {"favoriteColor": "x"}}]),
    ));
    assert_eq!(e.scim_type(), "invalidPath");
    assert!(e.detail().starts_with("Operations[0]: "), "{e}");
}

/// A malformed path fails while the request is parsed, before anything is applied.
#[test]
fn malformed_paths_fail_at_parse_time() {
    let e = PatchRequest::from_json(&json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "add", "path": "emails[type eq \"x\"", "value": "y"}]
    }))
    .unwrap_err();
    assert_eq!(e.scim_type(), "invalidPath");
}

#[test]
fn missing_path_on_remove_is_no_target() {
    let mut u = user();
    let e = refused(patch_user(&mut u, json!([{"op": "Remove"}])));
    assert_eq!(e.scim_type(), "noTarget");
}

#[test]
fn request_syntax() {
    let parse = |body: Value| {
        PatchRequest::from_json(&body)
            .map(|_| ())
            .map_err(|e| e.scim_type())
    };
    // Entra's lowercase `operations`.
    assert_eq!(
        parse(
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                     "operations": [{"op": "add", "path": "title", "value": "x"}]})
        ),
        Ok(())
    );
    assert_eq!(
        parse(
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                     "Operations": [{"op": "merge", "path": "title", "value": "x"}]})
        ),
        Err("invalidSyntax")
    );
    assert_eq!(
        parse(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                     "Operations": [{"op": "add", "path": "title", "value": "x"}]})
        ),
        Err("invalidSyntax")
    );
    assert_eq!(
        parse(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]})),
        Err("invalidSyntax")
    );
    assert_eq!(
        PatchRequest::from_slice(b"{").unwrap_err().scim_type(),
        "invalidSyntax"
    );
    let many: Vec<Value> = (0..1001)
        .map(|_| json!({"op": "add", "path": "title", "value": "x"}))
        .collect();
    assert_eq!(
        parse(
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": many})
        ),
        Err("invalidValue")
    );
    let members: Vec<Value> = (0..10_001)
        .map(|i| json!({"value": i.to_string()}))
        .collect();
    assert_eq!(
        parse(
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                     "Operations": [{"op": "add", "path": "members", "value": members}]})
        ),
        Err("invalidValue")
    );
}

#[test]
fn values_are_type_checked() {
    let mut u = user();
    for (path, value) in [
        ("active", json!("yes")),
        ("userName", json!(5)),
        ("name", json!([1, 2])),
    ] {
        let e = refused(patch_user(
            &mut u,
            json!([{"op": "replace", "path": path, "value": value}]),
        ));
        assert_eq!(e.scim_type(), "invalidValue", "{path}");
    }
    let e = refused(patch_user(&mut u, json!([{"op": "add", "path": "title"}])));
    assert_eq!(e.scim_type(), "invalidValue");
    // Names are case-insensitive and written in the schema's spelling.
    patch_user(
        &mut u,
        json!([{"op": "replace", "path": "USERNAME", "value": "b@x"}]),
    )
    .unwrap();
    assert_eq!(u["userName"], json!("b@x"));
}

#[test]
fn pathless_add_merges_and_appends() {
    let mut u = user();
    patch_user(
        &mut u,
        json!([{"op": "add", "value": {
            "name": {"middleName": "J"},
            "emails": [{"value": "bjensen@example.com", "type": "home", "primary": true},
                       {"value": "b@other.example", "type": "other"}],
            "nickName": "Babs"
        }}]),
    )
    .unwrap();
    assert_eq!(
        u["name"],
        json!({"givenName": "Barbara", "familyName": "Jensen", "middleName": "J"})
    );
    assert_eq!(u["emails"].as_array().unwrap().len(), 2);
    assert_eq!(u["nickName"], json!("Babs"));
}

#[test]
fn ten_thousand_members_in_one_add() {
    let ids: Vec<String> = (0..10_000).map(|i| format!("user-{i:05}")).collect();
    let value: Vec<Value> = ids
        .iter()
        .map(|id| json!({"value": id, "$ref": null}))
        .collect();
    let mut g = group(&["user-00000"]);
    let out = patch_group(
        &mut g,
        json!([{"op": "Add", "path": "members", "value": value}]),
    )
    .unwrap();
    assert_eq!(out.members_added.len(), 10_000);
    assert_eq!(member_ids(&g).len(), 10_000);
    assert_eq!(out.members_added, ids);
}
