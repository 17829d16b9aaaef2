use std::path::PathBuf;

use anyhow::{Context, Result};
use app::connection::{add, enable, ConnectionActor, ConnectionError, Deps, Metadata};
use authz_core::connection;
use clap::Subcommand;

use super::{manage_tenant as manage, read_secret, Ctx};

#[derive(Subcommand, Debug)]
pub enum TenantCmd {
    /// List the tenants (slug, id, name), by slug.
    List {
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Show a tenant: domains, provisioning, alert recipients, suspension.
    Show {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// Print JSON instead of `key: value` lines.
        #[arg(long)]
        json: bool,
    },
    /// Change a tenant's display name, provisioning or alert recipients.
    Update(super::manage_tenant::TenantUpdate),
    /// Remove a tenant: revokes everything it issued, its keys and SCIM tokens; removes its
    /// connections and releases its domains; keeps its audit log (asks first, or `--yes`).
    Remove {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// Remove without asking (needed when standard input is not a terminal).
        #[arg(long)]
        yes: bool,
        /// Print JSON instead of `key: value` lines.
        #[arg(long)]
        json: bool,
    },
    /// Create a tenant with one or more verified domains.
    Create {
        /// The tenant's slug: 2-63 characters of a-z, 0-9 and -, used in URLs.
        #[arg(long)]
        slug: String,
        /// The organisation's display name.
        #[arg(long)]
        name: String,
        /// An email domain of the organisation (repeat for several); taken as verified.
        #[arg(long = "domain", required = true)]
        domains: Vec<String>,
    },
    /// Set how users come to exist: `jit` (created at first sign-in) or `scim` (only users the
    /// IdP provisioned by SCIM, and left active, may sign in).
    SetProvisioning {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// `jit` or `scim`.
        #[arg(long, value_parser = ["jit", "scim"])]
        policy: String,
    },
    /// Set who receives the tenant's security alerts by email (replaces the list; none: no
    /// alerts).
    SetAlertRecipients {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// A recipient's email address (repeat for several).
        #[arg(long = "email")]
        emails: Vec<String>,
    },
    /// Show how leavers lose access without SCIM and the refresh lifetime, changing the values
    /// given (the tenant's other settings stay as they are).
    Settings {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// Minutes after which a refresh asks the OIDC identity provider again whether the
        /// person may still sign in (0-1440; 0: every refresh; default 60).
        #[arg(long)]
        upstream_check_minutes: Option<i64>,
        /// Hours a refresh grant lives without a fresh sign-in when the identity provider cannot
        /// be asked: SAML, or OIDC without offline access (1-720; default 24 without SCIM).
        #[arg(long, conflicts_with = "default_reauth")]
        reauth_after_hours: Option<i64>,
        /// Back to the default sign-in cap (24 h without a live SCIM token, else none).
        #[arg(long)]
        default_reauth: bool,
        /// Days a refresh grant lives at most (1-90; default 30).
        #[arg(long)]
        refresh_lifetime_days: Option<i64>,
        /// Seconds after a rotation during which the same client may present its old refresh
        /// token again (a retry of a lost response) without the grant being revoked for reuse
        /// (0-60; 0: no grace; default 10).
        #[arg(long)]
        refresh_grace_seconds: Option<i64>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ConnectionCmd {
    /// List a tenant's connections.
    List {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Show a connection (never its secret).
    Show {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The connection's id (as `connection list` shows it).
        #[arg(long)]
        id: String,
        /// Print JSON instead of `key: value` lines.
        #[arg(long)]
        json: bool,
    },
    /// Change a connection: name, OIDC client secret, SAML metadata, enabled.
    Update(super::manage_tenant::ConnectionUpdate),
    /// Remove a connection: revokes the sessions and grants of the people who sign in through
    /// it (asks first, or `--yes`).
    Remove {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The connection's id (as `connection list` shows it).
        #[arg(long)]
        id: String,
        /// Remove without asking (needed when standard input is not a terminal).
        #[arg(long)]
        yes: bool,
        /// Print JSON instead of `key: value` lines.
        #[arg(long)]
        json: bool,
    },
    /// Stop offering a connection at sign-in (its callbacks are refused).
    Disable {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The connection's id (as `connection list` shows it).
        #[arg(long)]
        id: String,
    },
    /// Offer a disabled connection at sign-in again.
    Enable {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The connection's id (as `connection list` shows it).
        #[arg(long)]
        id: String,
    },
    /// Choose the SCIM attribute that links this connection's identities to SCIM users:
    /// externalId (default; Entra: objectId = oid, Okta: the Okta user id = sub) or userName.
    SetScimLink {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The connection's id (as `connection list` shows it).
        #[arg(long)]
        id: String,
        /// `externalId` or `userName`.
        #[arg(long, value_parser = ["externalId", "userName"])]
        attribute: String,
    },
    /// Enterprise-managed authorization (ID-JAG, ADR 0014): accept Identity Assertion JWT
    /// Authorization Grants that this OIDC connection's IdP signs, from the clients listed.
    /// Without flags, shows the current settings.
    IdJag {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The connection's id (as `connection list` shows it).
        #[arg(long)]
        id: String,
        /// Accept ID-JAGs from this connection's IdP.
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        /// Stop accepting ID-JAGs from this connection's IdP.
        #[arg(long)]
        disable: bool,
        /// A client id that may redeem the IdP's ID-JAGs (repeat; replaces the list).
        #[arg(long = "client", conflicts_with = "no_clients")]
        clients: Vec<String>,
        /// Empty the list of allowed clients.
        #[arg(long)]
        no_clients: bool,
    },
    /// Add a development identity provider (ADR 0017): users from a TOML file, signed in on
    /// Gatehouse's own page. Only while the issuer is a loopback http URL (refused otherwise:
    /// DEVIDP0001); for trying Gatehouse on one machine, never for real people.
    AddDev {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// TOML file of `[[users]]` with `email`, `name`, `password` (plain, or an argon2 or
        /// bcrypt hash; stored as an argon2 hash) and `groups` (sent like an IdP's groups claim).
        #[arg(long)]
        users: PathBuf,
        /// The connection's name, shown at sign-in and in the console.
        #[arg(long, default_value = "Development users")]
        name: String,
    },
    /// Connect a tenant's SAML 2.0 identity provider from its metadata.
    #[command(group(clap::ArgGroup::new("metadata").required(true).args(["metadata_file", "metadata_url"])))]
    AddSaml {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The IdP's metadata XML file.
        #[arg(long)]
        metadata_file: Option<PathBuf>,
        /// The IdP's metadata URL (fetched now, SSRF-safe, https only).
        #[arg(long)]
        metadata_url: Option<String>,
        /// Attribute mapping preset: entra, okta, google or generic.
        #[arg(long, default_value = "generic")]
        preset: String,
        /// Attribute holding the immutable user key (default: a persistent NameID; Entra: the
        /// object id). Never an email.
        #[arg(long)]
        key_attribute: Option<String>,
        /// Custom mapping: the attribute holding the email (default: the preset's).
        #[arg(long)]
        email_attribute: Option<String>,
        /// Custom mapping: the attribute holding the display name.
        #[arg(long)]
        name_attribute: Option<String>,
        /// Custom mapping: the attribute holding group ids.
        #[arg(long)]
        groups_attribute: Option<String>,
        /// Accept IdP-initiated SSO: an unsolicited response starts a session landing on
        /// /account (never an authorization code). Off by default.
        #[arg(long)]
        allow_idp_initiated: bool,
        /// Clock skew tolerated on the IdP's time conditions, in seconds (0-600).
        #[arg(long, default_value_t = 180, value_parser = clap::value_parser!(i64).range(0..=600))]
        skew_secs: i64,
        /// The connection's name, shown at sign-in (default: SAML).
        #[arg(long)]
        name: Option<String>,
    },
    /// Connect a tenant's OpenID Connect identity provider.
    AddOidc {
        /// The tenant's slug.
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
        /// The client id of the app registered at the IdP.
        #[arg(long)]
        client_id: String,
        /// File holding the client secret, or `-` for standard input.
        #[arg(long)]
        client_secret_file: PathBuf,
        /// The connection's name, shown at sign-in (default: OIDC).
        #[arg(long)]
        name: Option<String>,
    },
}

pub async fn tenant(ctx: &Ctx, cmd: TenantCmd) -> Result<()> {
    match cmd {
        TenantCmd::List { json } => manage::tenant_list(ctx, json).await,
        TenantCmd::Show { tenant, json } => manage::tenant_show(ctx, &tenant, json).await,
        TenantCmd::Update(u) => manage::tenant_update(ctx, u).await,
        TenantCmd::Remove { tenant, yes, json } => {
            manage::tenant_remove(ctx, &tenant, yes, json).await
        }
        TenantCmd::Create {
            slug,
            name,
            domains,
        } => {
            let t =
                authz_core::tenant::create(&ctx.store, ctx.clock.as_ref(), &slug, &name, &domains)
                    .await?;
            println!("tenant_id: {}", t.id.as_str());
            println!("slug: {}", t.slug);
            for d in domains {
                println!("domain: {}", d.trim().to_ascii_lowercase());
            }
            Ok(())
        }
        TenantCmd::SetProvisioning { tenant, policy } => {
            let t = authz_core::tenant::find_by_slug(&ctx.store.db, &tenant)
                .await
                .with_context(|| format!("tenant '{tenant}'"))?;
            let p = authz_core::directory::Provisioning::parse(&policy)?;
            authz_core::directory::policy::set(
                &ctx.store,
                ctx.clock.as_ref(),
                &t.id,
                p,
                "operator",
            )
            .await?;
            println!("tenant: {}", t.slug);
            println!("provisioning: {}", p.as_str());
            Ok(())
        }
        TenantCmd::SetAlertRecipients { tenant, emails } => {
            let t = authz_core::tenant::find_by_slug(&ctx.store.db, &tenant)
                .await
                .with_context(|| format!("tenant '{tenant}'"))?;
            authz_core::mail::set_alert_recipients(
                &ctx.store,
                ctx.clock.as_ref(),
                &t.id,
                &emails,
                "operator",
            )
            .await?;
            println!("tenant: {}", t.slug);
            println!("alert_recipients: {}", emails.len());
            Ok(())
        }
        TenantCmd::Settings {
            tenant,
            upstream_check_minutes,
            reauth_after_hours,
            default_reauth,
            refresh_lifetime_days,
            refresh_grace_seconds,
        } => {
            use authz_core::admin::settings;
            let t = authz_core::tenant::find_by_slug(&ctx.store.db, &tenant)
                .await
                .with_context(|| format!("tenant '{tenant}'"))?;
            let old = settings::get(&ctx.store.db, &t.id).await?;
            let mut new = old.clone();
            if upstream_check_minutes.is_some() {
                new.upstream_check_minutes = upstream_check_minutes;
            }
            if reauth_after_hours.is_some() || default_reauth {
                new.reauth_after_hours = reauth_after_hours;
            }
            if refresh_lifetime_days.is_some() {
                new.refresh_lifetime_days = refresh_lifetime_days;
            }
            if refresh_grace_seconds.is_some() {
                new.refresh_grace_seconds = refresh_grace_seconds;
            }
            if new != old {
                settings::set(&ctx.store, ctx.clock.as_ref(), &t.id, &new, "operator").await?;
            }
            let scim =
                authz_core::scim_token::any_live(&ctx.store.db, ctx.clock.as_ref(), &t.id).await?;
            println!("tenant: {}", t.slug);
            println!("upstream_check_minutes: {}", new.upstream_check_secs() / 60);
            match new.reauth_cap_secs(scim) {
                Some(s) => println!("reauth_after_hours: {}", s / 3600),
                None => println!("reauth_after_hours: none (a SCIM token is live)"),
            }
            println!(
                "refresh_lifetime_days: {}",
                new.refresh_lifetime_secs() / 86_400
            );
            println!("refresh_grace_seconds: {}", new.refresh_grace_secs());
            Ok(())
        }
    }
}

pub async fn connection(ctx: &Ctx, cmd: ConnectionCmd) -> Result<()> {
    match cmd {
        ConnectionCmd::List { tenant, json } => manage::connection_list(ctx, &tenant, json).await,
        ConnectionCmd::Show { tenant, id, json } => {
            manage::connection_show(ctx, &tenant, &id, json).await
        }
        ConnectionCmd::Update(u) => manage::connection_update(ctx, u).await,
        ConnectionCmd::Remove {
            tenant,
            id,
            yes,
            json,
        } => manage::connection_remove(ctx, &tenant, &id, yes, json).await,
        ConnectionCmd::AddSaml {
            tenant,
            metadata_file,
            metadata_url,
            preset,
            key_attribute,
            email_attribute,
            name_attribute,
            groups_attribute,
            allow_idp_initiated,
            skew_secs,
            name,
        } => {
            let mapping = app::connection::add::saml_mapping(
                &preset,
                key_attribute,
                email_attribute,
                name_attribute,
                groups_attribute,
            )
            .map_err(|e| anyhow::anyhow!(e))?;
            add_saml(
                ctx,
                &tenant,
                metadata_file,
                metadata_url,
                &preset,
                mapping,
                (allow_idp_initiated, skew_secs),
                name,
            )
            .await
        }
        ConnectionCmd::IdJag {
            tenant,
            id,
            enable,
            disable,
            clients,
            no_clients,
        } => {
            let change = app::connection::id_jag::IdJagChange {
                enabled: (enable || disable).then_some(enable),
                clients: (no_clients || !clients.is_empty()).then_some(clients),
            };
            id_jag(ctx, &tenant, &id, change).await
        }
        ConnectionCmd::AddDev {
            tenant,
            users,
            name,
        } => super::dev_idp::add(ctx, operator_on(ctx, &tenant).await?, &users, &name).await,
        ConnectionCmd::Disable { tenant, id } => toggle(ctx, &tenant, &id, false).await,
        ConnectionCmd::Enable { tenant, id } => toggle(ctx, &tenant, &id, true).await,
        ConnectionCmd::SetScimLink {
            tenant,
            id,
            attribute,
        } => {
            let t = authz_core::tenant::find_by_slug(&ctx.store.db, &tenant)
                .await
                .with_context(|| format!("tenant '{tenant}'"))?;
            connection::set_scim_link(&ctx.store, ctx.clock.as_ref(), &t.id, &id, &attribute)
                .await?;
            println!("connection: {id}");
            println!("scim_link_attribute: {attribute}");
            Ok(())
        }
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
            let by = operator_on(ctx, &tenant).await?;
            let secret = read_secret(&client_secret_file)?;
            let issuer = issuer.trim().trim_end_matches('/').to_string();
            // Fail now, not at the first user's sign-in: the discovery document must be
            // reachable, safe to fetch and name this exact issuer. Through the operator's
            // fetcher: the operator typed the issuer.
            let fetcher = ctx.cfg.fetcher()?;
            let new = add::NewOidc {
                name: name.as_deref().unwrap_or("OIDC"),
                preset: &preset,
                issuer: &issuer,
                client_id: &client_id,
                client_secret: &secret,
                fetcher: &fetcher,
            };
            let c = add::oidc(deps(ctx), &by, new).await.map_err(cli_error)?;
            let base = &ctx.issuer;
            println!("connection_id: {}", c.id);
            println!("issuer: {}", c.issuer);
            println!("preset: {}", preset.name());
            // What the admin pastes into the IdP; docs/idp/*.md show the same keys.
            for (k, v) in preset.setup_values(base, &c.id) {
                println!("{k}: {v}");
            }
            Ok(())
        }
    }
}

/// The operator (the CLI) acting on the tenant named `slug`.
pub(super) async fn operator_on(ctx: &Ctx, slug: &str) -> Result<ConnectionActor> {
    let t = authz_core::tenant::find_by_slug(&ctx.store.db, slug)
        .await
        .with_context(|| format!("tenant '{slug}'"))?;
    Ok(ConnectionActor::Operator {
        operator: app::Operator::cli(),
        tenant: t.id,
    })
}

pub(super) fn deps(ctx: &Ctx) -> Deps<'_> {
    Deps {
        store: &ctx.store,
        clock: ctx.clock.as_ref(),
        key: &ctx.master_key,
    }
}

/// A refused set-up, as the CLI words it: the operator sees everything, the detail included.
pub(super) fn cli_error(e: ConnectionError) -> anyhow::Error {
    match e {
        ConnectionError::NotFound => {
            anyhow::Error::from(authz_core::CoreError::NotFound("connection"))
        }
        ConnectionError::IssuerUrl(e) | ConnectionError::Discovery(e) => e.into(),
        ConnectionError::MetadataFetch(e) => e.into(),
        ConnectionError::MetadataNotUtf8(e) => {
            anyhow::Error::from(e).context("the metadata is not UTF-8")
        }
        ConnectionError::Metadata(e) => e.into(),
        ConnectionError::KeyGeneration(e) => {
            anyhow::anyhow!("cannot generate the SP key pair: {e}")
        }
        ConnectionError::Core(e) => e.into(),
    }
}

async fn toggle(ctx: &Ctx, tenant: &str, id: &str, enabled: bool) -> Result<()> {
    let by = operator_on(ctx, tenant).await?;
    enable::set_enabled(&ctx.store, ctx.clock.as_ref(), &by, id, enabled)
        .await
        .with_context(|| format!("connection '{id}' of tenant '{tenant}'"))?;
    println!("connection_id: {id}");
    println!("status: {}", if enabled { "enabled" } else { "disabled" });
    Ok(())
}

async fn id_jag(
    ctx: &Ctx,
    tenant: &str,
    id: &str,
    change: app::connection::id_jag::IdJagChange,
) -> Result<()> {
    use app::connection::id_jag;
    let by = operator_on(ctx, tenant).await?;
    let s = if change.enabled.is_none() && change.clients.is_none() {
        id_jag::get(&ctx.store, &by, id).await
    } else {
        id_jag::set(&ctx.store, ctx.clock.as_ref(), &by, id, change).await
    }
    .with_context(|| format!("connection '{id}' of tenant '{tenant}'"))?;
    println!("connection_id: {id}");
    println!("id_jag: {}", if s.enabled { "enabled" } else { "disabled" });
    println!("clients: {}", s.clients.join(" "));
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn add_saml(
    ctx: &Ctx,
    tenant: &str,
    metadata_file: Option<PathBuf>,
    metadata_url: Option<String>,
    preset: &str,
    mapping: saml::mapping::Mapping,
    (allow_idp_initiated, skew_secs): (bool, i64),
    name: Option<String>,
) -> Result<()> {
    let by = operator_on(ctx, tenant).await?;
    let fetcher;
    let metadata = match (metadata_file, metadata_url.as_deref()) {
        (Some(f), _) => Metadata::Xml(
            std::fs::read_to_string(&f).with_context(|| format!("cannot read {}", f.display()))?,
        ),
        (None, Some(u)) => {
            fetcher = ctx.cfg.fetcher()?;
            Metadata::Url {
                url: u,
                fetcher: &fetcher,
            }
        }
        (None, None) => anyhow::bail!("give --metadata-file or --metadata-url"),
    };
    let new = add::NewSaml {
        name: name.as_deref().unwrap_or("SAML"),
        preset,
        mapping,
        metadata,
        skew_secs,
        allow_idp_initiated,
    };
    let add::AddedSaml { connection: c, idp } =
        add::saml(deps(ctx), &by, new).await.map_err(cli_error)?;
    let base = &ctx.issuer;
    println!("connection_id: {}", c.id);
    println!("idp_entity_id: {}", idp.entity_id);
    println!("signing_certificates: {}", idp.signing_certs.len());
    println!("preset: {preset}");
    // What the admin pastes into the IdP; docs/idp/*-saml.md show the same keys.
    for (k, v) in saml::sp::setup_values(base, &c.id, preset) {
        println!("{k}: {v}");
    }
    Ok(())
}
