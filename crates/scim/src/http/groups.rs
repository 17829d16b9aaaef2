//! `/Groups` (RFC 7644 §3.3-3.6 for the Group resource of RFC 7643 §4.2). Membership changes
//! go to the store as set operations (see `authz_core::directory::groups`), so concurrent
//! PATCHes of one group lose nothing; members who lose a group lose its grants at once. Each
//! operation parses the body, calls the `app::scim::groups` use case and renders what it wrote;
//! `/Bulk` calls the same functions.
use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use app::scim::groups::{self, GroupView, GroupWrite};
use app::scim::IfMatch;
use authz_core::directory::groups::{self as dgroups, DirGroup, MembershipChange};
use serde_json::Value;

use super::list::{list_response, ListParams};
use super::render;
use super::{if_match, read_json, Rendered, ScimError, ScimPrincipal, ScimState};
use crate::patch::{apply, PatchRequest, PatchSchema, GROUP_URN};
use crate::resource::{group_fields, group_from_body, members_of};

async fn rendered<C: sea_orm::ConnectionTrait>(
    conn: &C,
    st: &ScimState,
    p: &ScimPrincipal,
    g: &DirGroup,
    with_members: bool,
) -> Result<Value, ScimError> {
    let members = if with_members {
        Some(dgroups::members(conn, p.tenant(), &g.id).await?)
    } else {
        None
    };
    Ok(render::group(&st.base(&p.slug), g, members.as_deref()))
}

/// 200 with the group as written.
fn written(st: &ScimState, p: &ScimPrincipal, v: &GroupView) -> Rendered {
    Rendered::ok(
        render::group(&st.base(&p.slug), &v.group, v.members.as_deref()),
        v.group.version,
    )
}

pub async fn create(
    st: &ScimState,
    p: &ScimPrincipal,
    body: &Value,
) -> Result<Rendered, ScimError> {
    let (fields, added, display) = group_from_body(body)?;
    let change = MembershipChange {
        added,
        display,
        ..Default::default()
    };
    let write = GroupWrite { fields, change };
    let v = groups::create(&st.store, st.clock.as_ref(), &p.client, &write).await?;
    Ok(Rendered {
        status: StatusCode::CREATED,
        location: Some(format!("{}/Groups/{}", st.base(&p.slug), v.group.id)),
        ..written(st, p, &v)
    })
}

/// PUT: the group becomes exactly the body, members included (Okta pushes membership so).
pub async fn replace(
    st: &ScimState,
    p: &ScimPrincipal,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
    with_members: bool,
) -> Result<Rendered, ScimError> {
    let (fields, ids, display) = group_from_body(body)?;
    let change = MembershipChange {
        replaced: Some(ids),
        display,
        ..Default::default()
    };
    let write = GroupWrite { fields, change };
    let (store, clock, if_match) = (&st.store, st.clock.as_ref(), if_match.map(IfMatch::new));
    let v = groups::replace(store, clock, &p.client, id, &write, if_match, with_members).await?;
    Ok(written(st, p, &v))
}

/// PATCH: attributes through the engine (written only if unchanged meanwhile), membership as
/// the engine's deltas. The stored members are never loaded to apply a change.
pub async fn patch(
    st: &ScimState,
    p: &ScimPrincipal,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
    with_members: bool,
) -> Result<Rendered, ScimError> {
    let req = PatchRequest::from_json(body)?;
    let schema = PatchSchema::group();
    let base = st.base(&p.slug);
    let edit = |current: &DirGroup| -> Result<GroupWrite, ScimError> {
        let mut rep = render::group(&base, current, None);
        if let Some(o) = rep.as_object_mut() {
            o.remove("schemas");
        }
        let outcome = apply(&mut rep, &req, &schema)?;
        let (_, display) =
            members_of(rep.get("members")).unwrap_or_else(|_| (Vec::new(), HashMap::new()));
        let fields = group_fields(rep)?;
        let change = MembershipChange {
            added: outcome.members_added,
            removed: outcome.members_removed,
            replaced: outcome.members_replaced,
            display,
        };
        Ok(GroupWrite { fields, change })
    };
    let (store, clock, if_match) = (&st.store, st.clock.as_ref(), if_match.map(IfMatch::new));
    let v = groups::patch(store, clock, &p.client, id, if_match, with_members, edit).await?;
    Ok(written(st, p, &v))
}

