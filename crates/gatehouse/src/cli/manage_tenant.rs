//! `tenant show|update|remove` and `connection show|update|remove` (issue 16 §2): the same use
//! cases and the same JSON shape (`--json`) as the admin API. A removal first previews what it
//! revokes (the use case run as a dry run), says it, asks (or needs `--yes`), then removes.
use std::path::PathBuf;

use anyhow::{Context, Result};
use app::connection::view::{self, ConnectionView};
use app::connection::{edit::Edit, remove, update, Metadata};
use app::removal::Removed;
use app::tenant::{self, TenantChange, TenantView};
use clap::Args;

use super::confirm;
use super::tenant::{cli_error, deps, operator_on};
use super::{read_secret, Ctx};

/// `--json` and the `key: value` lines of one tenant.
fn print_tenant(t: &TenantView, json: bool) -> Result<()> {
    if json {
        return confirm::print_json(t);
    }
    println!("tenant: {}", t.slug);
    println!("tenant_id: {}", t.id);
    println!("name: {}", t.name);
    for d in &t.domains {
        println!("domain: {d}");
    }
    println!("provisioning: {}", t.provisioning);
    println!("alert_recipients: {}", t.alert_recipients.join(" "));
    println!("suspended: {}", t.suspended);
    Ok(())
}

fn print_connection(c: &ConnectionView, json: bool) -> Result<()> {
    if json {
        return confirm::print_json(c);
    }
    println!("connection_id: {}", c.id);
    println!("name: {}", c.name);
    println!("kind: {}", c.kind);
    println!("preset: {}", c.preset);
    println!("issuer: {}", c.issuer);
    if !c.client_id.is_empty() {
        println!("client_id: {}", c.client_id);
    }
    println!("enabled: {}", c.enabled);
    Ok(())
}

fn print_removed<V: serde::Serialize>(r: &Removed<V>, what: &str, json: bool) -> Result<()> {
    if json {
        return confirm::print_json(r);
    }
    println!("removed: {what}");
    for line in r.revoked.lines() {
        println!("revoked: {line}");
    }
    Ok(())
}

pub async fn tenant_list(ctx: &Ctx, json: bool) -> Result<()> {
    let all = tenant::list(&ctx.store, &app::Operator::cli()).await?;
    if json {
        return confirm::print_json(&all);
    }
    for t in all {
        println!("tenant: {} {} {}", t.slug, t.id, t.name);
    }
    Ok(())
}

pub async fn tenant_show(ctx: &Ctx, slug: &str, json: bool) -> Result<()> {
    let t = tenant::show(&ctx.store, &app::Operator::cli(), slug)
        .await
        .with_context(|| format!("tenant '{slug}'"))?;
    print_tenant(&t, json)
}

/// What `tenant update` changes.
#[derive(Args, Debug)]
pub struct TenantUpdate {
    /// The tenant's slug.
    #[arg(long)]
    pub tenant: String,
    /// A new display name.
    #[arg(long)]
    pub name: Option<String>,
    /// `jit` or `scim`.
    #[arg(long, value_parser = ["jit", "scim"])]
    pub provisioning: Option<String>,
    /// Replaces the security-alert recipients (repeat for several).
    #[arg(long = "alert-recipient")]
    pub alert_recipients: Vec<String>,
    /// Remove every security-alert recipient.
    #[arg(long, conflicts_with = "alert_recipients")]
    pub no_alert_recipients: bool,
    /// Print the tenant as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn tenant_update(ctx: &Ctx, u: TenantUpdate) -> Result<()> {
    let recipients = if u.no_alert_recipients {
        Some(Vec::new())
    } else {
        (!u.alert_recipients.is_empty()).then_some(u.alert_recipients)
    };
    let change = TenantChange {
        name: u.name,
        provisioning: u.provisioning,
        alert_recipients: recipients,
    };
    let op = app::Operator::cli();
    let t = tenant::update(&ctx.store, ctx.clock.as_ref(), &op, &u.tenant, change)
        .await
        .with_context(|| format!("tenant '{}'", u.tenant))?;
    print_tenant(&t, u.json)
}

