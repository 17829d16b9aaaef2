//! Users: search the tenant's users (SCIM-provisioned and just-in-time), see one user's
//! connected apps and live sessions, and revoke an app, a session, or everything.
use actix_web::web;
use app::console::user::{UserPage, UserPageError};
use app::users::revoke::{self, RevokeError};
use authz_core::{connection, consent, user};
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
        .map_err(|e| e.unless_unavailable(ConsoleError::not_found("user")))
}

fn revoke_refused(e: RevokeError) -> ConsoleError {
    match e {
        RevokeError::UnknownUser(_) => ConsoleError::not_found("user"),
        RevokeError::UnknownSession => ConsoleError::not_found("session"),
        RevokeError::Core(e) => e.into(),
    }
}

pub async fn show(Admin(c): Admin, path: web::Path<(String, String)>) -> ConsoleResult {
    let page =
        app::console::user::load(&c.st.store.db, c.st.clock.as_ref(), &c.principal(), &path.1)
            .await
            .map_err(|e| match e {
                UserPageError::UnknownUser => ConsoleError::not_found("user"),
                UserPageError::Core(e) => e.into(),
            })?;
    Ok(c.render("console/user.html", "users", user_view(page)))
}

/// The user page's template values.
fn user_view(p: UserPage) -> minijinja::Value {
    let conn_name = |id: &str| {
        p.connections
            .iter()
            .find(|x| x.id == id)
            .map(|x| x.name.clone())
    };
    let apps: Vec<_> = p
        .apps
        .iter()
        .map(|a| {
            context! {
                client_id => a.client_id,
                client_name => a.client_name.clone().unwrap_or_else(|| a.client_id.clone()),
                resource_id => a.resource_id, resource_name => a.resource_name,
                scopes => a.scopes, granted => when(a.granted_at), last_used => a.last_used.map(when),
            }
        })
        .collect();
    let sessions: Vec<_> = p
        .sessions
        .iter()
        .map(|s| {
            context! {
                id => s.id,
                connection => conn_name(&s.connection_id),
                started => when(s.created_at),
                authenticated => if s.auth_time > 0 { Some(when(s.auth_time)) } else { None },
                expires => when(s.expires_at),
            }
        })
        .collect();
    let u = &p.user;
    context! {
        user => context! {
            id => u.id, email => u.email, name => u.name, subject => u.subject, active => u.active,
            connection => conn_name(&u.connection_id),
        },
        admin => p.admin.map(|v| v.describe()),
        apps => apps,
        sessions => sessions,
    }
}

pub async fn revoke_all(
    AdminWrite(c, _f): AdminWrite,
    path: web::Path<(String, String)>,
) -> ConsoleResult {
    revoke::all_of_user(&c.st.store, c.st.clock.as_ref(), &c.principal(), &path.1)
        .await
        .map_err(revoke_refused)?;
    Ok(see_other(c.slug(), &format!("/users/{}", path.1)))
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
    let sid = f.require("session_id", "The session")?;
    revoke::session(
        &c.st.store,
        c.st.clock.as_ref(),
        &c.principal(),
        &path.1,
        sid,
    )
    .await
    .map_err(revoke_refused)?;
    Ok(see_other(c.slug(), &format!("/users/{}", path.1)))
}
