//! `gatehouse incident …`: the operator's incident-response levers (docs/incident-response.md).
//! Each is audited and prints what it cut off.
use anyhow::{Context, Result};
use authz_core::incident::{self, Counts};
use clap::Subcommand;

use super::Ctx;

#[derive(Subcommand, Debug)]
pub enum IncidentCmd {
    /// Revoke every session (console sessions included), grant, token and unused code of a
    /// tenant.
    RevokeTenant {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
    },
    /// Revoke what came through one connection: its sessions, the grants started from them,
    /// their tokens and codes (the connection stays enabled; `connection disable` does both).
    RevokeConnection {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The connection's id (as `connection list` shows it).
        #[arg(long)]
        connection: String,
    },
    /// Revoke every grant, token and unused code of one client, in every tenant.
    RevokeClient {
        /// The OAuth client id.
        #[arg(long)]
        client: String,
    },
    /// Suspend a tenant: no sign-in, token, refresh or introspection succeeds until it is
    /// resumed. Nothing is deleted.
    SuspendTenant {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
    },
    /// Lift a tenant's suspension.
    ResumeTenant {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
    },
}

fn print(c: Counts) {
    println!("sessions_revoked: {}", c.sessions);
    println!("grants_revoked: {}", c.grants);
    println!("tokens_revoked: {}", c.tokens);
    println!("codes_discarded: {}", c.codes);
}

pub async fn incident(ctx: &Ctx, cmd: IncidentCmd) -> Result<()> {
    let clock = ctx.clock.as_ref();
    let tenant = |slug: String| async move {
        authz_core::tenant::find_by_slug(&ctx.store.db, &slug)
            .await
            .with_context(|| format!("tenant '{slug}'"))
    };
    match cmd {
        IncidentCmd::RevokeTenant { tenant: slug } => {
            let t = tenant(slug).await?;
            println!("tenant: {}", t.slug);
            print(incident::revoke_tenant(&ctx.store, clock, &t.id, "operator").await?);
        }
        IncidentCmd::RevokeConnection {
            tenant: slug,
            connection,
        } => {
            let t = tenant(slug).await?;
            let c = incident::revoke_connection(&ctx.store, clock, &t.id, &connection, "operator")
                .await
                .with_context(|| format!("connection '{connection}' of tenant '{}'", t.slug))?;
            println!("tenant: {}", t.slug);
            println!("connection_id: {connection}");
            print(c);
        }
        IncidentCmd::RevokeClient { client } => {
            let c = incident::revoke_client(&ctx.store, clock, &client)
                .await
                .with_context(|| format!("client '{client}'"))?;
            println!("client_id: {client}");
            print(c);
        }
        IncidentCmd::SuspendTenant { tenant: slug } => {
            let t = tenant(slug).await?;
            let changed = incident::suspend(&ctx.store, clock, &t.id, "operator").await?;
            println!("tenant: {}", t.slug);
            println!("suspended: true");
            println!("changed: {changed}");
        }
        IncidentCmd::ResumeTenant { tenant: slug } => {
            let t = tenant(slug).await?;
            let changed = incident::resume(&ctx.store, clock, &t.id, "operator").await?;
            println!("tenant: {}", t.slug);
            println!("suspended: false");
            println!("changed: {changed}");
        }
    }
    Ok(())
}
