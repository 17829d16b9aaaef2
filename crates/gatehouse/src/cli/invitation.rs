//! `gatehouse invitation …`: a tenant's admin invitations (sent with `gatehouse admin
//! invite`): list, show, extend, remove (withdraw: the link and any setup session stop).
use anyhow::Result;
use app::manage::invitation as uc;
use clap::Subcommand;

use super::manage::{self, ListArgs, RemoveArgs, ShowArgs};
use super::Ctx;

#[derive(Subcommand, Debug)]
pub enum InvitationCmd {
    /// List a tenant's admin invitations, newest first.
    List(ListArgs),
    /// Show one invitation.
    Show(ShowArgs),
    /// Change an invitation: --extend gives a never-accepted one seven days from now (the link
    /// already mailed works again).
    Update {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The invitation's id (as `list` shows it).
        #[arg(long)]
        id: String,
        /// Seven more days from now.
        #[arg(long)]
        extend: bool,
        /// Print one JSON object instead of `key: value` lines.
        #[arg(long)]
        json: bool,
    },
    /// Remove (withdraw) an invitation, after saying what stops.
    Remove(RemoveArgs),
}

pub async fn invitation(ctx: &Ctx, cmd: InvitationCmd) -> Result<()> {
    let clock = ctx.clock.as_ref();
    match cmd {
        InvitationCmd::List(a) => {
            let t = manage::tenant_id(ctx, &a.tenant).await?;
            let all = uc::list(&ctx.store.db, clock, &t).await?;
            let line = |i: &uc::InvitationView| {
                format!("{} {} {} expires={}", i.id, i.status, i.email, i.expires_at)
            };
            manage::print_list("invitation", &all, line, a.json)?;
        }
        InvitationCmd::Show(a) => {
            let t = manage::tenant_id(ctx, &a.tenant).await?;
            manage::print_one(&uc::show(&ctx.store.db, clock, &t, &a.id).await?, a.json)?;
        }
        InvitationCmd::Update {
            tenant,
            id,
            extend,
            json,
        } => {
            let t = manage::tenant_id(ctx, &tenant).await?;
            let change = uc::InvitationChange { extend };
            let v = uc::update(&ctx.store, clock, &t, &id, &change, "operator").await?;
            manage::print_one(&v, json)?;
        }
        InvitationCmd::Remove(a) => {
            let t = manage::tenant_id(ctx, &a.tenant).await?;
            let what = |i: &uc::InvitationView| format!("the invitation of {}", i.email);
            let run = |dry| uc::remove(&ctx.store, clock, &t, &a.id, "operator", dry);
            manage::remove(&a, what, run).await?;
        }
    }
    Ok(())
}
