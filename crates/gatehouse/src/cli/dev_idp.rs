//! `connection add-dev`: the development identity provider (ADR 0017).
use std::path::Path;

use anyhow::{Context, Result};
use app::connection::dev::{self, NewDev};
use app::connection::ConnectionActor;

use super::Ctx;

/// Adds a development connection from the users file at `users` and prints what it is, marked
/// development, with the URL of its sign-in page's origin.
pub async fn add(ctx: &Ctx, by: ConnectionActor, users: &Path, name: &str) -> Result<()> {
    // Refused before the file is read: the loopback rule is the first thing to know.
    if !authz_core::dev_idp::loopback_issuer(&ctx.issuer) {
        return Err(dev::DevIdpError::NotLoopback {
            issuer: ctx.issuer.clone(),
        }
        .into());
    }
    let text = std::fs::read_to_string(users)
        .with_context(|| format!("cannot read the users file {}", users.display()))?;
    let new = NewDev {
        name,
        issuer: &ctx.issuer,
        users_toml: &text,
    };
    let (c, n) = dev::add(super::tenant::deps(ctx), &by, new).await?;
    println!("connection_id: {}", c.id);
    println!("kind: development");
    println!("name: {}", c.name);
    println!("users: {n}");
    println!(
        "sign_in: {}/login (through an MCP client's authorization request)",
        ctx.issuer
    );
    println!("note: development identity provider: test users only, loopback issuer only");
    Ok(())
}
