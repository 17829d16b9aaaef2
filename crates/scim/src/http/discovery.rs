//! Discovery (RFC 7644 §4; RFC 7643 §5-7): what this service provider supports, its resource
//! types and their schemas. The User and Group schemas are generated from the same
//! [`PatchSchema`] that validates writes, so what is advertised is what is accepted.
use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use super::list::list_response;
use super::{ScimError, ScimPrincipal, ScimState, MAX_BULK_OPERATIONS, MAX_PAYLOAD, MAX_RESULTS};
use crate::patch::schema::{Attr, AttrType, Mutability};
use crate::patch::{PatchSchema, ENTERPRISE_USER_URN, GROUP_URN, USER_URN};

const SCHEMA_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
const RESOURCE_TYPE_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SPC_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

fn scim_json(v: Value) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(super::error::SCIM_JSON)
        .body(v.to_string())
}

pub async fn service_provider_config(st: web::Data<ScimState>, p: ScimPrincipal) -> HttpResponse {
    scim_json(json!({
        "schemas": [SPC_URN],
        "documentationUri": "https://github.com/gatehouse/gatehouse/blob/main/docs/idp/entra-scim.md",
        "patch": {"supported": true},
        "bulk": {"supported": true, "maxOperations": MAX_BULK_OPERATIONS, "maxPayloadSize": MAX_PAYLOAD},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "A per-tenant SCIM token (gatehouse scim-token create), sent as Authorization: Bearer",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{}/ServiceProviderConfig", st.base(&p.slug)),
        },
    }))
}

fn resource_type_list(base: &str) -> Vec<Value> {
    vec![
        json!({
            "schemas": [RESOURCE_TYPE_URN],
            "id": "User", "name": "User", "endpoint": "/Users",
            "description": "People the IdP provisions",
            "schema": USER_URN,
            "schemaExtensions": [{"schema": ENTERPRISE_USER_URN, "required": false}],
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User")},
        }),
        json!({
            "schemas": [RESOURCE_TYPE_URN],
            "id": "Group", "name": "Group", "endpoint": "/Groups",
            "description": "Groups of users; org grants can target them",
            "schema": GROUP_URN,
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group")},
        }),
    ]
}

pub async fn resource_types(st: web::Data<ScimState>, p: ScimPrincipal) -> HttpResponse {
    let all = resource_type_list(&st.base(&p.slug));
    scim_json(list_response(all.len() as u64, 1, all))
}

pub async fn resource_type(
    st: web::Data<ScimState>,
    p: ScimPrincipal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimError> {
    resource_type_list(&st.base(&p.slug))
        .into_iter()
        .find(|r| r["id"].as_str().map(|i| i.eq_ignore_ascii_case(&path.1)) == Some(true))
        .map(scim_json)
        .ok_or_else(|| ScimError::not_found("resource type"))
}

fn type_name(t: AttrType) -> &'static str {
    match t {
        AttrType::String => "string",
        AttrType::Boolean => "boolean",
        AttrType::Decimal => "decimal",
        AttrType::Integer => "integer",
        AttrType::DateTime => "dateTime",
        AttrType::Binary => "binary",
        AttrType::Reference => "reference",
        AttrType::Complex => "complex",
    }
}

/// canonicalValues and referenceTypes, by "parent.name" (lowercase).
fn extras(path: &str) -> (Option<Value>, Option<Value>) {
    let canonical = match path {
        "emails.type" | "addresses.type" => Some(json!(["work", "home", "other"])),
        "phonenumbers.type" => Some(json!(["work", "home", "mobile", "fax", "pager", "other"])),
        "ims.type" => Some(json!([
            "aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"
        ])),
        "photos.type" => Some(json!(["photo", "thumbnail"])),
        "members.type" => Some(json!(["User"])),
        "groups.type" => Some(json!(["direct", "indirect"])),
        _ => None,
    };
    let refs = match path {
        "members.$ref" | "manager.$ref" => Some(json!(["User"])),
        "groups.$ref" => Some(json!(["Group"])),
        "profileurl" | "photos.value" => Some(json!(["external"])),
        _ => None,
    };
    (canonical, refs)
}