pub async fn tenant_remove(ctx: &Ctx, slug: &str, yes: bool, json: bool) -> Result<()> {
    let (op, clock) = (app::Operator::cli(), ctx.clock.as_ref());
    let preview = tenant::remove(&ctx.store, clock, &op, slug, true)
        .await
        .with_context(|| format!("tenant '{slug}'"))?;
    confirm::removal(&format!("tenant {slug:?}"), &preview.revoked, yes)?;
    let r = tenant::remove(&ctx.store, clock, &op, slug, false).await?;
    print_removed(&r, slug, json)
}

pub async fn connection_list(ctx: &Ctx, slug: &str, json: bool) -> Result<()> {
    let by = operator_on(ctx, slug).await?;
    let all = view::list(&ctx.store, &by).await?;
    if json {
        return confirm::print_json(&all);
    }
    if all.is_empty() {
        // On stderr: stdout stays one `connection:` line per connection for scripts.
        eprintln!(
            "tenant {slug} has no connection yet: add one with `gatehouse connection add-oidc`, `add-saml` or `add-dev`"
        );
    }
    for c in all {
        let state = if c.enabled { "enabled" } else { "disabled" };
        println!(
            "connection: {} {} {} {} {}",
            c.id, c.kind, c.preset, state, c.issuer
        );
    }
    Ok(())
}

pub async fn connection_show(ctx: &Ctx, slug: &str, id: &str, json: bool) -> Result<()> {
    let by = operator_on(ctx, slug).await?;
    let c = view::show(&ctx.store, &by, id)
        .await
        .with_context(|| format!("connection '{id}' of tenant '{slug}'"))?;
    print_connection(&c, json)
}

/// What `connection update` changes.
#[derive(Args, Debug)]
pub struct ConnectionUpdate {
    /// The tenant's slug.
    #[arg(long)]
    pub tenant: String,
    /// The connection's id (as `connection list` shows it).
    #[arg(long)]
    pub id: String,
    /// A new name, shown at sign-in.
    #[arg(long)]
    pub name: Option<String>,
    /// OIDC: file holding the new client secret, or `-` for standard input.
    #[arg(long)]
    pub client_secret_file: Option<PathBuf>,
    /// SAML: file holding the IdP's new metadata XML.
    #[arg(long, conflicts_with = "metadata_url")]
    pub metadata_file: Option<PathBuf>,
    /// SAML: URL of the IdP's new metadata.
    #[arg(long)]
    pub metadata_url: Option<String>,
    /// Offer it at sign-in (`true`) or stop (`false`: what it issued is revoked at once).
    #[arg(long)]
    pub enabled: Option<bool>,
    /// Print the connection as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn connection_update(ctx: &Ctx, u: ConnectionUpdate) -> Result<()> {
    let by = operator_on(ctx, &u.tenant).await?;
    let secret = u.client_secret_file.as_ref().map(read_secret).transpose()?;
    let fetcher;
    let metadata = match (u.metadata_file, u.metadata_url.as_deref()) {
        (Some(f), _) => Some(Metadata::Xml(
            std::fs::read_to_string(&f).with_context(|| format!("cannot read {}", f.display()))?,
        )),
        (None, Some(url)) => {
            fetcher = ctx.cfg.fetcher()?;
            Some(Metadata::Url {
                url,
                fetcher: &fetcher,
            })
        }
        (None, None) => None,
    };
    let change = update::Change {
        edit: Edit {
            name: u.name.as_deref(),
            client_secret: secret.as_deref(),
            metadata,
        },
        enabled: u.enabled,
    };
    let c = update::update(deps(ctx), &by, &u.id, change)
        .await
        .map_err(cli_error)?;
    print_connection(&c, u.json)
}

pub async fn connection_remove(
    ctx: &Ctx,
    slug: &str,
    id: &str,
    yes: bool,
    json: bool,
) -> Result<()> {
    let by = operator_on(ctx, slug).await?;
    let clock = ctx.clock.as_ref();
    let preview = remove::remove(&ctx.store, clock, &by, id, true)
        .await
        .with_context(|| format!("connection '{id}' of tenant '{slug}'"))?;
    let what = format!("connection {:?} ({id})", preview.removed.name);
    confirm::removal(&what, &preview.revoked, yes)?;
    let r = remove::remove(&ctx.store, clock, &by, id, false).await?;
    print_removed(&r, id, json)
}
