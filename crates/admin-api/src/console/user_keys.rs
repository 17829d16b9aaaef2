//! Members' personal API keys (issue 14 §1): every key of the tenant with its owner, resource,
//! scopes, lifetime, last use and status, and revoking any. Turning keys on or off and their
//! maximum lifetime are on the settings page.
use actix_web::web;
use minijinja::context;

use app::manage::user_key as uc;

use super::objects::{self, Ask, Detail};
use super::{see_other, when, Admin, AdminWrite, Console, ConsoleResult};

type Id = web::Path<(String, String)>;

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

pub async fn show(Admin(c): Admin, path: Id) -> ConsoleResult {
    let k = uc::show(&c.st.store.db, c.st.clock.as_ref(), &c.tenant.id, &path.1).await?;
    let id = &path.1;
    let inputs = vec![objects::input("name", "Name", "text", &k.name)];
    let d = Detail {
        nav: "user_keys",
        title: format!("API key “{}”", k.name),
        back: ("/user-keys", "API keys"),
        edit: Some(objects::form(
            &c,
            "Rename",
            &format!("/user-keys/{id}"),
            inputs,
            "Save",
        )),
        remove: (k.status == "active").then(|| format!("/user-keys/{id}/revoke")),
    };
    Ok(objects::detail(&c, d, &k))
}

pub async fn update(AdminWrite(c, f): AdminWrite, path: Id) -> ConsoleResult {
    let change = uc::UserKeyChange {
        name: Some(f.require("name", "A name")?.to_string()),
    };
    let (store, clock) = (&c.st.store, c.st.clock.as_ref());
    uc::update(store, clock, &c.tenant.id, &path.1, &change, &c.actor()).await?;
    Ok(see_other(c.slug(), &format!("/user-keys/{}", path.1)))
}

async fn run(c: &Console, id: &str, dry: bool) -> ConsoleResult {
    let (store, clock) = (&c.st.store, c.st.clock.as_ref());
    let r = uc::remove(store, clock, &c.tenant.id, id, &c.actor(), dry).await?;
    let ask = Ask {
        nav: "user_keys",
        what: "API key",
        name: format!("{} ({}…)", r.removed.name, r.removed.prefix),
        action: format!("/user-keys/{id}/revoke"),
        back: "/user-keys",
    };
    Ok(objects::removal(c, &r, dry, ask))
}

/// The confirmation page (a preview: nothing is revoked).
pub async fn confirm_remove(Admin(c): Admin, path: Id) -> ConsoleResult {
    run(&c, &path.1, true).await
}

/// Revokes a member's key once confirmed, at once on every node; without `confirm=yes`, asks.
pub async fn revoke(AdminWrite(c, f): AdminWrite, path: Id) -> ConsoleResult {
    run(&c, &path.1, !objects::confirmed(&f)).await
}
