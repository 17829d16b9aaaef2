use anyhow::{Context, Result};
use authz_core::scim_token;
use clap::Subcommand;

use super::manage::{self, ListArgs, RemoveArgs, ShowArgs};
use super::{ts, Ctx};
use app::manage::scim_token as uc;

#[derive(Subcommand, Debug)]
pub enum ScimTokenCmd {
    /// Create a tenant's SCIM bearer token (printed once).
    Create {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// A name that says which IdP or job uses the token.
        #[arg(long, default_value = "SCIM provisioning")]
        name: String,
        /// Lifetime, e.g. 90d, 12h (at most 366d).
        #[arg(long, default_value = "90d")]
        expires_in: String,
    },
    /// List a tenant's SCIM tokens (never their secrets).
    List(ListArgs),
    /// Show one SCIM token (never its secret).
    Show(ShowArgs),
    /// Rename a SCIM token (to replace its secret, rotate it).
    Update {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The token's id (as `list` shows it).
        #[arg(long)]
        id: String,
        /// The new name (which IdP or job uses it).
        #[arg(long)]
        name: Option<String>,
        /// Print one JSON object instead of `key: value` lines.
        #[arg(long)]
        json: bool,
    },
    /// Remove (revoke) a SCIM token at once, after saying what stops: the IdP's provisioning
    /// with it.
    Remove(RemoveArgs),
    /// Issue a successor; the old token keeps working for the overlap only.
    Rotate {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The token's id (as `list` shows it).
        #[arg(long)]
        id: String,
        /// How long the old token keeps working, e.g. 7d, 12h, 0 (at most 30d).
        #[arg(long, default_value = "7d")]
        overlap: String,
        /// The new token's lifetime, e.g. 90d (at most 366d).
        #[arg(long, default_value = "90d")]
        expires_in: String,
    },
    /// Revoke a SCIM token at once.
    Revoke {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The token's id (as `list` shows it).
        #[arg(long)]
        id: String,
    },
}

pub async fn scim_token(ctx: &Ctx, cmd: ScimTokenCmd) -> Result<()> {
    let clock = ctx.clock.as_ref();
    let tenant_of = |slug: String| async move {
        authz_core::tenant::find_by_slug(&ctx.store.db, &slug)
            .await
            .with_context(|| format!("tenant '{slug}'"))
    };
    match cmd {
        ScimTokenCmd::Create {
            tenant,
            name,
            expires_in,
        } => {
            let t = tenant_of(tenant).await?;
            let ttl = scim_token::parse_duration(&expires_in)?;
            let (tok, secret) = scim_token::create(&ctx.store, clock, &t.id, &name, ttl).await?;
            println!("token_id: {}", tok.id);
            println!("expires_at: {}", ts(tok.expires_at));
            println!("token: {secret}");
            eprintln!(
                "note: the token is shown once; paste it into the IdP's provisioning settings"
            );
        }
        ScimTokenCmd::List(a) => {
            let t = manage::tenant_id(ctx, &a.tenant).await?;
            let all = uc::list(&ctx.store.db, clock, &t).await?;
            let line = |v: &uc::ScimTokenView| {
                let used = v.last_used_at.as_deref().unwrap_or("never");
                format!(
                    "{} {} expires={} last_used={used} {}",
                    v.id, v.status, v.expires_at, v.name
                )
            };
            manage::print_list("scim_token", &all, line, a.json)?;
        }
        ScimTokenCmd::Show(a) => {
            let t = manage::tenant_id(ctx, &a.tenant).await?;
            manage::print_one(&uc::show(&ctx.store.db, clock, &t, &a.id).await?, a.json)?;
        }
        ScimTokenCmd::Update {
            tenant,
            id,
            name,
            json,
        } => {
            let t = manage::tenant_id(ctx, &tenant).await?;
            let change = uc::ScimTokenChange { name };
            let v = uc::update(&ctx.store, clock, &t, &id, &change, "operator").await?;
            manage::print_one(&v, json)?;
        }
        ScimTokenCmd::Remove(a) => {
            let t = manage::tenant_id(ctx, &a.tenant).await?;
            let what = |v: &uc::ScimTokenView| {
                format!(
                    "SCIM token \"{}\" (the IdP's provisioning with it stops)",
                    v.name
                )
            };
            let run = |dry| uc::remove(&ctx.store, clock, &t, &a.id, "operator", dry);
            manage::remove(&a, what, run).await?;
        }
        ScimTokenCmd::Rotate {
            tenant,
            id,
            overlap,
            expires_in,
        } => {
            let t = tenant_of(tenant).await?;
            let (tok, secret) = scim_token::rotate(
                &ctx.store,
                clock,
                &t.id,
                &id,
                scim_token::parse_duration(&overlap)?,
                scim_token::parse_duration(&expires_in)?,
            )
            .await?;
            println!("token_id: {}", tok.id);
            println!("expires_at: {}", ts(tok.expires_at));
            println!("token: {secret}");
            if let Some(prev) = scim_token::list(&ctx.store.db, &t.id)
                .await?
                .into_iter()
                .find(|p| p.id == id)
            {
                println!("previous_token_until: {}", ts(prev.expires_at));
            }
        }
        ScimTokenCmd::Revoke { tenant, id } => {
            let t = tenant_of(tenant).await?;
            scim_token::revoke(&ctx.store, clock, &t.id, &id).await?;
            println!("token_id: {id}");
            println!("status: revoked");
        }
    }
    Ok(())
}
