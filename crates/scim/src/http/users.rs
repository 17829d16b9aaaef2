//! `/Users` (RFC 7644 §3.3-3.6 for the User resource of RFC 7643 §4.1). Each operation is a
//! function of (state, principal, input) so that `/Bulk` runs exactly the same code: it parses
//! the body, calls the `app::scim::users` use case and renders what it wrote.
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use app::scim::users::{self, UserView};
use app::scim::IfMatch;
use authz_core::directory::{groups as dgroups, users as dusers, UserFields};
use serde_json::Value;

use super::list::{list_response, ListParams};
use super::render::{self, matches};
use super::{if_match, read_json, Rendered, ScimError, ScimPrincipal, ScimState};
use crate::patch::{apply, PatchRequest, PatchSchema, USER_URN};
use crate::resource::{user_fields, user_from_body};

async fn rendered<C: sea_orm::ConnectionTrait>(
    conn: &C,
    st: &ScimState,
    p: &ScimPrincipal,
    u: &dusers::DirUser,
) -> Result<Value, ScimError> {
    let groups = dgroups::of_user(conn, p.tenant(), &u.id).await?;
    Ok(render::user(&st.base(&p.slug), u, &groups))
}

/// 200 with the user as written.
fn written(st: &ScimState, p: &ScimPrincipal, v: &UserView) -> Rendered {
    Rendered::ok(
        render::user(&st.base(&p.slug), &v.user, &v.groups),
        v.user.version,
    )
}

pub async fn create(
    st: &ScimState,
    p: &ScimPrincipal,
    body: &Value,
) -> Result<Rendered, ScimError> {
    let f = user_from_body(body)?;
    let v = users::create(&st.store, st.clock.as_ref(), &p.client, &f).await?;
    Ok(Rendered {
        status: StatusCode::CREATED,
        location: Some(format!("{}/Users/{}", st.base(&p.slug), v.user.id)),
        ..written(st, p, &v)
    })
}

pub async fn replace(
    st: &ScimState,
    p: &ScimPrincipal,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
) -> Result<Rendered, ScimError> {
    let f = user_from_body(body)?;
    let if_match = if_match.map(IfMatch::new);
    let v = users::replace(&st.store, st.clock.as_ref(), &p.client, id, &f, if_match).await?;
    Ok(written(st, p, &v))
}

/// PATCH (RFC 7644 §3.5.2): the engine applies the operations to the stored representation;
/// the use case writes the result only if nobody changed the user meanwhile (else re-reads
/// and re-applies).
pub async fn patch(
    st: &ScimState,
    p: &ScimPrincipal,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
) -> Result<Rendered, ScimError> {
    let req = PatchRequest::from_json(body)?;
    let schema = PatchSchema::user();
    let base = st.base(&p.slug);
    let edit = |current: &UserView| -> Result<Option<UserFields>, ScimError> {
        let mut rep = render::user(&base, &current.user, &current.groups);
        if let Some(o) = rep.as_object_mut() {
            o.remove("schemas");
        }
        if !apply(&mut rep, &req, &schema)?.changed {
            return Ok(None);
        }
        Ok(Some(user_fields(rep)?))
    };
    let if_match = if_match.map(IfMatch::new);
    let v = users::patch(&st.store, st.clock.as_ref(), &p.client, id, if_match, edit).await?;
    Ok(written(st, p, &v))
}

pub async fn delete(
    st: &ScimState,
    p: &ScimPrincipal,
    id: &str,
    if_match: Option<&str>,
) -> Result<Rendered, ScimError> {
    let if_match = if_match.map(IfMatch::new);
    users::delete(&st.store, st.clock.as_ref(), &p.client, id, if_match).await?;
    Ok(Rendered::no_content())
}

pub async fn list(
    st: &ScimState,
    p: &ScimPrincipal,
    params: &ListParams,
) -> Result<Rendered, ScimError> {
    let q = params.to_query(true)?;
    let page = dusers::list(&st.store.db, p.tenant(), &q).await?;
    let ids: Vec<String> = page.items.iter().map(|u| u.id.clone()).collect();
    let groups = dgroups::of_users(&st.store.db, p.tenant(), &ids).await?;
    let base = st.base(&p.slug);
    let mut items = Vec::with_capacity(page.items.len());
    for u in &page.items {
        let v = render::user(
            &base,
            u,
            groups.get(&u.id).map(Vec::as_slice).unwrap_or(&[]),
        );
        items.push(render::project(
            v,
            params.attributes.as_deref(),
            params.excluded.as_deref(),
            USER_URN,
        ));
    }
    Ok(Rendered::list(list_response(
        page.total,
        q.start_index,
        items,
    )))
}

// --- handlers -------------------------------------------------------------------------------

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
    let u = dusers::get(&st.store.db, p.tenant(), &path.1).await?;
    if let Some(inm) = req
        .headers()
        .get(actix_web::http::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        if matches(inm, u.version) {
            return Ok(HttpResponse::NotModified()
                .insert_header((actix_web::http::header::ETAG, render::etag(u.version)))
                .finish());
        }
    }
    let params = ListParams::from_query(req.query_string());
    let v = rendered(&st.store.db, &st, &p, &u).await?;
    let v = render::project(
        v,
        params.attributes.as_deref(),
        params.excluded.as_deref(),
        USER_URN,
    );
    Ok(Rendered::ok(v, u.version).respond())
}

pub async fn replace_handler(
    st: web::Data<ScimState>,
    p: ScimPrincipal,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    body: web::Payload,
) -> Res {
    let body = read_json(body).await?;
    Ok(replace(&st, &p, &path.1, &body, if_match(&req).as_deref())
        .await?
        .respond())
}

pub async fn patch_handler(
    st: web::Data<ScimState>,
    p: ScimPrincipal,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    body: web::Payload,
) -> Res {
    let body = read_json(body).await?;
    Ok(patch(&st, &p, &path.1, &body, if_match(&req).as_deref())
        .await?
        .respond())
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
