//! Configuration from flags, environment and an optional TOML file (flags and environment win).
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use authz_core::crypto::MasterKey;
use authz_core::redirect::RedirectPolicy;
use safe_fetch::{FetchConfig, SafeFetcher};
use serde::Deserialize;

/// Options shared by every command.
#[derive(clap::Args, Debug, Clone)]
pub struct Global {
    /// Data directory for the embedded SQLite database and generated key files.
    #[arg(long, global = true, env = "GATEHOUSE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Optional TOML configuration file.
    #[arg(long, global = true, env = "GATEHOUSE_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Per-node options of the long-running commands (`serve`, `gateway`): metrics and the
/// database pool (issue 15 §2).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct NodeArgs {
    /// Serve `/metrics` without a token on this address (e.g. 10.0.0.5:9464). Bind it to a
    /// private interface: anyone who reaches it reads the node's counters. Without it,
    /// `/metrics` is on the main listener behind `GATEHOUSE_METRICS_TOKEN`.
    #[arg(long, env = "GATEHOUSE_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,
    /// Largest number of database connections this process opens (default 32 on PostgreSQL,
    /// 8 on SQLite). Size it against PostgreSQL's `max_connections` across all nodes.
    #[arg(long, env = "GATEHOUSE_DB_MAX_CONNECTIONS", value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub db_max_connections: Option<u32>,
    /// PostgreSQL `statement_timeout` of every connection: `30s`, `500ms`, `2m` or seconds;
    /// `0` for none (the default).
    #[arg(long, env = "GATEHOUSE_DB_STATEMENT_TIMEOUT", value_parser = parse_duration)]
    pub db_statement_timeout: Option<std::time::Duration>,
    /// How long an idle client connection is kept open for its next request: `75s`, `2m`;
    /// `0` closes each connection after its answer. Default 75 s: keep it above the idle
    /// timeout of the load balancer in front (AWS ALB 60 s, nginx `keepalive_timeout` 60 s),
    /// or the balancer may send a request on a connection this node is closing at that
    /// moment, and its client gets a 502.
    #[arg(long, env = "GATEHOUSE_KEEP_ALIVE", value_parser = parse_duration)]
    pub keep_alive: Option<std::time::Duration>,
}

/// The default of `--keep-alive` (see there).
pub const DEFAULT_KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(75);

impl NodeArgs {
    /// The listener's keep-alive for idle client connections (`--keep-alive`).
    pub fn keep_alive(&self) -> actix_web::http::KeepAlive {
        match self.keep_alive.unwrap_or(DEFAULT_KEEP_ALIVE) {
            d if d.is_zero() => actix_web::http::KeepAlive::Disabled,
            d => actix_web::http::KeepAlive::Timeout(d),
        }
    }

    pub fn pool(&self) -> authz_core::db::PoolConfig {
        authz_core::db::PoolConfig {
            max_connections: self.db_max_connections,
            statement_timeout: self.db_statement_timeout,
        }
    }
}

/// `500ms`, `30s`, `2m`, or a number of seconds.
pub fn parse_duration(v: &str) -> std::result::Result<std::time::Duration, String> {
    let v = v.trim();
    let (n, unit) = match v.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => v.split_at(i),
        None => (v, "s"),
    };
    let n: u64 = n
        .parse()
        .map_err(|_| format!("'{v}' is not a duration such as 30s, 500ms or 2m"))?;
    match unit {
        "ms" => Ok(std::time::Duration::from_millis(n)),
        "s" => Ok(std::time::Duration::from_secs(n)),
        "m" => Ok(std::time::Duration::from_secs(n * 60)),
        _ => Err(format!("'{v}': the unit must be ms, s or m")),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub issuer: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub fetch_ca_file: Option<PathBuf>,
    pub fetch_allow_cidrs: Option<Vec<String>>,
    pub fetch_resolve: Option<Vec<String>>,
    pub redirect_schemes: Option<Vec<String>>,
    pub trusted_proxies: Option<Vec<String>>,
    /// `gatehouse gateway` (issue 13 §1): `[gateway]` and `[[gateway.routes]]`.
    pub gateway: Option<GatewayFileConfig>,
}

/// The MCP gateway's section of the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayFileConfig {
    pub listen: Option<String>,
    /// Largest POST body, bytes (default 1 MiB).
    pub max_body_bytes: Option<usize>,
    /// Idle time after which a kept-alive upstream connection is closed: `4s` (the default),
    /// `1500ms`; below the upstream server's own keep-alive.
    pub upstream_idle_timeout: Option<String>,
    /// One gateway for several resources: each resource is served at the path of its `uri`.
    #[serde(default)]
    pub routes: Vec<GatewayRoute>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayRoute {
    /// The resource's `uri` in the catalogue (its public URL).
    pub resource: String,
    /// The MCP server's Streamable HTTP endpoint.
    pub upstream: String,
}

