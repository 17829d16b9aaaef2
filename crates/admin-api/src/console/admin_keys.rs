//! The tenant's admin API keys in the console (the "Admin API keys" page): an admin creates a
//! key for a script (shown once), lists, renames and removes them; removal asks first and the
//! key stops at once.
use actix_web::web;
use app::manage::admin_key as uc;
use authz_core::api_key::{self, Scope};
use minijinja::context;

use super::objects::{self, Ask, Detail, List};
use super::{Admin, AdminWrite, Console, ConsoleError, ConsoleResult};

type Id = web::Path<(String, String)>;

pub async fn list(Admin(c): Admin) -> ConsoleResult {
    let all = uc::list(&c.st.store.db, c.st.clock.as_ref(), &c.tenant.id).await?;
    let rows = all
        .iter()
        .map(|k| {
            let cells = vec![
                k.name.clone(),
                k.status.clone(),
                k.created_at.clone(),
                k.expires_at.clone(),
            ];
            let remove = (k.status == "active").then(|| format!("/admin-keys/{}/remove", k.id));
            objects::row(&c, cells, &format!("/admin-keys/{}", k.id), remove)
        })
        .collect();
    let inputs = vec![
        objects::input("name", "Name (who or what holds it)", "text", ""),
        objects::input(
            "expires_in_days",
            "Expires in (days, 1–366)",
            "number",
            "90",
        ),
    ];
    let l = List {
        nav: "admin-keys",
        title: "Admin API keys",
        intro: "Keys for scripts that call this organisation's admin API (/admin/api/v1/tenants/…). A key is shown once, when it is created.",
        columns: &["Name", "Status", "Created", "Expires"],
        empty: "No admin API key yet.",
        create: Some(objects::form(&c, "Create a key", "/admin-keys", inputs, "Create key")),
    };
    Ok(objects::list(&c, l, rows))
}

pub async fn create(AdminWrite(c, f): AdminWrite) -> ConsoleResult {
    let name = f.require("name", "A name")?;
    let days = f.int("expires_in_days", "The lifetime")?.unwrap_or(90);
    if !(1..=366).contains(&days) {
        return Err(ConsoleError::bad_request(
            "The lifetime must be between 1 and 366 days.",
        ));
    }
    let scope = Scope::TenantAdmin(c.tenant.id.clone());
    let (store, clock) = (&c.st.store, c.st.clock.as_ref());
    let (k, secret) =
        api_key::create_by(store, clock, scope, name, days * 86_400, &c.actor()).await?;
    Ok(c.render(
        "console/secret.html",
        "admin-keys",
        context! {
            title => format!("Admin API key “{}”", k.name),
            secret => secret,
            note => "Copy it now: it is shown only once. Send it as Authorization: Bearer <key>.",
            base_label => "Admin API base URL",
            base_url => format!("{}{}/tenants/{}", c.st.issuer, crate::BASE, c.tenant.slug),
            back => format!("/admin/t/{}/admin-keys", c.tenant.slug),
        },
    ))
}

pub async fn show(Admin(c): Admin, path: Id) -> ConsoleResult {
    let k = uc::show(&c.st.store.db, c.st.clock.as_ref(), &c.tenant.id, &path.1).await?;
    let id = &path.1;
    let inputs = vec![objects::input("name", "Name", "text", &k.name)];
    let d = Detail {
        nav: "admin-keys",
        title: format!("Admin API key “{}”", k.name),
        back: ("/admin-keys", "Admin API keys"),
        edit: Some(objects::form(
            &c,
            "Rename",
            &format!("/admin-keys/{id}"),
            inputs,
            "Save",
        )),
        remove: (k.status == "active").then(|| format!("/admin-keys/{id}/remove")),
    };
    Ok(objects::detail(&c, d, &k))
}

pub async fn update(AdminWrite(c, f): AdminWrite, path: Id) -> ConsoleResult {
    let change = uc::AdminKeyChange {
        name: Some(f.require("name", "A name")?.to_string()),
    };
    let (store, clock) = (&c.st.store, c.st.clock.as_ref());
    uc::update(store, clock, &c.tenant.id, &path.1, &change, &c.actor()).await?;
    Ok(super::see_other(
        c.slug(),
        &format!("/admin-keys/{}", path.1),
    ))
}

async fn run(c: &Console, id: &str, dry: bool) -> ConsoleResult {
    let (store, clock) = (&c.st.store, c.st.clock.as_ref());
    let r = uc::remove(store, clock, &c.tenant.id, id, &c.actor(), dry).await?;
    let ask = Ask {
        nav: "admin-keys",
        what: "admin API key",
        name: r.removed.name.clone(),
        action: format!("/admin-keys/{id}/remove"),
        back: "/admin-keys",
    };
    Ok(objects::removal(c, &r, dry, ask))
}

pub async fn confirm_remove(Admin(c): Admin, path: Id) -> ConsoleResult {
    run(&c, &path.1, true).await
}

pub async fn remove(AdminWrite(c, f): AdminWrite, path: Id) -> ConsoleResult {
    run(&c, &path.1, !objects::confirmed(&f)).await
}