fn attr_json(a: &Attr, parent: Option<&str>) -> Value {
    let name = a.name();
    let key = match parent {
        Some(p) => format!("{}.{}", p.to_ascii_lowercase(), name.to_ascii_lowercase()),
        None => name.to_ascii_lowercase(),
    };
    let mutability = match a.mutability {
        Mutability::ReadWrite => "readWrite",
        Mutability::WriteOnly => "writeOnly",
        Mutability::Immutable => "immutable",
        Mutability::ReadOnly => "readOnly",
    };
    let returned = match (name, a.mutability) {
        ("password", _) | (_, Mutability::WriteOnly) => "never",
        ("id", _) => "always",
        _ => "default",
    };
    let uniqueness = if parent.is_none() && (name == "userName" || name == "id") {
        "server"
    } else {
        "none"
    };
    let mut v = json!({
        "name": name,
        "type": type_name(a.ty),
        "multiValued": a.multi,
        "description": format!("{name} (RFC 7643)"),
        "required": a.required,
        "caseExact": a.case_exact,
        "mutability": mutability,
        "returned": returned,
        "uniqueness": uniqueness,
    });
    let (canonical, refs) = extras(&key);
    if let Some(c) = canonical {
        v["canonicalValues"] = c;
    }
    if a.ty == AttrType::Reference {
        v["referenceTypes"] = refs.unwrap_or_else(|| json!(["external"]));
    }
    if !a.subs.is_empty() {
        v["subAttributes"] = a.subs.iter().map(|s| attr_json(s, Some(name))).collect();
    }
    v
}

fn schema_json(base: &str, id: &str, name: &str, description: &str, attrs: Vec<Value>) -> Value {
    json!({
        "schemas": [SCHEMA_URN],
        "id": id,
        "name": name,
        "description": description,
        "attributes": attrs,
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{id}")},
    })
}

/// Attributes defined by each resource's own schema; the common ones (`id`, `externalId`,
/// `meta`) belong to no schema (RFC 7643 §3.1) and are not listed.
fn attrs_of(schema: &PatchSchema, urn: &str) -> Vec<Value> {
    let Some(s) = schema.scope(Some(urn)) else {
        return Vec::new();
    };
    s.attrs
        .iter()
        .filter(|a| !matches!(a.name(), "id" | "externalId" | "meta"))
        .map(|a| attr_json(a, None))
        .collect()
}

fn ro(name: &str, ty: &str, multi: bool) -> Value {
    json!({"name": name, "type": ty, "multiValued": multi, "description": name, "required": false,
           "caseExact": false, "mutability": "readOnly", "returned": "default", "uniqueness": "none"})
}

fn all_schemas(base: &str) -> Vec<Value> {
    let user = PatchSchema::user();
    let group = PatchSchema::group();
    vec![
        schema_json(
            base,
            USER_URN,
            "User",
            "User Account",
            attrs_of(&user, USER_URN),
        ),
        schema_json(
            base,
            ENTERPRISE_USER_URN,
            "EnterpriseUser",
            "Enterprise User",
            attrs_of(&user, ENTERPRISE_USER_URN),
        ),
        schema_json(
            base,
            GROUP_URN,
            "Group",
            "Group",
            attrs_of(&group, GROUP_URN),
        ),
        schema_json(
            base,
            SPC_URN,
            "ServiceProviderConfig",
            "Service Provider Configuration",
            vec![
                ro("documentationUri", "reference", false),
                ro("patch", "complex", false),
                ro("bulk", "complex", false),
                ro("filter", "complex", false),
                ro("changePassword", "complex", false),
                ro("sort", "complex", false),
                ro("etag", "complex", false),
                ro("authenticationSchemes", "complex", true),
            ],
        ),
        schema_json(
            base,
            RESOURCE_TYPE_URN,
            "ResourceType",
            "Resource Type",
            vec![
                ro("id", "string", false),
                ro("name", "string", false),
                ro("description", "string", false),
                ro("endpoint", "reference", false),
                ro("schema", "reference", false),
                ro("schemaExtensions", "complex", true),
            ],
        ),
        schema_json(
            base,
            SCHEMA_URN,
            "Schema",
            "Schema definition",
            vec![
                ro("id", "string", false),
                ro("name", "string", false),
                ro("description", "string", false),
                ro("attributes", "complex", true),
            ],
        ),
    ]
}

pub async fn schemas(st: web::Data<ScimState>, p: ScimPrincipal) -> HttpResponse {
    let all = all_schemas(&st.base(&p.slug));
    scim_json(list_response(all.len() as u64, 1, all))
}

pub async fn schema(
    st: web::Data<ScimState>,
    p: ScimPrincipal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimError> {
    all_schemas(&st.base(&p.slug))
        .into_iter()
        .find(|s| s["id"].as_str().map(|i| i.eq_ignore_ascii_case(&path.1)) == Some(true))
        .map(scim_json)
        .ok_or_else(|| ScimError::not_found("schema"))
}
