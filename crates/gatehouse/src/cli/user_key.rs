//! `gatehouse user-key`: members' personal API keys for IDE clients (issue 14 §1), as a tenant
//! admin sees them in the console and the admin API: list, revoke, and the tenant's settings
//! (on/off, maximum lifetime). Not the admin API's own keys (`gatehouse admin-key`).
use anyhow::{bail, Context, Result};
use authz_core::admin::settings;
use clap::Subcommand;

use super::manage::{self, ListArgs, RemoveArgs, ShowArgs};
use super::Ctx;
use app::manage::user_key as uc;

#[derive(Subcommand, Debug)]
pub enum UserKeyCmd {
    /// List every personal API key of a tenant's members (never a secret).
    List(ListArgs),
    /// Show one member's key (never its secret).
    Show(ShowArgs),
    /// Rename a member's key (its scopes and expiry are the member's choice).
    Update {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The key id (as `list` shows it).
        #[arg(long)]
        id: String,
        /// The new name.
        #[arg(long)]
        name: Option<String>,
        /// Print one JSON object instead of `key: value` lines.
        #[arg(long)]
        json: bool,
    },
    /// Remove (revoke) a member's key at once on every node, after saying what stops.
    Remove(RemoveArgs),
    /// Revoke a member's key at once, on every node.
    Revoke {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The key id (as `list` and the member's account page show it).
        #[arg(long)]
        id: String,
    },
    /// Show, and with flags change, whether members may create keys and their maximum life.
    /// Turning keys off revokes every existing key of the tenant.
    Settings {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// Let members create personal API keys.
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        /// Stop members creating keys; revokes every existing key of the tenant.
        #[arg(long)]
        disable: bool,
        /// Days a key lives at most (1-90; default 30).
        #[arg(long)]
        max_days: Option<i64>,
    },
}

pub async fn user_key(ctx: &Ctx, cmd: UserKeyCmd) -> Result<()> {
    let clock = ctx.clock.as_ref();
    let tenant_of = |slug: String| async move {
        authz_core::tenant::find_by_slug(&ctx.store.db, &slug)
            .await
            .with_context(|| format!("tenant '{slug}'"))
    };
    // The operator at the machine acts as the tenant's admin; the audit log names `operator`.
    let admin = |t: &authz_core::tenant::Tenant| {
        app::TenantAdmin::verified(t.id.clone(), app::Operator::cli().actor().to_string())
    };
    match cmd {
        UserKeyCmd::List(a) => {
            let t = manage::tenant_id(ctx, &a.tenant).await?;
            let all = uc::list(&ctx.store.db, clock, &t).await?;
            let line = |k: &uc::UserKeyView| {
                format!(
                    "{} {} user={} resource={} scopes={} expires={} last_used={} prefix={} client={} {}",
                    k.id,
                    k.status,
                    k.user_id,
                    k.resource,
                    k.scopes.join(","),
                    k.expires_at,
                    k.last_used_at.as_deref().unwrap_or("never"),
                    k.prefix,
                    k.client,
                    k.name
                )
            };
            manage::print_list("user_key", &all, line, a.json)?;
        }
        UserKeyCmd::Show(a) => {
            let t = manage::tenant_id(ctx, &a.tenant).await?;
            manage::print_one(&uc::show(&ctx.store.db, clock, &t, &a.id).await?, a.json)?;
        }
        UserKeyCmd::Update {
            tenant,
            id,
            name,
            json,
        } => {
            let t = manage::tenant_id(ctx, &tenant).await?;
            let change = uc::UserKeyChange { name };
            let v = uc::update(&ctx.store, clock, &t, &id, &change, "operator").await?;
            manage::print_one(&v, json)?;
        }
        UserKeyCmd::Remove(a) => {
            let t = manage::tenant_id(ctx, &a.tenant).await?;
            let what =
                |v: &uc::UserKeyView| format!("personal API key \"{}\" ({})", v.name, v.prefix);
            let run = |dry| uc::remove(&ctx.store, clock, &t, &a.id, "operator", dry);
            manage::remove(&a, what, run).await?;
        }
        UserKeyCmd::Revoke { tenant, id } => {
            let t = tenant_of(tenant).await?;
            let (k, revoked) = app::api_keys::admin::revoke(&ctx.store, clock, &admin(&t), &id)
                .await
                .with_context(|| format!("key '{id}'"))?;
            println!("user_key: {}", k.id);
            println!("status: {}", k.status.as_str());
            if !revoked {
                eprintln!("note: the key was not active; nothing changed");
            }
        }
        UserKeyCmd::Settings {
            tenant,
            enable,
            disable,
            max_days,
        } => {
            let t = tenant_of(tenant).await?;
            let old = settings::get(&ctx.store.db, &t.id).await?;
            let mut new = old.clone();
            if enable {
                new.api_keys_enabled = Some(true);
            }
            if disable {
                new.api_keys_enabled = None;
            }
            if let Some(d) = max_days {
                if !(settings::API_KEY_MAX_DAYS.0..=settings::API_KEY_MAX_DAYS.1).contains(&d) {
                    bail!("--max-days must be between 1 and 90");
                }
                new.api_key_max_days = Some(d);
            }
            if new != old {
                settings::set(&ctx.store, clock, &t.id, &new, "operator").await?;
            }
            println!("tenant: {}", t.slug);
            println!("api_keys_enabled: {}", new.api_keys_enabled());
            println!("api_key_max_days: {}", new.api_key_max_days());
        }
    }
    Ok(())
}
