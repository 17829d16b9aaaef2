//! The operator area's pages: lists, a resource's and a client's detail, and removals that ask
//! first and say what they revoke (the use case run as a preview).
use actix_web::web;
use app::client;
use app::resource::manage;
use minijinja::context;

use super::{see_other, Operator, OperatorWrite};
use crate::console::ConsoleResult;

pub async fn tenants(op: Operator) -> ConsoleResult {
    let all = app::tenant::list(&op.st.store, &op.principal()).await?;
    Ok(op.render("tenants", context! { tenants => all }))
}

async fn tenant_confirmation(op: &Operator, slug: &str) -> ConsoleResult {
    let clock = op.st.clock.as_ref();
    let p = app::tenant::remove(&op.st.store, clock, &op.principal(), slug, true).await?;
    let action = format!("/tenants/{slug}/remove");
    Ok(op.confirm("tenant", &p.removed.name, &p.revoked, &action, "/tenants"))
}

pub async fn confirm_tenant(op: Operator, path: web::Path<String>) -> ConsoleResult {
    tenant_confirmation(&op, &path).await
}

pub async fn remove_tenant(
    OperatorWrite(op, f): OperatorWrite,
    path: web::Path<String>,
) -> ConsoleResult {
    if f.get("confirm") != Some("yes") {
        return tenant_confirmation(&op, &path).await;
    }
    let clock = op.st.clock.as_ref();
    app::tenant::remove(&op.st.store, clock, &op.principal(), &path, false).await?;
    Ok(see_other("/tenants"))
}

pub async fn resources(op: Operator) -> ConsoleResult {
    let all = manage::list(&op.st.store, &op.principal()).await?;
    Ok(op.render("resources", context! { resources => all }))
}

pub async fn resource(op: Operator, path: web::Path<String>) -> ConsoleResult {
    let r = manage::show(&op.st.store, &op.principal(), &path).await?;
    Ok(op.render("resource", context! { resource => r }))
}

pub async fn rename_resource(
    OperatorWrite(op, f): OperatorWrite,
    path: web::Path<String>,
) -> ConsoleResult {
    let change = manage::ResourceChange {
        display_name: f.get("display_name").map(str::to_string),
    };
    let clock = op.st.clock.as_ref();
    manage::rename(&op.st.store, clock, &op.principal(), &path, change).await?;
    Ok(see_other(&format!("/resources/{}", path.as_str())))
}

async fn resource_confirmation(op: &Operator, id: &str) -> ConsoleResult {
    let clock = op.st.clock.as_ref();
    let p = manage::remove(&op.st.store, clock, &op.principal(), id, true).await?;
    let (action, back) = (
        format!("/resources/{id}/remove"),
        format!("/resources/{id}"),
    );
    Ok(op.confirm(
        "resource",
        &p.removed.display_name,
        &p.revoked,
        &action,
        &back,
    ))
}

pub async fn confirm_resource(op: Operator, path: web::Path<String>) -> ConsoleResult {
    resource_confirmation(&op, &path).await
}

pub async fn remove_resource(
    OperatorWrite(op, f): OperatorWrite,
    path: web::Path<String>,
) -> ConsoleResult {
    if f.get("confirm") != Some("yes") {
        return resource_confirmation(&op, &path).await;
    }
    let clock = op.st.clock.as_ref();
    manage::remove(&op.st.store, clock, &op.principal(), &path, false).await?;
    Ok(see_other("/resources"))
}

pub async fn clients(op: Operator) -> ConsoleResult {
    let all = client::list(&op.st.store, &op.principal()).await?;
    Ok(op.render("clients", context! { clients => all }))
}

pub async fn client(op: Operator, path: web::Path<String>) -> ConsoleResult {
    let c = client::show(&op.st.store, &op.principal(), &path).await?;
    Ok(op.render("client", context! { client => c }))
}

async fn client_confirmation(op: &Operator, id: &str) -> ConsoleResult {
    let clock = op.st.clock.as_ref();
    let p = client::remove(&op.st.store, clock, &op.principal(), id, true).await?;
    let (action, back) = (format!("/clients/{id}/remove"), format!("/clients/{id}"));
    Ok(op.confirm("client", &p.removed.client_name, &p.revoked, &action, &back))
}

