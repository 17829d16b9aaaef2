//! One org grant in the console (a resource's scopes granted to every member or to a group):
//! its page with its scopes to change, and its removal, which asks first and says how many
//! token grants carrying a withdrawn scope are revoked.
use actix_web::web;
use app::manage::grant as uc;

use super::objects::{self, Ask, Detail};
use super::{Admin, AdminWrite, Console, ConsoleResult};

type Id = web::Path<(String, String)>;

pub async fn show(Admin(c): Admin, path: Id) -> ConsoleResult {
    let g = uc::show(&c.st.store.db, &c.tenant.id, &path.1).await?;
    let id = &path.1;
    let to = g.group.as_deref().unwrap_or("every member");
    let scopes = g.scopes.join(" ");
    let inputs = vec![objects::input("scopes", "Scopes (space-separated; a scope you take out is withdrawn and the tokens carrying it are revoked)", "text", &scopes)];
    let d = Detail {
        nav: "apps",
        title: format!("Grant of {} to {to}", g.resource),
        back: ("/apps", "Apps & grants"),
        edit: Some(objects::form(
            &c,
            "Change the scopes",
            &format!("/apps/grants/{id}"),
            inputs,
            "Save",
        )),
        remove: Some(format!("/apps/grants/{id}/remove")),
    };
    Ok(objects::detail(&c, d, &g))
}

/// Replaces the grant's scopes (critical ones need the apps page's explicit confirmation).
pub async fn update(AdminWrite(c, f): AdminWrite, path: Id) -> ConsoleResult {
    let change = uc::GrantChange {
        scopes: authz_core::scope::split(f.require("scopes", "At least one scope")?),
        allow_critical: objects::confirmed_field(&f, "allow_critical"),
    };
    let (store, clock) = (&c.st.store, c.st.clock.as_ref());
    uc::update(store, clock, &c.tenant.id, &path.1, &change, &c.actor()).await?;
    Ok(super::see_other(
        c.slug(),
        &format!("/apps/grants/{}", path.1),
    ))
}

async fn run(c: &Console, id: &str, dry: bool) -> ConsoleResult {
    let (store, clock) = (&c.st.store, c.st.clock.as_ref());
    let r = uc::remove(store, clock, &c.tenant.id, id, &c.actor(), dry).await?;
    let to = r.removed.group.as_deref().unwrap_or("every member");
    let ask = Ask {
        nav: "apps",
        what: "grant",
        name: format!(
            "{} of {} to {to}",
            r.removed.scopes.join(" "),
            r.removed.resource
        ),
        action: format!("/apps/grants/{id}/remove"),
        back: "/apps",
    };
    Ok(objects::removal(c, &r, dry, ask))
}

pub async fn confirm_remove(Admin(c): Admin, path: Id) -> ConsoleResult {
    run(&c, &path.1, true).await
}

/// Withdraws the whole grant once confirmed; without `confirm=yes`, asks.
pub async fn remove(AdminWrite(c, f): AdminWrite, path: Id) -> ConsoleResult {
    run(&c, &path.1, !objects::confirmed(&f)).await
}