pub struct Config {
    pub file: FileConfig,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub is_postgres: bool,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Config {
    pub fn load(g: &Global) -> Result<Config> {
        let file = match &g.config {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read config file {}", p.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("config file {} is invalid", p.display()))?
            }
            None => FileConfig::default(),
        };
        let data_dir = g
            .data_dir
            .clone()
            .or_else(|| file.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from("./data"));
        let url = env("DATABASE_URL").or_else(|| file.database_url.clone());
        let (database_url, is_postgres) = match url {
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => (u, true),
            Some(u) if u.starts_with("sqlite:") => (u, false),
            Some(u) => bail!(
                "DATABASE_URL must be a postgres:// or sqlite: URL (got '{}')",
                u.split(':').next().unwrap_or("")
            ),
            None => {
                create_private_dir(&data_dir)
                    .with_context(|| format!("cannot create data dir {}", data_dir.display()))?;
                (
                    format!(
                        "sqlite://{}?mode=rwc",
                        data_dir.join("gatehouse.db").display()
                    ),
                    false,
                )
            }
        };
        Ok(Config {
            file,
            data_dir,
            database_url,
            is_postgres,
        })
    }

    /// The master key: `GATEHOUSE_MASTER_KEY`, or on SQLite a key file generated in the data
    /// dir (mode 0600). On PostgreSQL the key must come from configuration so every node has
    /// the same one (DESIGN §6.2).
    pub fn master_key(&self) -> Result<MasterKey> {
        let previous = env("GATEHOUSE_MASTER_KEY_PREVIOUS").unwrap_or_default();
        let key = self.current_master_key()?;
        key.with_previous(&previous)
            .context("GATEHOUSE_MASTER_KEY_PREVIOUS is invalid")
    }