pub async fn confirm_client(op: Operator, path: web::Path<String>) -> ConsoleResult {
    client_confirmation(&op, &path).await
}

pub async fn remove_client(
    OperatorWrite(op, f): OperatorWrite,
    path: web::Path<String>,
) -> ConsoleResult {
    if f.get("confirm") != Some("yes") {
        return client_confirmation(&op, &path).await;
    }
    let clock = op.st.clock.as_ref();
    client::remove(&op.st.store, clock, &op.principal(), &path, false).await?;
    Ok(see_other("/clients"))
}

pub async fn keys(op: Operator) -> ConsoleResult {
    let all = app::operator_key::list(&op.st.store, op.st.clock.as_ref(), &op.principal()).await?;
    Ok(op.render("keys", context! { keys => all }))
}

pub async fn key(op: Operator, path: web::Path<String>) -> ConsoleResult {
    let clock = op.st.clock.as_ref();
    let k = app::operator_key::show(&op.st.store, clock, &op.principal(), &path).await?;
    Ok(op.render("key", context! { key => k }))
}

pub async fn rename_key(
    OperatorWrite(op, f): OperatorWrite,
    path: web::Path<String>,
) -> ConsoleResult {
    let change = app::operator_key::OperatorKeyChange {
        name: f.get("name").map(str::to_string),
    };
    let clock = op.st.clock.as_ref();
    app::operator_key::update(&op.st.store, clock, &op.principal(), &path, change).await?;
    Ok(see_other(&format!("/operator-keys/{}", path.as_str())))
}

async fn key_confirmation(op: &Operator, id: &str) -> ConsoleResult {
    let clock = op.st.clock.as_ref();
    let p = app::operator_key::remove(&op.st.store, clock, &op.principal(), id, true).await?;
    let (action, back) = (
        format!("/operator-keys/{id}/remove"),
        format!("/operator-keys/{id}"),
    );
    Ok(op.confirm("operator key", &p.removed.name, &p.revoked, &action, &back))
}

pub async fn confirm_key(op: Operator, path: web::Path<String>) -> ConsoleResult {
    key_confirmation(&op, &path).await
}

pub async fn remove_key(
    OperatorWrite(op, f): OperatorWrite,
    path: web::Path<String>,
) -> ConsoleResult {
    if f.get("confirm") != Some("yes") {
        return key_confirmation(&op, &path).await;
    }
    let clock = op.st.clock.as_ref();
    app::operator_key::remove(&op.st.store, clock, &op.principal(), &path, false).await?;
    Ok(see_other("/operator-keys"))
}

pub async fn tenant(op: Operator, path: web::Path<String>) -> ConsoleResult {
    let t = app::tenant::show(&op.st.store, &op.principal(), &path).await?;
    Ok(op.render("tenant", context! { tenant => t }))
}

/// The display name and provisioning (alert recipients are the tenant's own settings page's).
pub async fn update_tenant(
    OperatorWrite(op, f): OperatorWrite,
    path: web::Path<String>,
) -> ConsoleResult {
    let change = app::tenant::TenantChange {
        name: f.get("name").map(str::to_string),
        provisioning: f.get("provisioning").map(str::to_string),
        alert_recipients: None,
    };
    let clock = op.st.clock.as_ref();
    app::tenant::update(&op.st.store, clock, &op.principal(), &path, change).await?;
    Ok(see_other(&format!("/tenants/{}", path.as_str())))
}

pub async fn rename_client(
    OperatorWrite(op, f): OperatorWrite,
    path: web::Path<String>,
) -> ConsoleResult {
    let change = client::ClientChange {
        client_name: f.get("client_name").map(str::to_string),
    };
    let clock = op.st.clock.as_ref();
    client::update(&op.st.store, clock, &op.principal(), &path, change).await?;
    Ok(see_other(&format!("/clients/{}", urlencoding(&path))))
}

/// A client id (a CIMD client's is a URL) as one path segment.
fn urlencoding(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect()
}
