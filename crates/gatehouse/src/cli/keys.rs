//! Admin API keys: `operator-key` (platform-wide) and `admin-key` (one tenant).
use anyhow::{Context, Result};
use authz_core::api_key::{self, ApiKey, Scope};
use clap::Subcommand;

use super::manage::{self, ListArgs, RemoveArgs, ShowArgs};
use super::{ts, Ctx};
use app::manage::admin_key as uc;

#[derive(Subcommand, Debug)]
pub enum OperatorKeyCmd {
    /// Create an operator API key for /admin/api/v1 (printed once).
    Create {
        /// A name that says who holds the key.
        #[arg(long, default_value = "operator")]
        name: String,
        /// Lifetime, e.g. 90d (at most 366d).
        #[arg(long, default_value = "90d")]
        expires_in: String,
    },
    /// List operator keys (never their secrets).
    List {
        /// Print JSON instead of `key: value` lines.
        #[arg(long)]
        json: bool,
    },
    /// Revoke an operator key at once.
    Revoke {
        /// The key's id (as `list` shows it).
        #[arg(long)]
        id: String,
    },
    /// Show an operator key (never its secret).
    Show {
        /// Which one: the id `list` shows.
        #[arg(long)]
        id: String,
        /// Print JSON instead of `key: value` lines.
        #[arg(long)]
        json: bool,
    },
    /// Rename an operator key (who holds it).
    Update {
        /// Which one: the id `list` shows.
        #[arg(long)]
        id: String,
        /// The new name.
        #[arg(long)]
        name: Option<String>,
        /// Print JSON instead of `key: value` lines.
        #[arg(long)]
        json: bool,
    },
    /// Remove (revoke) an operator key at once, ending the console sessions opened with it
    /// (asks first, or `--yes`).
    Remove {
        /// Which one: the id `list` shows.
        #[arg(long)]
        id: String,
        /// Remove without asking (needed when standard input is not a terminal).
        #[arg(long)]
        yes: bool,
        /// Print JSON instead of `key: value` lines.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum AdminKeyCmd {
    /// Create a tenant-admin API key for /admin/api/v1/tenants/<slug>/… (printed once).
    Create {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// A name that says who holds the key.
        #[arg(long, default_value = "tenant admin")]
        name: String,
        /// Lifetime, e.g. 90d (at most 366d).
        #[arg(long, default_value = "90d")]
        expires_in: String,
    },
    /// List a tenant's admin keys (never their secrets).
    List(ListArgs),
    /// Show one admin key (never its secret).
    Show(ShowArgs),
    /// Rename an admin key.
    Update {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The key's id (as `list` shows it).
        #[arg(long)]
        id: String,
        /// The new name (who holds the key).
        #[arg(long)]
        name: Option<String>,
        /// Print one JSON object instead of `key: value` lines.
        #[arg(long)]
        json: bool,
    },
    /// Remove (revoke) an admin key at once, after saying what stops.
    Remove(RemoveArgs),
    /// Revoke a tenant's admin key at once.
    Revoke {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The key's id (as `list` shows it).
        #[arg(long)]
        id: String,
    },
}

fn print_created(k: &ApiKey, secret: &str) {
    println!("key_id: {}", k.id);
    println!("expires_at: {}", ts(k.expires_at));
    println!("key: {secret}");
    eprintln!("note: the key is shown once; send it as Authorization: Bearer <key>");
}

fn print_list(keys: &[ApiKey]) {
    for k in keys {
        let state = if k.revoked_at.is_some() {
            "revoked"
        } else {
            "active"
        };
        println!(
            "api_key: {} {} {} expires {}",
            k.id,
            state,
            k.name,
            ts(k.expires_at)
        );
    }
}

pub async fn operator_key(ctx: &Ctx, cmd: OperatorKeyCmd) -> Result<()> {
    let clock = ctx.clock.as_ref();
    match cmd {
        OperatorKeyCmd::Create { name, expires_in } => {
            let ttl = authz_core::scim_token::parse_duration(&expires_in)?;
            let (k, secret) =
                api_key::create(&ctx.store, clock, Scope::Operator, &name, ttl).await?;
            print_created(&k, &secret);
        }
        OperatorKeyCmd::List { json: false } => {
            print_list(&api_key::list(&ctx.store.db, None).await?)
        }
        OperatorKeyCmd::List { json: true } => super::manage_client::operator_key_list(ctx).await?,
        OperatorKeyCmd::Show { id, json } => {
            super::manage_client::operator_key_show(ctx, &id, json).await?
        }
        OperatorKeyCmd::Update { id, name, json } => {
            super::manage_client::operator_key_update(ctx, &id, name, json).await?
        }
        OperatorKeyCmd::Remove { id, yes, json } => {
            super::manage_client::operator_key_remove(ctx, &id, yes, json).await?
        }
        OperatorKeyCmd::Revoke { id } => {
            api_key::revoke(&ctx.store, clock, None, &id, "operator").await?;
            println!("revoked: {id}");
        }
    }
    Ok(())
}

pub async fn admin_key(ctx: &Ctx, cmd: AdminKeyCmd) -> Result<()> {
    let clock = ctx.clock.as_ref();
    let tenant_of = |slug: String| async move {
        authz_core::tenant::find_by_slug(&ctx.store.db, &slug)
            .await
            .with_context(|| format!("tenant '{slug}'"))
    };
    match cmd {
        AdminKeyCmd::Create {
            tenant,
            name,
            expires_in,
        } => {
            let t = tenant_of(tenant).await?;
            let ttl = authz_core::scim_token::parse_duration(&expires_in)?;
            let (k, secret) =
                api_key::create(&ctx.store, clock, Scope::TenantAdmin(t.id), &name, ttl).await?;
            print_created(&k, &secret);
        }
        AdminKeyCmd::List(a) => {
            let t = manage::tenant_id(ctx, &a.tenant).await?;
            let all = uc::list(&ctx.store.db, clock, &t).await?;
            let line = |v: &uc::AdminKeyView| {
                format!("{} {} {} expires {}", v.id, v.status, v.name, v.expires_at)
            };
            manage::print_list("api_key", &all, line, a.json)?;
        }
        AdminKeyCmd::Show(a) => {
            let t = manage::tenant_id(ctx, &a.tenant).await?;
            manage::print_one(&uc::show(&ctx.store.db, clock, &t, &a.id).await?, a.json)?;
        }
        AdminKeyCmd::Update {
            tenant,
            id,
            name,
            json,
        } => {
            let t = manage::tenant_id(ctx, &tenant).await?;
            let change = uc::AdminKeyChange { name };
            let v = uc::update(&ctx.store, clock, &t, &id, &change, "operator").await?;
            manage::print_one(&v, json)?;
        }
        AdminKeyCmd::Remove(a) => {
            let t = manage::tenant_id(ctx, &a.tenant).await?;
            let what = |v: &uc::AdminKeyView| format!("admin key \"{}\"", v.name);
            let run = |dry| uc::remove(&ctx.store, clock, &t, &a.id, "operator", dry);
            manage::remove(&a, what, run).await?;
        }
        AdminKeyCmd::Revoke { tenant, id } => {
            let t = tenant_of(tenant).await?;
            api_key::revoke(&ctx.store, clock, Some(&t.id), &id, "operator").await?;
            println!("revoked: {id}");
        }
    }
    Ok(())
}