    fn current_master_key(&self) -> Result<MasterKey> {
        if let Some(k) = env("GATEHOUSE_MASTER_KEY") {
            return MasterKey::parse(&k).context("GATEHOUSE_MASTER_KEY is invalid");
        }
        if self.is_postgres {
            bail!("GATEHOUSE_MASTER_KEY is required with PostgreSQL (64 hex characters, the same on every node; generate one with `openssl rand -hex 32`)");
        }
        let path = self.data_dir.join("master.key");
        if !path.exists() {
            create_private_dir(&self.data_dir)
                .with_context(|| format!("cannot create data dir {}", self.data_dir.display()))?;
            write_secret_file(&path, &MasterKey::generate())?;
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        MasterKey::parse(&text).with_context(|| format!("{} is invalid", path.display()))
    }

    pub fn fetcher(&self) -> Result<SafeFetcher> {
        let ca = env("GATEHOUSE_FETCH_CA_FILE")
            .map(PathBuf::from)
            .or_else(|| self.file.fetch_ca_file.clone());
        let extra_ca_pem = match ca {
            Some(p) => Some(
                std::fs::read(&p)
                    .with_context(|| format!("cannot read CA file {}", p.display()))?,
            ),
            None => None,
        };
        let allow = env("GATEHOUSE_FETCH_ALLOW_CIDRS")
            .or_else(|| self.file.fetch_allow_cidrs.as_ref().map(|v| v.join(",")))
            .unwrap_or_default();
        let resolve = env("GATEHOUSE_FETCH_RESOLVE")
            .or_else(|| self.file.fetch_resolve.as_ref().map(|v| v.join(",")))
            .unwrap_or_default();
        let (allow, resolve) = FetchConfig::parse_lists(&allow, &resolve)?;
        Ok(SafeFetcher::new(&FetchConfig {
            extra_ca_pem,
            allow,
            resolve,
        })?)
    }

    /// `GATEHOUSE_TRUSTED_PROXIES` / `trusted_proxies`: load balancers whose X-Forwarded-For
    /// is believed.
    pub fn trusted_proxies(&self) -> Result<Vec<safe_fetch::Cidr>> {
        let list = env("GATEHOUSE_TRUSTED_PROXIES")
            .or_else(|| self.file.trusted_proxies.as_ref().map(|v| v.join(",")))
            .unwrap_or_default();
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse().map_err(|_| {
                    anyhow::anyhow!("GATEHOUSE_TRUSTED_PROXIES: '{s}' is not a CIDR range")
                })
            })
            .collect()
    }

    /// The bearer token of `/metrics` on the main listener: `GATEHOUSE_METRICS_TOKEN`, else the
    /// content of the file `GATEHOUSE_METRICS_TOKEN_FILE`; none leaves the route answering 404.
    pub fn metrics_token(&self) -> Result<Option<String>> {
        let token = match (
            env("GATEHOUSE_METRICS_TOKEN"),
            env("GATEHOUSE_METRICS_TOKEN_FILE"),
        ) {
            (Some(t), _) => t,
            (None, Some(path)) => std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read GATEHOUSE_METRICS_TOKEN_FILE {path}"))?,
            (None, None) => return Ok(None),
        };
        let token = token.trim();
        if token.len() < 16 {
            bail!("the metrics token is shorter than 16 characters (generate one with `openssl rand -hex 32`)");
        }
        Ok(Some(token.to_string()))
    }

    /// Whether `serve` and CLI commands apply pending migrations themselves (default yes).
    /// `GATEHOUSE_AUTO_MIGRATE=false` leaves it to `gatehouse migrate` run by an owner role;
    /// `/readyz` then reports pending migrations.
    pub fn auto_migrate(&self) -> bool {
        !matches!(
            env("GATEHOUSE_AUTO_MIGRATE").as_deref(),
            Some("false" | "0" | "no")
        )
    }

    /// SCIM requests allowed per token and minute (`GATEHOUSE_SCIM_RATE_PER_MINUTE`; default
    /// 6000, enough for an initial Entra or Okta sync).
    pub fn scim_rate_per_minute(&self) -> Result<i64> {
        positive(
            "GATEHOUSE_SCIM_RATE_PER_MINUTE",
            scim::http::DEFAULT_RATE_PER_MINUTE,
        )
    }

    /// Per-node limits on the hot paths (ADR 0008): `GATEHOUSE_RATE_GRANTS_PER_CLIENT_PER_MINUTE`,
    /// `GATEHOUSE_RATE_INTROSPECT_PER_RS_PER_MINUTE`, `GATEHOUSE_RATE_AUDIT_EVENTS_PER_RS_PER_MINUTE`.
    pub fn rate_limits(&self) -> Result<issuer::RateLimits> {
        let d = issuer::RateLimits::default();
        Ok(issuer::RateLimits {
            grants_per_client: positive(
                "GATEHOUSE_RATE_GRANTS_PER_CLIENT_PER_MINUTE",
                d.grants_per_client,
            )?,
            introspections_per_rs: positive(
                "GATEHOUSE_RATE_INTROSPECT_PER_RS_PER_MINUTE",
                d.introspections_per_rs,
            )?,
            audit_events_per_rs: positive(
                "GATEHOUSE_RATE_AUDIT_EVENTS_PER_RS_PER_MINUTE",
                d.audit_events_per_rs,
            )?,
        })
    }

    /// Admin API requests per key (or console session) and minute, counted across nodes
    /// (`GATEHOUSE_RATE_ADMIN_API_PER_KEY_PER_MINUTE`).
    pub fn admin_rate_per_key_per_minute(&self) -> Result<i64> {
        positive(
            "GATEHOUSE_RATE_ADMIN_API_PER_KEY_PER_MINUTE",
            admin_api::DEFAULT_RATE_PER_KEY_PER_MINUTE,
        )
    }

    /// Where domain verification asks for TXT records: `GATEHOUSE_DNS_SERVER` (ip:port), else
    /// the first nameserver of /etc/resolv.conf.
    pub fn dns_resolver(&self) -> Result<admin_api::console::dns::Resolver> {
        match env("GATEHOUSE_DNS_SERVER") {
            None => Ok(admin_api::console::dns::Resolver::system()),
            Some(v) => v
                .trim()
                .parse::<std::net::SocketAddr>()
                .map(admin_api::console::dns::Resolver::at)
                .map_err(|_| {
                    anyhow::anyhow!("GATEHOUSE_DNS_SERVER must be ip:port, e.g. 10.0.0.2:53")
                }),
        }
    }

    /// The gateway's routes: the `--resource`/`--upstream` pair of the command line, then every
    /// `[[gateway.routes]]` of the file.
    pub fn gateway_routes(&self, flag: Option<(String, String)>) -> Vec<(String, String)> {
        let file = self.file.gateway.iter().flat_map(|g| g.routes.iter());
        flag.into_iter()
            .chain(file.map(|r| (r.resource.clone(), r.upstream.clone())))
            .collect()
    }

    /// The gateway's limits: `max_body_bytes` from the file (1 KiB to 64 MiB), the timeouts
    /// of issue 13 (connect 5 s, response head 60 s).
    pub fn gateway_options(&self) -> Result<gateway::Options> {
        let mut o = gateway::Options::default();
        if let Some(n) = self.file.gateway.as_ref().and_then(|g| g.max_body_bytes) {
            if !(1024..=64 * 1024 * 1024).contains(&n) {
                bail!("gateway.max_body_bytes must be between 1024 and 67108864");
            }
            o.max_body_bytes = n;
        }
        if let Some(v) = self
            .file
            .gateway
            .as_ref()
            .and_then(|g| g.upstream_idle_timeout.as_deref())
        {
            o.upstream_idle_timeout = parse_duration(v)
                .map_err(|e| anyhow::anyhow!("gateway.upstream_idle_timeout: {e}"))?;
        }
        Ok(o)
    }

    /// The issuer URL: the flag, else `GATEHOUSE_ISSUER`, else the file, else the default.
    pub fn issuer(&self, flag: Option<String>) -> String {
        flag.or_else(|| env("GATEHOUSE_ISSUER"))
            .or_else(|| self.file.issuer.clone())
            .unwrap_or_else(|| "http://127.0.0.1:8080".into())
    }

    /// The fetcher for client ID metadata documents (URLs anyone can name): public addresses
    /// and public roots only, unless `GATEHOUSE_CIMD_FETCH_CA_FILE`,
    /// `GATEHOUSE_CIMD_FETCH_ALLOW_CIDRS` or `GATEHOUSE_CIMD_FETCH_RESOLVE` say otherwise (tests).
    pub fn cimd_fetcher(&self) -> Result<SafeFetcher> {
        public_fetcher("GATEHOUSE_CIMD_FETCH")
    }

    /// The fetcher for URLs a tenant admin (or an invitation's setup session) types in the
    /// console: SAML metadata URLs, OIDC issuers. Public addresses and public roots only: the
    /// operator's `GATEHOUSE_FETCH_ALLOW_CIDRS` and `GATEHOUSE_FETCH_CA_FILE` serve only URLs
    /// the operator entered (review F3). `GATEHOUSE_CONSOLE_FETCH_CA_FILE`,
    /// `GATEHOUSE_CONSOLE_FETCH_ALLOW_CIDRS` and `GATEHOUSE_CONSOLE_FETCH_RESOLVE` exist for
    /// tests; certificate verification stays on.
    pub fn console_fetcher(&self) -> Result<SafeFetcher> {
        public_fetcher("GATEHOUSE_CONSOLE_FETCH")
    }

    pub fn redirect_policy(&self) -> RedirectPolicy {
        let schemes = env("GATEHOUSE_REDIRECT_SCHEMES")
            .map(|s| {
                s.split(',')
                    .map(|x| x.trim().to_string())
                    .filter(|x| !x.is_empty())
                    .collect()
            })
            .or_else(|| self.file.redirect_schemes.clone());
        match schemes {
            Some(custom_schemes) => RedirectPolicy { custom_schemes },
            None => RedirectPolicy::default(),
        }
    }
}

