//! One SCIM token in the console: its page (rename), and its removal, which asks first and
//! says that the IdP's provisioning with it stops.
use actix_web::web;
use app::manage::scim_token as uc;

use super::objects::{self, Ask, Detail};
use super::{Admin, AdminWrite, Console, ConsoleResult};

type Id = web::Path<(String, String)>;

pub async fn show(Admin(c): Admin, path: Id) -> ConsoleResult {
    let t = uc::show(&c.st.store.db, c.st.clock.as_ref(), &c.tenant.id, &path.1).await?;
    let id = &path.1;
    let inputs = vec![objects::input("name", "Name", "text", &t.name)];
    let d = Detail {
        nav: "scim",
        title: format!("SCIM token “{}”", t.name),
        back: ("/scim", "SCIM provisioning"),
        edit: Some(objects::form(
            &c,
            "Rename",
            &format!("/scim/tokens/{id}"),
            inputs,
            "Save",
        )),
        remove: (t.status == "active").then(|| format!("/scim/tokens/{id}/revoke")),
    };
    Ok(objects::detail(&c, d, &t))
}

pub async fn update(AdminWrite(c, f): AdminWrite, path: Id) -> ConsoleResult {
    let change = uc::ScimTokenChange {
        name: Some(f.require("name", "A name")?.to_string()),
    };
    let (store, clock) = (&c.st.store, c.st.clock.as_ref());
    uc::update(store, clock, &c.tenant.id, &path.1, &change, &c.actor()).await?;
    Ok(super::see_other(
        c.slug(),
        &format!("/scim/tokens/{}", path.1),
    ))
}

fn ask<'a>(id: &str, name: &str) -> Ask<'a> {
    Ask {
        nav: "scim",
        what: "SCIM token",
        name: format!("{name} (your identity provider's provisioning with it stops)"),
        action: format!("/scim/tokens/{id}/revoke"),
        back: "/scim",
    }
}

async fn run(c: &Console, id: &str, dry: bool) -> ConsoleResult {
    let (store, clock) = (&c.st.store, c.st.clock.as_ref());
    let r = uc::remove(store, clock, &c.tenant.id, id, &c.actor(), dry).await?;
    Ok(objects::removal(c, &r, dry, ask(id, &r.removed.name)))
}

/// The confirmation page (a preview: nothing is revoked).
pub async fn confirm_remove(Admin(c): Admin, path: Id) -> ConsoleResult {
    run(&c, &path.1, true).await
}

/// Revokes the token once confirmed; without `confirm=yes`, asks.
pub async fn remove(AdminWrite(c, f): AdminWrite, path: Id) -> ConsoleResult {
    run(&c, &path.1, !objects::confirmed(&f)).await
}
