//! `gatehouse grant list|show|update|remove`: org grants as objects (issue 16 §2), one per
//! resource and group (`<resource id>~<group id>`, `~*` for every member). Narrowing or
//! removing a grant revokes the tokens that carry a withdrawn scope, and says how many.
use anyhow::{bail, Result};
use app::manage::grant as uc;

use super::catalog::GrantCmd;
use super::manage;
use super::Ctx;

#[derive(clap::Args, Debug)]
pub struct UpdateArgs {
    /// The tenant's slug.
    #[arg(long)]
    pub tenant: String,
    /// The grant's id (as `list` shows it).
    #[arg(long)]
    pub id: String,
    /// The grant's new scopes, space-separated (replaces the current set).
    #[arg(long)]
    pub scopes: String,
    /// Confirm granting critical-tier scopes (each use still needs a fresh IdP sign-in).
    #[arg(long)]
    pub allow_critical: bool,
    /// Print one JSON object instead of `key: value` lines.
    #[arg(long)]
    pub json: bool,
}

pub async fn manage(ctx: &Ctx, cmd: GrantCmd) -> Result<()> {
    let clock = ctx.clock.as_ref();
    match cmd {
        GrantCmd::List(a) => {
            let t = manage::tenant_id(ctx, &a.tenant).await?;
            let all = uc::list(&ctx.store.db, &t).await?;
            let line = |g: &uc::GrantView| {
                let to = g.group.as_deref().unwrap_or("everyone");
                format!(
                    "{} {} to={to} scopes={}",
                    g.id,
                    g.resource,
                    g.scopes.join(",")
                )
            };
            manage::print_list("grant", &all, line, a.json)?;
        }
        GrantCmd::Show(a) => {
            let t = manage::tenant_id(ctx, &a.tenant).await?;
            manage::print_one(&uc::show(&ctx.store.db, &t, &a.id).await?, a.json)?;
        }
        GrantCmd::Update(a) => {
            let t = manage::tenant_id(ctx, &a.tenant).await?;
            let change = uc::GrantChange {
                scopes: authz_core::scope::split(&a.scopes),
                allow_critical: a.allow_critical,
            };
            let g = uc::update(&ctx.store, clock, &t, &a.id, &change, "operator").await?;
            manage::print_one(&g, a.json)?;
        }
        GrantCmd::Remove(a) => {
            let t = manage::tenant_id(ctx, &a.tenant).await?;
            let what = |g: &uc::GrantView| {
                let to = g.group.as_deref().unwrap_or("every member");
                format!("the grant of {} to {to}", g.resource)
            };
            let run = |dry| uc::remove(&ctx.store, clock, &t, &a.id, "operator", dry);
            manage::remove(&a, what, run).await?;
        }
        GrantCmd::Add { .. } => bail!("grant add is handled by the catalogue commands"),
    }
    Ok(())
}
