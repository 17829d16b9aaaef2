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
}

pub async fn audit(ctx: &Ctx, cmd: AuditCmd) -> Result<()> {
    let AuditCmd::Verify { tenant } = cmd;
    let chain = if tenant == "platform" {
        PLATFORM_CHAIN.to_string()
    } else {
        authz_core::tenant::find_by_slug(&ctx.store.db, &tenant)
            .await
            .with_context(|| format!("tenant '{tenant}'"))?
            .id
            .0
    };
    let keys = ctx.cfg.master_key()?.audit_verifying_keys();
    let report = audit::verify_chain_with_keys(&ctx.store, &chain, &keys).await?;
    println!("tenant: {tenant}");
    println!("records: {}", report.records);
    println!("checkpoints: {}", report.checkpoints);
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
