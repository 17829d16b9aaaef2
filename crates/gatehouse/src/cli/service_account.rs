//! `gatehouse service-account …`: a tenant's service accounts (issue 14 §3), the machine
//! clients of the `client_credentials` grant. Secrets are printed once; keys for
//! `private_key_jwt` come from a file (a JWK Set, or one public JWK) or a `jwks_uri`.
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use authz_core::service_account::{self as sa, Keys, Method, NewAccount, ServiceAccount};
use clap::Subcommand;

use super::manage::{self, ListArgs, RemoveArgs, ShowArgs};
use super::{ts, Ctx};
use app::manage::service_account as uc;

#[derive(Subcommand, Debug)]
pub enum ServiceAccountCmd {
    /// Create a service account (a client secret is printed once, unless it uses
    /// private_key_jwt).
    Create {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The account's name (unique in the tenant).
        #[arg(long)]
        name: String,
        /// `<resource URI or id>=<scope>,<scope>`; repeat for several resources.
        #[arg(long = "grant", required = true)]
        grants: Vec<String>,
        /// `client_secret_basic` (a generated secret) or `private_key_jwt`.
        #[arg(long, default_value = "client_secret_basic")]
        auth: String,
        /// For private_key_jwt: a file holding a JWK Set (or one JWK) of public keys.
        #[arg(long)]
        jwks_file: Option<PathBuf>,
        /// For private_key_jwt: the https URL of the account's JWK Set.
        #[arg(long)]
        jwks_uri: Option<String>,
    },
    /// List a tenant's service accounts.
    List(ListArgs),
    /// Show one account (by id, client id or name).
    Show(ShowArgs),
    /// Change an account's name, granted scopes or state, in one step (tokens carrying a scope
    /// no longer granted, or all when disabled, are revoked at once).
    Update {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The account's id, client id or name.
        #[arg(long)]
        id: String,
        /// The new name.
        #[arg(long)]
        name: Option<String>,
        /// `<resource URI or id>=<scope>,<scope>`; repeat for several resources. Replaces the
        /// granted scopes as a whole.
        #[arg(long = "grant")]
        grants: Vec<String>,
        /// Enable (true) or disable (false) the account.
        #[arg(long)]
        enabled: Option<bool>,
        /// Print one JSON object instead of `key: value` lines.
        #[arg(long)]
        json: bool,
    },
    /// Issue a new client secret; the current one keeps working for the overlap.
    RotateSecret {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The account's id, client id or name.
        #[arg(long)]
        id: String,
        /// How long the current secret keeps working, e.g. 1h, 7d, 0 (at most 7d).
        #[arg(long, default_value = "1h")]
        overlap: String,
    },
    /// Replace the public keys of a private_key_jwt account.
    SetKeys {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The account's id, client id or name.
        #[arg(long)]
        id: String,
        /// A file holding a JWK Set (or one JWK) of public keys.
        #[arg(long)]
        jwks_file: Option<PathBuf>,
        /// The https URL of the account's JWK Set.
        #[arg(long)]
        jwks_uri: Option<String>,
    },
    /// Replace the granted scopes (tokens carrying a scope no longer granted are revoked).
    SetGrants {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The account's id, client id or name.
        #[arg(long)]
        id: String,
        /// `<resource URI or id>=<scope>,<scope>`; repeat for several resources.
        #[arg(long = "grant", required = true)]
        grants: Vec<String>,
    },
    /// Disable the account: its tokens are revoked at once.
    Disable {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The account's id, client id or name.
        #[arg(long)]
        id: String,
    },
    /// Enable a disabled account.
    Enable {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The account's id, client id or name.
        #[arg(long)]
        id: String,
    },
    /// Remove the account, revoking its tokens, after saying what stops.
    Remove(RemoveArgs),
}

fn parse_grants(raw: &[String]) -> Result<Vec<(String, Vec<String>)>> {
    raw.iter()
        .map(|g| {
            let Some((res, scopes)) = g.rsplit_once('=') else {
                bail!("--grant '{g}' is not <resource>=<scope>,<scope>");
            };
            let scopes = scopes
                .split([',', ' '])
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            Ok((res.to_string(), scopes))
        })
        .collect()
}

fn keys(file: Option<PathBuf>, uri: Option<String>) -> Result<Option<Keys>> {
    match (file, uri) {
        (None, None) => Ok(None),
        (Some(f), None) => {
            let s = std::fs::read_to_string(&f)
                .with_context(|| format!("cannot read {}", f.display()))?;
            Ok(Some(Keys::parse(&s)?))
        }
        (None, Some(u)) => Ok(Some(Keys::Uri(u).checked()?)),
        (Some(_), Some(_)) => bail!("give --jwks-file or --jwks-uri, not both"),
    }
}

