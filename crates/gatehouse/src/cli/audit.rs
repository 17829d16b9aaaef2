use anyhow::{bail, Context, Result};
use authz_core::audit::{self, PLATFORM_CHAIN};
use clap::Subcommand;

use super::Ctx;

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// Recompute a tenant's hash chain and check its signed checkpoints. Exits non-zero and
    /// names the first broken record or checkpoint.
    Verify {
        /// Tenant slug, or `platform` for the platform's own chain.
        #[arg(long)]
        tenant: String,
    },
    /// Apply audit retention: delete each tenant's records older than its retention setting
    /// (1–7 years), only in whole ranges ending at a signed checkpoint, which is kept. On
    /// PostgreSQL this needs the audit table's owner (the migration role).
    Purge {
        /// Only this tenant (default: every tenant).
        #[arg(long)]
        tenant: Option<String>,
    },
}

pub async fn audit(ctx: &Ctx, cmd: AuditCmd) -> Result<()> {
    let tenant = match cmd {
        AuditCmd::Verify { tenant } => tenant,
        AuditCmd::Purge { tenant } => return purge(ctx, tenant).await,
    };
    let chain = if tenant == "platform" {
        PLATFORM_CHAIN.to_string()
    } else {
        authz_core::tenant::find_by_slug(&ctx.store.db, &tenant)
            .await
            .with_context(|| format!("tenant '{tenant}'"))?
            .id
            .to_string()
    };
    let keys = ctx.master_key.audit_verifying_keys();
    let report = audit::verify_chain_with_keys(&ctx.store, &chain, &keys).await?;
    println!("tenant: {tenant}");
    println!("records: {}", report.records);
    println!("checkpoints: {}", report.checkpoints);
    if let Some(n) = report.purged_through {
        println!("purged_through: {n}");
    }
    println!("unsealed: {}", report.unsealed);
    if let Some((seq, hash)) = &report.head {
        println!("signed_head: {seq} {hash}");
    }
    match report.first_break {
        None => {
            println!("status: ok");
            Ok(())
        }
        Some(b) => {
            println!("status: broken");
            println!("first_break: {b}");
            bail!("audit chain of '{tenant}' is broken: {b}")
        }
    }
}

async fn purge(ctx: &Ctx, tenant: Option<String>) -> Result<()> {
    use authz_core::audit::retention;
    let clock = ctx.clock.as_ref();
    let hint = "audit purge failed (on PostgreSQL it must run as the owner of the audit tables)";
    let done = match tenant {
        None => retention::purge_all(&ctx.store, clock)
            .await
            .context(hint)?,
        Some(slug) => {
            let t = authz_core::tenant::find_by_slug(&ctx.store.db, &slug)
                .await
                .with_context(|| format!("tenant '{slug}'"))?;
            let years = authz_core::admin::settings::get(&ctx.store.db, &t.id)
                .await?
                .audit_retention_years();
            let mut all = retention::PurgeAll::default();
            match retention::purge(&ctx.store, clock, &t.id, years).await {
                Ok(Some(p)) => all.purged.push((slug, p)),
                Ok(None) => {}
                Err(e) => all.failed.push((slug, e)),
            }
            all
        }
    };
    for (slug, p) in &done.purged {
        println!(
            "purged: {slug} up_to_seq={} records={}",
            p.up_to_seq, p.deleted
        );
    }
    println!("tenants_purged: {}", done.purged.len());
    ctx.seal().await?;
    if let Some((slug, e)) = done.failed.first() {
        bail!(
            "{hint}: tenant '{slug}': {e} ({} tenant(s) failed)",
            done.failed.len()
        );
    }
    Ok(())
}
