//! `client list|show|update|remove`, `resource list|show --json|remove` and `operator-key
//! list --json|show|update|remove` (issue 16 §2): the same use cases (`app::client`,
//! `app::resource::manage`, `app::operator_key`) and JSON shape (`--json`) as the admin API.
use anyhow::{Context, Result};
use app::client::{self, ClientChange, ClientView};
use app::operator_key::{self, OperatorKeyView};
use app::resource::manage;

use super::confirm;
use super::Ctx;

fn print_client(c: &ClientView, json: bool) -> Result<()> {
    if json {
        return confirm::print_json(c);
    }
    println!("client_id: {}", c.client_id);
    println!("name: {}", c.client_name);
    println!("kind: {}", c.kind);
    for u in &c.redirect_uris {
        println!("redirect_uri: {u}");
    }
    println!(
        "token_endpoint_auth_method: {}",
        c.token_endpoint_auth_method
    );
    Ok(())
}

pub async fn client_list(ctx: &Ctx, json: bool) -> Result<()> {
    let all = client::list(&ctx.store, &app::Operator::cli()).await?;
    if json {
        return confirm::print_json(&all);
    }
    for c in all {
        println!("client: {} {}", c.client_id, c.client_name);
    }
    Ok(())
}

pub async fn client_show(ctx: &Ctx, id: &str, json: bool) -> Result<()> {
    let c = client::show(&ctx.store, &app::Operator::cli(), id)
        .await
        .with_context(|| format!("client '{id}'"))?;
    print_client(&c, json)
}

pub async fn client_update(ctx: &Ctx, id: &str, name: Option<String>, json: bool) -> Result<()> {
    let change = ClientChange { client_name: name };
    let op = app::Operator::cli();
    let c = client::update(&ctx.store, ctx.clock.as_ref(), &op, id, change)
        .await
        .with_context(|| format!("client '{id}'"))?;
    print_client(&c, json)
}

pub async fn client_remove(ctx: &Ctx, id: &str, yes: bool, json: bool) -> Result<()> {
    let (op, clock) = (app::Operator::cli(), ctx.clock.as_ref());
    let preview = client::remove(&ctx.store, clock, &op, id, true)
        .await
        .with_context(|| format!("client '{id}'"))?;
    let what = format!("client {:?} ({id})", preview.removed.client_name);
    confirm::removal(&what, &preview.revoked, yes)?;
    let r = client::remove(&ctx.store, clock, &op, id, false).await?;
    if json {
        return confirm::print_json(&r);
    }
    println!("removed: {id}");
    for line in r.revoked.lines() {
        println!("revoked: {line}");
    }
    Ok(())
}

pub async fn resource_list(ctx: &Ctx, json: bool) -> Result<()> {
    let all = manage::list(&ctx.store, &app::Operator::cli()).await?;
    if json {
        return confirm::print_json(&all);
    }
    for r in all {
        println!("resource: {} {} {}", r.uri, r.id, r.display_name);
    }
    Ok(())
}

pub async fn resource_show(ctx: &Ctx, key: &str) -> Result<()> {
    let r = manage::show(&ctx.store, &app::Operator::cli(), key)
        .await
        .with_context(|| format!("resource '{key}'"))?;
    confirm::print_json(&r)
}

pub async fn resource_remove(ctx: &Ctx, key: &str, yes: bool, json: bool) -> Result<()> {
    let (op, clock) = (app::Operator::cli(), ctx.clock.as_ref());
    let preview = manage::remove(&ctx.store, clock, &op, key, true)
        .await
        .with_context(|| format!("resource '{key}'"))?;
    let what = format!(
        "resource {:?} ({})",
        preview.removed.display_name, preview.removed.uri
    );
    confirm::removal(&what, &preview.revoked, yes)?;
    let r = manage::remove(&ctx.store, clock, &op, key, false).await?;
    if json {
        return confirm::print_json(&r);
    }
    println!("removed: {}", r.removed.uri);
    for line in r.revoked.lines() {
        println!("revoked: {line}");
    }
    Ok(())
}

fn print_operator_key(k: &OperatorKeyView, json: bool) -> Result<()> {
    if json {
        return confirm::print_json(k);
    }
    println!("key_id: {}", k.id);
    println!("name: {}", k.name);
    println!("status: {}", k.status);
    println!("expires_at: {}", k.expires_at);
    Ok(())
}

pub async fn operator_key_list(ctx: &Ctx) -> Result<()> {
    let all = operator_key::list(&ctx.store, ctx.clock.as_ref(), &app::Operator::cli()).await?;
    confirm::print_json(&all)
}

pub async fn operator_key_show(ctx: &Ctx, id: &str, json: bool) -> Result<()> {
    let k = operator_key::show(&ctx.store, ctx.clock.as_ref(), &app::Operator::cli(), id)
        .await
        .with_context(|| format!("operator key '{id}'"))?;
    print_operator_key(&k, json)
}

pub async fn operator_key_update(
    ctx: &Ctx,
    id: &str,
    name: Option<String>,
    json: bool,
) -> Result<()> {
    let change = operator_key::OperatorKeyChange { name };
    let op = app::Operator::cli();
    let k = operator_key::update(&ctx.store, ctx.clock.as_ref(), &op, id, change)
        .await
        .with_context(|| format!("operator key '{id}'"))?;
    print_operator_key(&k, json)
}

pub async fn operator_key_remove(ctx: &Ctx, id: &str, yes: bool, json: bool) -> Result<()> {
    let (op, clock) = (app::Operator::cli(), ctx.clock.as_ref());
    let preview = operator_key::remove(&ctx.store, clock, &op, id, true)
        .await
        .with_context(|| format!("operator key '{id}'"))?;
    let what = format!("operator key {:?} ({id})", preview.removed.name);
    confirm::removal(&what, &preview.revoked, yes)?;
    let r = operator_key::remove(&ctx.store, clock, &op, id, false).await?;
    if json {
        return confirm::print_json(&r);
    }
    println!("removed: {id}");
    for line in r.revoked.lines() {
        println!("revoked: {line}");
    }
    Ok(())
}