/// A positive integer from the environment variable `name`, or `default` when it is unset.
fn positive(name: &str, default: i64) -> Result<i64> {
    match env(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| anyhow::anyhow!("{name} must be a positive integer")),
    }
}

/// A fetcher for URLs others choose, configured only by `<prefix>_CA_FILE`,
/// `<prefix>_ALLOW_CIDRS` and `<prefix>_RESOLVE` (never by the operator's fetch settings).
fn public_fetcher(prefix: &str) -> Result<SafeFetcher> {
    let extra_ca_pem = match env(&format!("{prefix}_CA_FILE")) {
        Some(p) => Some(std::fs::read(&p).with_context(|| format!("cannot read CA file {p}"))?),
        None => None,
    };
    let (allow, resolve) = FetchConfig::parse_lists(
        &env(&format!("{prefix}_ALLOW_CIDRS")).unwrap_or_default(),
        &env(&format!("{prefix}_RESOLVE")).unwrap_or_default(),
    )?;
    Ok(SafeFetcher::new(&FetchConfig {
        extra_ca_pem,
        allow,
        resolve,
    })?)
}

/// Creates a directory (and its missing parents) readable by this user only (0700). An existing
/// directory is left as it is; the files Gatehouse puts in it are 0600 anyway.
pub fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(path)
}

/// Writes a new file readable by this user only (0600), replacing an older one.
pub fn write_private_file(path: &Path, content: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(content)
}

