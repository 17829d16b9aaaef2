//! The operator CLI. Output is `key: value` lines on stdout so scripts can read it; errors go
//! to stderr with a non-zero exit. Secrets are read from files or standard input, never from
//! arguments (DESIGN §6.2).
mod admin;
mod audit;
mod catalog;
pub(crate) mod confirm;
mod dev_idp;
pub mod gateway;
mod grant;
mod incident;
mod invitation;
mod keys;
mod manage;
mod manage_client;
mod manage_tenant;
mod scim;
mod service_account;
mod tenant;
mod token;
mod user_key;

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use authz_core::clock::{SharedClock, SystemClock};
use authz_core::crypto::MasterKey;
use authz_core::Store;
use clap::{Parser, Subcommand};

use crate::config::{validate_issuer, Config, Global};

#[derive(Parser, Debug)]
#[command(
    name = "gatehouse",
    version,
    about = "Enterprise identity broker for MCP apps"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTP server.
    Serve(ServeArgs),
    /// Run the MCP gateway: a reverse proxy that enforces a resource's catalogue in front of
    /// MCP servers (Streamable HTTP).
    Gateway(gateway::GatewayArgs),
    /// Run pending database migrations and exit.
    Migrate,
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(tenant::TenantCmd),
    /// Manage a tenant's identity-provider connections.
    #[command(subcommand)]
    Connection(tenant::ConnectionCmd),
    /// Manage protected resources (MCP servers).
    #[command(subcommand)]
    Resource(catalog::ResourceCmd),
    /// Manage org grants.
    #[command(subcommand)]
    Grant(catalog::GrantCmd),
    /// Manage pre-registered OAuth clients.
    #[command(subcommand)]
    Client(catalog::ClientCmd),
    /// Service-initiated token revocation.
    #[command(subcommand)]
    Token(token::TokenCmd),
    /// Incident response: revoke a tenant's, a connection's or a client's access; suspend or
    /// resume a tenant.
    #[command(subcommand)]
    Incident(incident::IncidentCmd),
    /// Audit log tools.
    #[command(subcommand)]
    Audit(audit::AuditCmd),
    /// Manage a tenant's SCIM bearer tokens.
    #[command(subcommand)]
    ScimToken(scim::ScimTokenCmd),
    /// Manage a tenant's service accounts (client_credentials machine clients).
    #[command(subcommand)]
    ServiceAccount(service_account::ServiceAccountCmd),
    /// Manage operator keys for the admin API.
    #[command(subcommand)]
    OperatorKey(keys::OperatorKeyCmd),
    /// Manage a tenant's admin API keys.
    #[command(subcommand)]
    AdminKey(keys::AdminKeyCmd),
    /// Invite and manage a tenant's console administrators.
    #[command(subcommand)]
    Admin(admin::AdminCmd),
    /// A tenant's admin invitations: list, show, extend, withdraw.
    #[command(subcommand)]
    Invitation(invitation::InvitationCmd),
    /// Manage a tenant's email domains (and the operator's verification override).
    #[command(subcommand)]
    Domain(admin::DomainCmd),
    /// Members' personal API keys for IDE clients: list, revoke, turn on or off (not the admin
    /// API's keys: see `admin-key`).
    #[command(subcommand)]
    UserKey(user_key::UserKeyCmd),
}

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "GATEHOUSE_LISTEN")]
    pub listen: Option<String>,
    /// Public issuer URL (an origin: scheme, host, port).
    #[arg(long, env = "GATEHOUSE_ISSUER")]
    pub issuer: Option<String>,
    #[command(flatten)]
    pub node: crate::config::NodeArgs,
}

/// What every command needs once configuration is loaded and the schema is current.
pub struct Ctx {
    pub cfg: Config,
    pub store: Store,
    pub clock: SharedClock,
    /// Checked before the command touches the store: a bad key must not let a command commit
    /// its change and then fail to seal the audit record it wrote.
    pub master_key: MasterKey,
    /// The validated issuer origin (links printed for the IdP admin).
    pub issuer: String,
}

impl Ctx {
    /// Loads and validates the whole configuration (database URL, master key, issuer) before
    /// anything is written: a command with a bad configuration fails without a trace.
    pub async fn open(g: &Global) -> Result<Ctx> {
        let cfg = Config::load(g)?;
        let master_key = cfg.master_key()?;
        let issuer = validate_issuer(&cfg.issuer(None))?;
        let store = crate::open_store::open(&cfg.database_url, cfg.auto_migrate()).await?;
        Ok(Ctx {
            cfg,
            store,
            clock: Arc::new(SystemClock),
            master_key,
            issuer,
        })
    }