pub async fn delete(
    st: &ScimState,
    p: &ScimPrincipal,
    id: &str,
    if_match: Option<&str>,
) -> Result<Rendered, ScimError> {
    let if_match = if_match.map(IfMatch::new);
    groups::delete(&st.store, st.clock.as_ref(), &p.client, id, if_match).await?;
    Ok(Rendered::no_content())
}

pub async fn list(
    st: &ScimState,
    p: &ScimPrincipal,
    params: &ListParams,
) -> Result<Rendered, ScimError> {
    let q = params.to_query(false)?;
    let with_members = render::wants(
        params.attributes.as_deref(),
        params.excluded.as_deref(),
        GROUP_URN,
        "members",
    );
    let page = dgroups::list(&st.store.db, p.tenant(), &q).await?;
    let mut items = Vec::with_capacity(page.items.len());
    for g in &page.items {
        let v = rendered(&st.store.db, st, p, g, with_members).await?;
        items.push(render::project(
            v,
            params.attributes.as_deref(),
            params.excluded.as_deref(),
            GROUP_URN,
        ));
    }
    Ok(Rendered::list(list_response(
        page.total,
        q.start_index,
        items,
    )))
}

// --- handlers -------------------------------------------------------------------------------

/// Whether the response should list members: a client may exclude them (RFC 7644 §3.4.2.5,
/// honoured on PUT and PATCH responses too; Entra asks so for large groups).
fn members_wanted(req: &HttpRequest) -> bool {
    let q = ListParams::from_query(req.query_string());
    render::wants(
        q.attributes.as_deref(),
        q.excluded.as_deref(),
        GROUP_URN,
        "members",
    )
}

type Res = Result<HttpResponse, ScimError>;

pub async fn list_handler(st: web::Data<ScimState>, p: ScimPrincipal, req: HttpRequest) -> Res {
    Ok(list(&st, &p, &ListParams::from_query(req.query_string()))
        .await?
        .respond())
}

pub async fn search_handler(st: web::Data<ScimState>, p: ScimPrincipal, body: web::Payload) -> Res {
    let params = ListParams::from_search(&read_json(body).await?)?;
    Ok(list(&st, &p, &params).await?.respond())
}

pub async fn create_handler(st: web::Data<ScimState>, p: ScimPrincipal, body: web::Payload) -> Res {
    Ok(create(&st, &p, &read_json(body).await?).await?.respond())
}

pub async fn get_handler(
    st: web::Data<ScimState>,
    p: ScimPrincipal,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Res {
    let g = dgroups::get(&st.store.db, p.tenant(), &path.1).await?;
    let params = ListParams::from_query(req.query_string());
    let with_members = render::wants(
        params.attributes.as_deref(),
        params.excluded.as_deref(),
        GROUP_URN,
        "members",
    );
    let v = rendered(&st.store.db, &st, &p, &g, with_members).await?;
    let v = render::project(
        v,
        params.attributes.as_deref(),
        params.excluded.as_deref(),
        GROUP_URN,
    );
    Ok(Rendered::ok(v, g.version).respond())
}

pub async fn replace_handler(
    st: web::Data<ScimState>,
    p: ScimPrincipal,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    body: web::Payload,
) -> Res {
    let body = read_json(body).await?;
    let members = members_wanted(&req);
    Ok(
        replace(&st, &p, &path.1, &body, if_match(&req).as_deref(), members)
            .await?
            .respond(),
    )
}

pub async fn patch_handler(
    st: web::Data<ScimState>,
    p: ScimPrincipal,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    body: web::Payload,
) -> Res {
    let body = read_json(body).await?;
    let members = members_wanted(&req);
    Ok(
        patch(&st, &p, &path.1, &body, if_match(&req).as_deref(), members)
            .await?
            .respond(),
    )
}

pub async fn delete_handler(
    st: web::Data<ScimState>,
    p: ScimPrincipal,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Res {
    Ok(delete(&st, &p, &path.1, if_match(&req).as_deref())
        .await?
        .respond())
}
