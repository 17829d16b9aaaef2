//! Users: search the tenant's users (SCIM-provisioned and just-in-time), see one user's
//! connected apps and live sessions, and revoke an app, a session, or everything.
use actix_web::web;
use authz_core::{client, connection, consent, resource, session, token, user};
use minijinja::context;

use super::{see_other, when, Admin, AdminWrite, Console, ConsoleError, ConsoleResult};

#[derive(serde::Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
}

pub async fn list(Admin(c): Admin, q: web::Query<SearchQuery>) -> ConsoleResult {
    let db = &c.st.store.db;
    let users = user::search(db, &c.tenant.id, q.q.as_deref(), 200).await?;
    let conns = connection::list(db, &c.tenant.id).await?;
    let views: Vec<_> = users
        .iter()
        .map(|u| {
            context! {
                id => u.id, email => u.email, name => u.name, active => u.active,
                connection => conns.iter().find(|x| x.id == u.connection_id).map(|x| x.name.clone()),
            }
        })
        .collect();
    let provisioned = provisioned_only(&c, q.q.as_deref()).await?;
    Ok(c.render(
        "console/users.html",
        "users",
        context! { users => views, provisioned => provisioned, q => q.q },
    ))
}

/// SCIM users no identity has signed in as yet (they exist only in the directory), searched
/// with the directory's filter AST (`userName co q or displayName co q`), as SCIM filters are.
async fn provisioned_only(
    c: &Console,
    q: Option<&str>,
) -> Result<Vec<minijinja::Value>, ConsoleError> {
    use authz_core::directory::{filter, users};
    let search = filter::user_text_search(q);
    let page = users::unlinked(&c.st.store.db, &c.tenant.id, search.as_ref(), 200).await?;
    Ok(page
        .items
        .into_iter()
        .map(|u| {
            context! {
                user_name => u.user_name,
                display_name => u.resource.get("displayName").and_then(|v| v.as_str()).map(str::to_string),
                active => u.active,
                external_id => u.external_id,
            }
        })
        .collect())
}

async fn load(c: &Console, id: &str) -> Result<user::User, ConsoleError> {
    user::get(&c.st.store.db, &c.tenant.id, id)
        .await
        .map_err(|_| ConsoleError::not_found("user"))
}

pub async fn show(Admin(c): Admin, path: web::Path<(String, String)>) -> ConsoleResult {
    let db = &c.st.store.db;
    let u = load(&c, &path.1).await?;
    let mut apps = Vec::new();
    for a in consent::list_for_user(db, &c.tenant.id, &u.id).await? {
        let name = client::get(db, &a.client_id)
            .await?
            .map(|x| x.client_name)
            .unwrap_or_else(|| a.client_id.clone());
        let res = resource::get(db, &a.resource_id).await?;
        let last =
            consent::last_used(db, &c.tenant.id, &u.id, &a.client_id, &a.resource_id).await?;
        apps.push(context! {
            client_id => a.client_id, client_name => name,
            resource_id => a.resource_id, resource_name => res.display_name,
            scopes => a.scopes, granted => when(a.granted_at), last_used => last.map(when),
        });
    }
    let conns = connection::list(db, &c.tenant.id).await?;
    let sessions: Vec<_> = session::list_for_user(db, c.st.clock.as_ref(), &c.tenant.id, &u.id)
        .await?
        .into_iter()
        .map(|s| {
            context! {
                id => s.id,
                connection => conns.iter().find(|x| x.id == s.connection_id).map(|x| x.name.clone()),
                started => when(s.created_at),
                authenticated => if s.auth_time > 0 { Some(when(s.auth_time)) } else { None },
                expires => when(s.expires_at),
            }
        })
        .collect();
    let groups = authz_core::admin::role::admin_via(db, &c.tenant.id, &u.id, &[]).await?;
    Ok(c.render(
        "console/user.html",
        "users",
        context! {
            user => context! {
                id => u.id, email => u.email, name => u.name, subject => u.subject, active => u.active,
                connection => conns.iter().find(|x| x.id == u.connection_id).map(|x| x.name.clone()),
            },
            admin => groups.map(|v| v.describe()),
            apps => apps,
            sessions => sessions,
        },
    ))
}

pub async fn revoke_all(
    AdminWrite(c, _f): AdminWrite,
    path: web::Path<(String, String)>,
) -> ConsoleResult {
    let u = load(&c, &path.1).await?;
    let txn =
        c.st.store
            .begin()
            .await
            .map_err(authz_core::CoreError::from)?;
    token::revoke::revoke_user(&txn, c.st.clock.as_ref(), &c.tenant.id, &u.id, &c.actor()).await?;
    txn.commit().await.map_err(authz_core::CoreError::from)?;
    Ok(see_other(c.slug(), &format!("/users/{}", u.id)))
}

pub async fn revoke_app(
    AdminWrite(c, f): AdminWrite,
    path: web::Path<(String, String)>,
) -> ConsoleResult {
    let u = load(&c, &path.1).await?;
    consent::revoke_app(
        &c.st.store,
        c.st.clock.as_ref(),
        &c.tenant.id,
        &u.id,
        f.require("client_id", "The application")?,
        f.require("resource_id", "The resource")?,
        &c.actor(),
    )
    .await?;
    Ok(see_other(c.slug(), &format!("/users/{}", u.id)))
}

pub async fn revoke_session(
    AdminWrite(c, f): AdminWrite,
    path: web::Path<(String, String)>,
) -> ConsoleResult {
    let u = load(&c, &path.1).await?;
    let sid = f.require("session_id", "The session")?;
    let live =
        session::list_for_user(&c.st.store.db, c.st.clock.as_ref(), &c.tenant.id, &u.id).await?;
    if !live.iter().any(|s| s.id == sid) {
        return Err(ConsoleError::not_found("session"));
    }
    let txn =
        c.st.store
            .begin()
            .await
            .map_err(authz_core::CoreError::from)?;
    session::revoke_one(&txn, c.st.clock.as_ref(), &c.tenant.id, sid).await?;
    authz_core::audit::record(
        &txn,
        c.st.clock.as_ref(),
        authz_core::audit::AuditEvent::new(Some(&c.tenant.id), "session.revoked")
            .actor(c.actor())
            .user(u.id.clone())
            .session(sid.to_string()),
    )
    .await?;
    txn.commit().await.map_err(authz_core::CoreError::from)?;
    Ok(see_other(c.slug(), &format!("/users/{}", u.id)))
}
