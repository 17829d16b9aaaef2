//! `client list|show|update|remove` (issue 16 §2): the same use cases (`app::client`) and JSON
//! shape (`--json`) as the admin API.
use anyhow::{Context, Result};
use app::client::{self, ClientChange, ClientView};

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