fn print(a: &ServiceAccount) {
    println!("service_account: {}", a.id);
    println!("name: {}", a.name);
    println!("client_id: {}", a.client_id);
    println!("auth_method: {}", a.method.as_str());
    println!("enabled: {}", a.enabled());
    for (resource, scopes) in &a.grants {
        println!("grant: {resource} {}", scopes.join(" "));
    }
    if let Some(u) = &a.jwks_uri {
        println!("jwks_uri: {u}");
    }
    if let Some(until) = a.previous_secret_until {
        println!("previous_secret_valid_until: {}", ts(until));
    }
    if let Some(t) = a.last_used_at {
        println!("last_used_at: {}", ts(t));
    }
}

pub async fn service_account(ctx: &Ctx, cmd: ServiceAccountCmd) -> Result<()> {
    let clock = ctx.clock.as_ref();
    let tenant_of = |slug: String| async move {
        authz_core::tenant::find_by_slug(&ctx.store.db, &slug)
            .await
            .with_context(|| format!("tenant '{slug}'"))
    };
    let store = &ctx.store;
    match cmd {
        ServiceAccountCmd::Create {
            tenant,
            name,
            grants,
            auth,
            jwks_file,
            jwks_uri,
        } => {
            let t = tenant_of(tenant).await?;
            let g = parse_grants(&grants)?;
            let new = NewAccount {
                name: &name,
                grants: &g,
                method: Method::parse(&auth)?,
                keys: keys(jwks_file, jwks_uri)?,
            };
            let c = sa::create(store, clock, &t.id, new, "operator").await?;
            print(&c.account);
            if let Some(s) = c.secret {
                println!("client_secret: {s}");
                eprintln!("note: the client secret is shown once; give it to the service now");
            }
        }
        ServiceAccountCmd::List(a) => {
            let t = tenant_of(a.tenant).await?;
            let all = uc::list(&store.db, &t.id).await?;
            let line = |v: &uc::ServiceAccountView| {
                let state = if v.enabled { "enabled" } else { "disabled" };
                format!(
                    "{} {state} client_id={} auth={} {}",
                    v.id, v.client_id, v.auth_method, v.name
                )
            };
            manage::print_list("service_account", &all, line, a.json)?;
        }
        ServiceAccountCmd::Show(a) => {
            let t = tenant_of(a.tenant).await?;
            if a.json {
                manage::print_one(&uc::show(&store.db, &t.id, &a.id).await?, true)?;
            } else {
                print(&sa::get(&store.db, &t.id, &a.id).await?);
            }
        }
        ServiceAccountCmd::Update {
            tenant,
            id,
            name,
            grants,
            enabled,
            json,
        } => {
            let t = tenant_of(tenant).await?;
            let change = uc::ServiceAccountChange {
                name,
                grants: (!grants.is_empty())
                    .then(|| parse_grants(&grants))
                    .transpose()?,
                enabled,
            };
            let r = uc::update(store, clock, &t.id, &id, &change, "operator").await?;
            manage::print_one(&r, json)?;
        }
        ServiceAccountCmd::RotateSecret {
            tenant,
            id,
            overlap,
        } => {
            let t = tenant_of(tenant).await?;
            let secs = authz_core::scim_token::parse_duration(&overlap)?;
            let r = sa::rotate_secret(store, clock, &t.id, &id, secs, "operator").await?;
            println!("client_id: {}", r.account.client_id);
            println!("client_secret: {}", r.secret);
            match r.previous_valid_until {
                Some(u) => println!("previous_secret_valid_until: {}", ts(u)),
                None => println!("previous_secret_valid_until: none"),
            }
            eprintln!("note: the client secret is shown once");
        }
        ServiceAccountCmd::SetKeys {
            tenant,
            id,
            jwks_file,
            jwks_uri,
        } => {
            let t = tenant_of(tenant).await?;
            let Some(k) = keys(jwks_file, jwks_uri)? else {
                bail!("give --jwks-file or --jwks-uri");
            };
            print(&sa::set_keys(store, clock, &t.id, &id, k, "operator").await?);
        }
        ServiceAccountCmd::SetGrants { tenant, id, grants } => {
            let t = tenant_of(tenant).await?;
            let g = parse_grants(&grants)?;
            let (a, n) = sa::set_grants(store, clock, &t.id, &id, &g, "operator").await?;
            print(&a);
            println!("tokens_revoked: {n}");
        }
        ServiceAccountCmd::Disable { tenant, id } => {
            let t = tenant_of(tenant).await?;
            let (a, n) = sa::set_enabled(store, clock, &t.id, &id, false, "operator").await?;
            println!("service_account: {} disabled", a.id);
            println!("tokens_revoked: {n}");
        }
        ServiceAccountCmd::Enable { tenant, id } => {
            let t = tenant_of(tenant).await?;
            let (a, _) = sa::set_enabled(store, clock, &t.id, &id, true, "operator").await?;
            println!("service_account: {} enabled", a.id);
        }
        ServiceAccountCmd::Remove(a) => {
            let t = tenant_of(a.tenant.clone()).await?;
            let what = |v: &uc::ServiceAccountView| format!("service account \"{}\"", v.name);
            let run = |dry| uc::remove(store, clock, &t.id, &a.id, "operator", dry);
            manage::remove(&a, what, run).await?;
        }
    }
    Ok(())
}
