use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use authz_core::resource::{self, ResourceSpec};
use authz_core::resource_secret;
use clap::Subcommand;

use super::Ctx;

#[derive(Subcommand, Debug)]
pub enum ResourceCmd {
    /// Register a protected resource from a TOML file (see examples/crm-resource.toml).
    Register {
        /// The resource's TOML file (format: examples/crm-resource.toml).
        #[arg(long)]
        file: PathBuf,
    },
    /// Issue a new introspection secret (printed once). The current one keeps working for
    /// the overlap, so the resource server can switch without downtime (0: it stops now).
    RotateSecret {
        /// The resource's URI (or id).
        #[arg(long)]
        uri: String,
        /// Seconds the current secret keeps working (0 to 604800).
        #[arg(long, default_value_t = authz_core::resource_secret::DEFAULT_OVERLAP_SECS)]
        overlap_secs: i64,
    },
    /// Revoke every introspection secret of a resource at once (a leaked secret); issue a new
    /// one with `rotate-secret`.
    RevokeSecret {
        /// The resource's URI (or id).
        #[arg(long)]
        uri: String,
    },
    /// Change a resource's catalogue from a TOML file (the `register` format, same URI): prints
    /// what changes and applies it only with --yes. Removing a scope or raising its tier
    /// revokes every token, org grant and consent that carries it.
    Update {
        /// The resource's TOML file, in the `register` format, with the same URI.
        #[arg(long)]
        file: PathBuf,
        /// Apply the change (without it, nothing is written).
        #[arg(long)]
        yes: bool,
        /// Print the change as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a resource's catalogue (in the `register`/`update` TOML format) and its version;
    /// with `--json`, the resource as the admin API shows it.
    Show {
        /// The resource's URI (or id).
        uri: String,
        /// Print JSON instead of `key: value` lines.
        #[arg(long)]
        json: bool,
    },
    /// List the resources (URI, id, display name).
    List {
        /// Print JSON instead of `key: value` lines.
        #[arg(long)]
        json: bool,
    },
    /// Remove a resource: every grant and token for it is revoked at once, its org grants and
    /// consents deleted (asks first, or `--yes`).
    Remove {
        /// The resource's URI (or id).
        uri: String,
        /// Remove without asking (needed when standard input is not a terminal).
        #[arg(long)]
        yes: bool,
        /// Print JSON instead of `key: value` lines.
        #[arg(long)]
        json: bool,
    },
    /// List the versions of a resource's catalogue, newest first.
    Versions {
        /// The resource's URI (or id).
        uri: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum GrantCmd {
    /// Grant scopes of a resource to every member of a tenant, or to a SCIM group's members.
    Add {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The resource's URI (or id).
        #[arg(long)]
        resource: String,
        /// Space-separated scope names.
        #[arg(long)]
        scopes: String,
        /// The SCIM group (its id) whose members get the scopes; without it, every member.
        /// Removing a user from the group revokes their tokens that carry these scopes.
        #[arg(long)]
        group: Option<String>,
        /// Confirm granting critical-tier scopes (each use still needs a fresh IdP sign-in).
        #[arg(long)]
        allow_critical: bool,
    },
    /// List a tenant's org grants (one per resource and group).
    List(super::manage::ListArgs),
    /// Show one org grant (id as `list` shows it).
    Show(super::manage::ShowArgs),
    /// Replace a grant's scopes: dropped scopes are withdrawn with the tokens that carry them.
    Update(super::grant::UpdateArgs),
    /// Remove an org grant, after saying how many tokens it revokes.
    Remove(super::manage::RemoveArgs),
}

#[derive(Subcommand, Debug)]
pub enum ClientCmd {
    /// Pre-register an OAuth client.
    Add {
        /// The client's name, shown on the consent page.
        #[arg(long)]
        name: String,
        /// A redirect URI the client may use (repeat for several).
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// A confidential client (gets a secret, printed once).
        #[arg(long)]
        confidential: bool,
    },
    /// List the pre-registered clients, by name.
    List {
        /// Print JSON instead of `key: value` lines.
        #[arg(long)]
        json: bool,
    },
    /// Show a client (any kind) by its id.
    Show {
        /// The client's id (as `client list` shows it).
        #[arg(long)]
        client_id: String,
        /// Print JSON instead of `key: value` lines.
        #[arg(long)]
        json: bool,
    },
    /// Rename a client (the name on the consent page).
    Update {
        /// The client's id (as `client list` shows it).
        #[arg(long)]
        client_id: String,
        /// The new name.
        #[arg(long)]
        name: Option<String>,
        /// Print JSON instead of `key: value` lines.
        #[arg(long)]
        json: bool,
    },
    /// Remove a client: its grants and tokens in every tenant are revoked at once (asks first,
    /// or `--yes`).
    Remove {
        /// The client's id (as `client list` shows it).
        #[arg(long)]
        client_id: String,
        /// Remove without asking (needed when standard input is not a terminal).
        #[arg(long)]
        yes: bool,
        /// Print JSON instead of `key: value` lines.
        #[arg(long)]
        json: bool,
    },
}

pub async fn resource(ctx: &Ctx, cmd: ResourceCmd) -> Result<()> {
    match cmd {
        ResourceCmd::Register { file } => {
            let spec = read_spec(&file)?;
            let r = resource::register(&ctx.store, ctx.clock.as_ref(), spec).await?;
            println!("resource: {}", r.resource.uri);
            println!("resource_id: {}", r.resource.id);
            println!("introspection_client_id: {}", r.introspection_client_id);
            println!(
                "introspection_client_secret: {}",
                r.introspection_client_secret
            );
            eprintln!("note: the introspection secret is shown once; store it in the resource server's secret store");
            Ok(())
        }
        ResourceCmd::RotateSecret { uri, overlap_secs } => {
            let res = registered(ctx, &uri).await?;
            let r = resource_secret::rotate(
                &ctx.store,
                ctx.clock.as_ref(),
                &res.id,
                overlap_secs,
                "operator",
            )
            .await?;
            println!("resource: {}", r.resource.uri);
            println!("introspection_client_id: {}", r.introspection_client_id);
            println!(
                "introspection_client_secret: {}",
                r.introspection_client_secret
            );
            match r.previous_valid_until {
                Some(t) => println!("previous_secret_valid_until: {}", super::ts(t)),
                None => println!("previous_secret: revoked"),
            }
            eprintln!("note: the introspection secret is shown once; store it in the resource server's secret store");
            Ok(())
        }
        ResourceCmd::Update { file, yes, json } => {
            let spec = read_spec(&file)?;
            let uri = spec.uri.clone();
            let op = app::Operator::cli();
            let d = app::resource::update(&ctx.store, ctx.clock.as_ref(), &op, &uri, spec, !yes)
                .await?;
            if json {
                return super::confirm::print_json(&d);
            }
            print_diff(&d);
            if d.is_empty() {
                println!("result: no change");
            } else if d.applied {
                println!("result: applied version {}", d.to_version);
                if let Some(r) = &d.revoked {
                    println!("grants_revoked: {}", r.grants_revoked);
                    println!("tokens_revoked: {}", r.tokens_revoked);
                    println!("org_grants_removed: {}", r.org_grants_removed);
                    println!("consents_changed: {}", r.consents_changed);
                }
            } else {
                println!("result: nothing applied (run again with --yes to apply)");
            }
            Ok(())
        }
        ResourceCmd::List { json } => super::manage_client::resource_list(ctx, json).await,
        ResourceCmd::Show { uri, json: true } => {
            super::manage_client::resource_show(ctx, &uri).await
        }
        ResourceCmd::Remove { uri, yes, json } => {
            super::manage_client::resource_remove(ctx, &uri, yes, json).await
        }
        ResourceCmd::Show { uri, json: false } => {
            let (version, spec) =
                app::resource::show(&ctx.store, &app::Operator::cli(), &uri).await?;
            println!("# resource: {}", spec.uri);
            println!("# version: {version}");
            print!(
                "{}",
                toml::to_string(&spec).context("cannot print the catalogue as TOML")?
            );
            Ok(())
        }
        ResourceCmd::Versions { uri } => {
            let (uri, versions) =
                app::resource::versions(&ctx.store, &app::Operator::cli(), &uri).await?;
            println!("resource: {uri}");
            for v in versions {
                println!(
                    "version: {} {} {} {}",
                    v.version,
                    super::ts(v.changed_at),
                    v.changed_by,
                    v.summary
                );
            }
            Ok(())
        }
        ResourceCmd::RevokeSecret { uri } => {
            let res = registered(ctx, &uri).await?;
            let r = resource_secret::revoke(&ctx.store, ctx.clock.as_ref(), &res.id, "operator")
                .await?;
            println!("resource: {}", r.uri);
            println!("introspection_client_id: {}", r.rs_client_id);
            println!("secrets: revoked");
            Ok(())
        }
    }
}

fn read_spec(file: &PathBuf) -> Result<ResourceSpec> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    toml::from_str(&text)
        .with_context(|| format!("{} is not a valid resource file", file.display()))
}

/// The diff, one change a line: `+` added, `-` removed, `~` changed; `!` marks what revokes.
fn print_diff(d: &resource::update::CatalogueDiff) {
    println!("resource: {}", d.resource);
    println!("version: {} -> {}", d.from_version, d.to_version);
    if let Some([old, new]) = &d.display_name {
        println!("~ display_name: {old:?} -> {new:?}");
    }
    for s in &d.scopes_added {
        println!("+ scope {s}");
    }
    for s in &d.scopes_removed {
        println!("- scope {s}");
    }
    for t in &d.tiers_changed {
        println!(
            "~ scope {} tier {} -> {}",
            t.scope,
            t.from.as_str(),
            t.to.as_str()
        );
    }
    for s in &d.descriptions_changed {
        println!("~ scope {s} description");
    }
    for (sign, list) in [
        ("+", &d.tools_added),
        ("-", &d.tools_removed),
        ("~", &d.tools_changed),
    ] {
        for t in list {
            println!("{sign} tool {t}");
        }
    }
    for (sign, list) in [
        ("+", &d.rules_added),
        ("-", &d.rules_removed),
        ("~", &d.rules_changed),
    ] {
        for r in list {
            println!("{sign} rule {r}");
        }
    }
    for s in &d.settings_changed {
        println!("~ setting {} {} -> {}", s.setting, s.from, s.to);
    }
    for s in &d.revoking {
        println!("! revokes every token, org grant and consent carrying {s}");
    }
}

async fn registered(ctx: &Ctx, uri: &str) -> Result<resource::Resource> {
    match resource::find_by_uri(&ctx.store.db, uri).await? {
        Some(r) => Ok(r),
        None => bail!("resource '{uri}' is not registered"),
    }
}

pub async fn grant(ctx: &Ctx, cmd: GrantCmd) -> Result<()> {
    match cmd {
        GrantCmd::Add {
            tenant,
            resource: uri,
            scopes,
            group,
            allow_critical,
        } => {
            let t = authz_core::tenant::find_by_slug(&ctx.store.db, &tenant)
                .await
                .with_context(|| format!("tenant '{tenant}'"))?;
            let Some(res) = resource::find_by_uri(&ctx.store.db, &uri).await? else {
                bail!("resource '{uri}' is not registered");
            };
            let scopes = authz_core::scope::split(&scopes);
            let added = authz_core::grant::add(
                &ctx.store,
                ctx.clock.as_ref(),
                &t.id,
                &res,
                &scopes,
                group.as_deref(),
                allow_critical,
                "operator",
            )
            .await?;
            println!("tenant: {}", t.slug);
            println!("resource: {}", res.uri);
            println!(
                "to: {}",
                group
                    .as_deref()
                    .map(|g| format!("group {g}"))
                    .unwrap_or_else(|| "everyone".into())
            );
            println!("granted: {}", added.join(" "));
            Ok(())
        }
        other => super::grant::manage(ctx, other).await,
    }
}

pub async fn client(ctx: &Ctx, cmd: ClientCmd) -> Result<()> {
    use super::manage_client as manage;
    match cmd {
        ClientCmd::List { json } => manage::client_list(ctx, json).await,
        ClientCmd::Show { client_id, json } => manage::client_show(ctx, &client_id, json).await,
        ClientCmd::Update {
            client_id,
            name,
            json,
        } => manage::client_update(ctx, &client_id, name, json).await,
        ClientCmd::Remove {
            client_id,
            yes,
            json,
        } => manage::client_remove(ctx, &client_id, yes, json).await,
        ClientCmd::Add {
            name,
            redirect_uris,
            confidential,
        } => {
            let r = authz_core::client::add_preregistered(
                &ctx.store,
                ctx.clock.as_ref(),
                &ctx.cfg.redirect_policy(),
                &name,
                &redirect_uris,
                confidential,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("client_id: {}", r.client.client_id);
            println!("token_endpoint_auth_method: {}", r.client.auth_method);
            if let Some(s) = r.client_secret {
                println!("client_secret: {s}");
                eprintln!("note: the client secret is shown once");
            }
            Ok(())
        }
    }
}
