use std::path::PathBuf;

use anyhow::{Context, Result};
use authz_core::connection::{self, NewOidcConnection};
use clap::Subcommand;

use super::{read_secret, Ctx};

#[derive(Subcommand, Debug)]
pub enum TenantCmd {
    /// Create a tenant with one or more verified domains.
    Create {
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        #[arg(long = "domain", required = true)]
        domains: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ConnectionCmd {
    /// List a tenant's connections.
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Stop offering a connection at sign-in (its callbacks are refused).
    Disable {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        id: String,
    },
    /// Offer a disabled connection at sign-in again.
    Enable {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        id: String,
    },
    /// Connect a tenant's OpenID Connect identity provider.
    AddOidc {
        #[arg(long)]
        tenant: String,
        /// The IdP's issuer URL; its discovery document is fetched and checked now. Optional
        /// for `--preset entra` (derived from the tenant id) and `--preset google`.
        #[arg(long)]
        issuer: Option<String>,
        /// IdP preset: entra, okta, google or generic.
        #[arg(long, default_value = "generic")]
        preset: String,
        /// Entra ID: the Directory (tenant) ID this connection trusts.
        #[arg(long)]
        entra_tenant_id: Option<String>,
        #[arg(long)]
        client_id: String,
        /// File holding the client secret, or `-` for standard input.
        #[arg(long)]
        client_secret_file: PathBuf,
        #[arg(long)]
        name: Option<String>,
    },
}

pub async fn tenant(ctx: &Ctx, cmd: TenantCmd) -> Result<()> {
    match cmd {
        TenantCmd::Create {
            slug,
            name,
            domains,
        } => {
            let t =
                authz_core::tenant::create(&ctx.store, ctx.clock.as_ref(), &slug, &name, &domains)
                    .await?;
            println!("tenant_id: {}", t.id.0);
            println!("slug: {}", t.slug);
            for d in domains {
                println!("domain: {}", d.trim().to_ascii_lowercase());
            }
            Ok(())
        }
    }
}

pub async fn connection(ctx: &Ctx, cmd: ConnectionCmd) -> Result<()> {
    match cmd {
        ConnectionCmd::List { tenant } => {
            let t = authz_core::tenant::find_by_slug(&ctx.store.db, &tenant)
                .await
                .with_context(|| format!("tenant '{tenant}'"))?;
            for c in connection::list(&ctx.store.db, &t.id).await? {
                println!(
                    "connection: {} {} {} {} {}",
                    c.id,
                    c.kind,
                    c.preset,
                    if c.enabled { "enabled" } else { "disabled" },
                    c.issuer
                );
            }
            Ok(())
        }
        ConnectionCmd::Disable { tenant, id } => toggle(ctx, &tenant, &id, false).await,
        ConnectionCmd::Enable { tenant, id } => toggle(ctx, &tenant, &id, true).await,
        ConnectionCmd::AddOidc {
            tenant,
            issuer,
            client_id,
            client_secret_file,
            name,
            preset,
            entra_tenant_id,
        } => {
            let preset = oidc_federation::Preset::parse(&preset, entra_tenant_id.as_deref())
                .map_err(|e| anyhow::anyhow!(e))?;
            let Some(issuer) = issuer.or_else(|| preset.default_issuer()) else {
                anyhow::bail!("--issuer is required for the {} preset", preset.name());
            };
            let t = authz_core::tenant::find_by_slug(&ctx.store.db, &tenant)
                .await
                .with_context(|| format!("tenant '{tenant}'"))?;
            let secret = read_secret(&client_secret_file)?;
            let issuer = issuer.trim().trim_end_matches('/').to_string();
            preset.check_issuer_url(&issuer)?;
            // Fail now, not at the first user's sign-in: the discovery document must be
            // reachable, safe to fetch and name this exact issuer.
            let rp = oidc_federation::OidcRp::new(ctx.cfg.fetcher()?);
            let meta = match rp.discover(&issuer, true, &preset).await {
                Ok(m) => m,
                // Some IdPs (Okta org servers, Auth0) name their issuer with a trailing slash.
                Err(first @ oidc_federation::FederationError::Discovery { .. }) => rp
                    .discover(&format!("{issuer}/"), true, &preset)
                    .await
                    .map_err(|_| anyhow::anyhow!("{first}"))?,
                Err(e) => return Err(e.into()),
            };
            preset.check_discovered_issuer(meta.issuer().as_str())?;
            let issuer = meta.issuer().as_str().to_string();
            let key = ctx.cfg.master_key()?;
            let c = connection::add_oidc(
                &ctx.store,
                ctx.clock.as_ref(),
                &key,
                &t.id,
                NewOidcConnection {
                    name: name.as_deref().unwrap_or("OIDC"),
                    issuer: &issuer,
                    client_id: &client_id,
                    client_secret: &secret,
                    preset: preset.name(),
                    settings: preset.settings(),
                },
            )
            .await?;
            let base = crate::config::validate_issuer(&ctx.cfg.issuer(None))?;
            println!("connection_id: {}", c.id);
            println!("issuer: {}", c.issuer);
            println!("preset: {}", preset.name());
            // What the admin pastes into the IdP; docs/idp/*.md show the same keys.
            for (k, v) in preset.setup_values(&base, &c.id) {
                println!("{k}: {v}");
            }
            Ok(())
        }
    }
}

async fn toggle(ctx: &Ctx, tenant: &str, id: &str, enabled: bool) -> Result<()> {
    let t = authz_core::tenant::find_by_slug(&ctx.store.db, tenant)
        .await
        .with_context(|| format!("tenant '{tenant}'"))?;
    connection::set_enabled(&ctx.store, ctx.clock.as_ref(), &t.id, id, enabled)
        .await
        .with_context(|| format!("connection '{id}' of tenant '{tenant}'"))?;
    println!("connection_id: {id}");
    println!("status: {}", if enabled { "enabled" } else { "disabled" });
    Ok(())
}