    /// Seals the audit records this command wrote, so the chain is current even when no
    /// server is running.
    pub async fn seal(&self) -> Result<()> {
        let key = self.master_key.audit_signing_key();
        authz_core::audit::seal_all(&self.store, &key, self.clock.as_ref()).await?;
        Ok(())
    }
}

/// Reads a secret from a file, or from standard input when the path is `-`.
pub fn read_secret(path: &PathBuf) -> Result<String> {
    let mut s = String::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .read_to_string(&mut s)
            .context("cannot read standard input")?;
    } else {
        s = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
    }
    let s = s.trim_end_matches(['\r', '\n']).to_string();
    if s.is_empty() {
        bail!("the secret is empty");
    }
    Ok(s)
}

pub async fn run(g: Global, cmd: Command) -> Result<()> {
    if let Command::Migrate = cmd {
        let cfg = Config::load(&g)?;
        crate::open_store::migrate(&cfg.database_url).await?;
        println!("migrations: up to date");
        return Ok(());
    }
    let ctx = Ctx::open(&g).await?;
    let result = match cmd {
        Command::Tenant(c) => tenant::tenant(&ctx, c).await,
        Command::Connection(c) => tenant::connection(&ctx, c).await,
        Command::Resource(c) => catalog::resource(&ctx, c).await,
        Command::Grant(c) => catalog::grant(&ctx, c).await,
        Command::Client(c) => catalog::client(&ctx, c).await,
        Command::Token(c) => token::token(&ctx, c).await,
        Command::Incident(c) => incident::incident(&ctx, c).await,
        Command::ScimToken(c) => scim::scim_token(&ctx, c).await,
        Command::ServiceAccount(c) => service_account::service_account(&ctx, c).await,
        Command::OperatorKey(c) => keys::operator_key(&ctx, c).await,
        Command::AdminKey(c) => keys::admin_key(&ctx, c).await,
        Command::Admin(c) => admin::admin(&ctx, c).await,
        Command::Domain(c) => admin::domain(&ctx, c).await,
        Command::Invitation(c) => invitation::invitation(&ctx, c).await,
        Command::UserKey(c) => user_key::user_key(&ctx, c).await,
        Command::Audit(c) => return audit::audit(&ctx, c).await,
        Command::Serve(_) | Command::Gateway(_) | Command::Migrate => unreachable_cmd(),
    };
    ctx.seal().await?;
    result
}

/// A listen address that cannot be bound (taken, not local, malformed), in one line with a
/// stable code; `serve` and `gateway` exit non-zero with it.
pub(crate) fn listen_error(listen: &str, e: &std::io::Error) -> anyhow::Error {
    let why = match e.kind() {
        std::io::ErrorKind::AddrInUse => "the address is already in use".to_string(),
        std::io::ErrorKind::AddrNotAvailable => "the address is not on this machine".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    };
    anyhow::anyhow!("LISTEN0001: cannot listen on {listen}: {why}")
}

/// The addresses a server is bound to, for its "listening" line.
pub(crate) fn addrs(a: &[std::net::SocketAddr]) -> String {
    a.iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn unreachable_cmd() -> Result<()> {
    bail!("this command is handled elsewhere")
}

/// An instant (microseconds) as RFC 3339, for command output.
pub(crate) fn ts(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default()
}

// Test-only modules stay at the end: tests/interop/compose.test.mjs reads the variables the
// binary takes from this file up to its first `#[cfg(test)]`.
#[cfg(test)]
mod surface_parity;

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every subcommand and every flag says what it is for in `--help` (issue 16 §4): an
    /// operator should not have to read the source to learn what `--tenant` takes.
    #[test]
    fn every_command_and_argument_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                // clap's own --help and --version explain themselves.
                if matches!(arg.get_id().as_str(), "help" | "version") {
                    continue;
                }
                let has_help = arg
                    .get_help()
                    .is_some_and(|h| !h.to_string().trim().is_empty());
                if !has_help {
                    missing.push(format!("{path} --{}", arg.get_id()));
                }
            }
            for sub in cmd.get_subcommands() {
                let sub_path = format!("{path} {}", sub.get_name());
                if sub.get_name() == "help" {
                    continue;
                }
                if sub
                    .get_about()
                    .is_none_or(|a| a.to_string().trim().is_empty())
                {
                    missing.push(sub_path.clone());
                }
                walk(sub, &sub_path, missing);
            }
        }
        let cli = super::Cli::command();
        let mut missing = Vec::new();
        walk(&cli, "gatehouse", &mut missing);
        assert!(
            missing.is_empty(),
            "without help text:\n{}",
            missing.join("\n")
        );
    }
}
