//! Members' personal API keys (issue 14 §1): every key of the tenant with its owner, resource,
//! scopes, lifetime, last use and status, and revoking any. Turning keys on or off and their
//! maximum lifetime are on the settings page.
use actix_web::web;
use minijinja::context;

use super::{see_other, when, Admin, AdminWrite, ConsoleResult};

pub async fn list(Admin(c): Admin) -> ConsoleResult {
    let keys = app::api_keys::admin::list(&c.st.store, c.st.clock.as_ref(), &c.principal()).await?;
    let rows: Vec<_> = keys
        .into_iter()
        .map(|k| {
            context! {
                id => k.id, user_id => k.user_id, name => k.name, client => k.client_label,
                prefix => k.display_prefix, resource => k.resource_name, scopes => k.scopes,
                created => when(k.created_at), expires => when(k.expires_at),
                last_used => k.last_used_at.map(when), status => k.status.as_str(),
            }
        })
        .collect();
    Ok(c.render(
        "console/user_keys.html",
        "user_keys",
        context! { keys => rows },
    ))
}

pub async fn revoke(
    AdminWrite(c, _f): AdminWrite,
    path: web::Path<(String, String)>,
) -> ConsoleResult {
    app::api_keys::admin::revoke(&c.st.store, c.st.clock.as_ref(), &c.principal(), &path.1).await?;
    Ok(see_other(c.slug(), "/user-keys"))
}