fn write_secret_file(path: &Path, content: &str) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(content.as_bytes())?;
    Ok(())
}

/// The issuer must be an origin (no path, query or fragment); plain http only on loopback.
pub fn validate_issuer(raw: &str) -> Result<String> {
    let u = url::Url::parse(raw).with_context(|| format!("issuer '{raw}' is not a URL"))?;
    if u.path() != "/" || u.query().is_some() || u.fragment().is_some() {
        bail!("issuer '{raw}' must be an origin such as https://auth.example.com (no path, query or fragment)");
    }
    let loopback = match u.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => bail!("issuer '{raw}' has no host"),
    };
    match u.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => bail!("issuer '{raw}' uses http on a non-loopback host; use https"),
        s => bail!("issuer scheme '{s}' is not supported"),
    }
    Ok(u.as_str().trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn gateway_routes_come_from_the_flags_and_the_file() {
        let file: FileConfig = toml::from_str(
            r#"
            [gateway]
            max_body_bytes = 2048
            [[gateway.routes]]
            resource = "https://crm.example.com/mcp"
            upstream = "http://10.0.0.5:3000/mcp"
            "#,
        )
        .unwrap();
        let cfg = Config {
            file,
            data_dir: PathBuf::from("."),
            database_url: "sqlite::memory:".into(),
            is_postgres: false,
        };
        let routes = cfg.gateway_routes(Some(("https://a/mcp".into(), "http://b/mcp".into())));
        assert_eq!(routes.len(), 2);
        assert_eq!(routes[1].1, "http://10.0.0.5:3000/mcp");
        assert_eq!(cfg.gateway_options().unwrap().max_body_bytes, 2048);
        assert_eq!(
            cfg.gateway_options().unwrap().upstream_idle_timeout,
            std::time::Duration::from_secs(4)
        );
        assert!(toml::from_str::<FileConfig>("[gateway]\nroute = 1").is_err());
    }

    #[test]
    fn keep_alive_defaults_above_load_balancers_idle_timeouts_and_zero_turns_it_off() {
        use actix_web::http::KeepAlive;
        use std::time::Duration;
        let node = |v: Option<Duration>| NodeArgs {
            keep_alive: v,
            ..NodeArgs::default()
        };
        assert_eq!(
            node(None).keep_alive(),
            KeepAlive::Timeout(Duration::from_secs(75))
        );
        assert_eq!(
            node(Some(Duration::from_secs(620))).keep_alive(),
            KeepAlive::Timeout(Duration::from_secs(620))
        );
        assert_eq!(node(Some(Duration::ZERO)).keep_alive(), KeepAlive::Disabled);
        let options = |file: &str| {
            Config {
                file: toml::from_str(file).unwrap(),
                data_dir: PathBuf::from("."),
                database_url: "sqlite::memory:".into(),
                is_postgres: false,
            }
            .gateway_options()
        };
        let idle = options("[gateway]\nupstream_idle_timeout = \"1500ms\"").unwrap();
        assert_eq!(idle.upstream_idle_timeout, Duration::from_millis(1500));
        let err = options("[gateway]\nupstream_idle_timeout = \"soon\"").unwrap_err();
        assert!(err.to_string().contains("gateway.upstream_idle_timeout"));
    }

    #[test]
    fn durations_take_a_unit() {
        use std::time::Duration;
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("15"), Ok(Duration::from_secs(15)));
        assert!(parse_duration("1h").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn issuer_rules() {
        assert_eq!(
            validate_issuer("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            validate_issuer("https://auth.example.com/").unwrap(),
            "https://auth.example.com"
        );
        assert!(validate_issuer("http://auth.example.com").is_err());
        assert!(validate_issuer("https://auth.example.com/tenant").is_err());
    }

    #[test]
    fn rate_settings_are_positive_integers_with_defaults() {
        // Names of this test only: tests run in parallel in one process.
        assert_eq!(positive("GATEHOUSE_TEST_RATE_UNSET", 6_000).unwrap(), 6_000);
        std::env::set_var("GATEHOUSE_TEST_RATE_SET", " 120 ");
        assert_eq!(positive("GATEHOUSE_TEST_RATE_SET", 6_000).unwrap(), 120);
        for bad in ["0", "-5", "many", "1.5"] {
            std::env::set_var("GATEHOUSE_TEST_RATE_BAD", bad);
            let e = positive("GATEHOUSE_TEST_RATE_BAD", 6_000).unwrap_err();
            assert!(
                e.to_string().contains("GATEHOUSE_TEST_RATE_BAD"),
                "{bad}: {e}"
            );
        }
    }
}
