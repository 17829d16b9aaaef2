//! Federated sign-in (DESIGN §6.6, §6.8): a browser is sent to its organisation's IdP (OIDC or
//! SAML) and comes back with an answer that is checked, admitted and turned into a Gatehouse
//! session. Each step here is one use case; the issuer's handlers parse the request, call one of
//! them and render the outcome (cookies, redirects and pages stay at the edge).
//!
//! - [`start`]: home-realm discovery (the login page and its form); [`account`]: a direct
//!   sign-in at the account page;
//! - [`console`]: the admin console's sign-in through the tenant's own SSO;
//! - [`oidc`]: the upstream OIDC callback; [`saml`]: the SAML ACS and its same-site completion;
//! - [`dev`]: the development IdP's own sign-in page (ADR 0017, loopback issuers only);
//! - [`complete`]: the common end of every protocol; [`failure`]: the audit of a refused answer;
//! - [`switch`]: the person's decision when a sign-in would replace another account's session;
//! - [`admin_test`]: a connection's test sign-in (claims shown, no session).
use authz_core::clock::Clock;
use authz_core::connection::Connection;
use authz_core::crypto::MasterKey;
use authz_core::{CoreError, Store};
use oidc_federation::{FederationError, OidcRp, Preset};

use crate::principal::AnonymousBrowser;

pub mod account;
pub mod admin_test;
pub mod complete;
pub mod console;
pub mod dev;
pub mod failure;
pub mod oidc;
pub mod saml;
pub mod start;
pub mod switch;
mod upstream;

pub use complete::{Completed, Next};

/// What the sign-in use cases need of the running issuer.
pub struct Env<'a> {
    pub store: &'a Store,
    pub clock: &'a dyn Clock,
    pub master_key: &'a MasterKey,
    /// The issuer identifier (no trailing slash): SAML SP entity IDs, ACS and callback URLs.
    pub issuer: &'a str,
    /// The relying party for connections the operator added (may reach the operator's network).
    pub rp: &'a OidcRp,
    /// The relying party for connections added in a tenant's console: public addresses only
    /// (review F3).
    pub public_rp: &'a OidcRp,
}

impl Env<'_> {
    /// The relying party that may fetch `conn`'s IdP.
    pub fn rp_for(&self, conn: &Connection) -> &OidcRp {
        if conn.operator_added {
            self.rp
        } else {
            self.public_rp
        }
    }
    fn db(&self) -> &sea_orm::DatabaseConnection {
        &self.store.db
    }
}

/// The browser taking a sign-in step, as the audit record and the rate limits see it.
#[derive(Debug, Clone)]
pub struct Visitor {
    pub browser: AnonymousBrowser,
    pub user_agent: Option<String>,
}

impl Visitor {
    /// The address written to audit records (`unknown` without a peer).
    fn audit_ip(&self) -> String {
        self.browser.ip.clone().unwrap_or_else(|| "unknown".into())
    }

    /// Counts one event of limit `which` from this browser's network in a window of `window_secs`; over
    /// `limit`, the seconds until the window ends. Keyed like every per-source limit
    /// ([`authz_core::ratelimit::address_key`], security review F9) and counted on every node.
    async fn rate_limited(
        &self,
        env: &Env<'_>,
        which: Limit,
        window_secs: i64,
        limit: i64,
    ) -> Result<(), SignInError> {
        let name = match which {
            Limit::Login => "login",
            Limit::SamlAcs => "saml-acs",
        };
        let key = self
            .browser
            .ip
            .as_deref()
            .and_then(|ip| ip.parse::<std::net::IpAddr>().ok())
            .map(authz_core::ratelimit::address_key)
            .unwrap_or_else(|| "unknown".into());
        let bucket = format!("{name}:{key}");
        let n = authz_core::ratelimit::hit(env.db(), env.clock, &bucket, window_secs).await?;
        if n > limit {
            return Err(SignInError::TooMany {
                limit: which,
                retry_after: authz_core::ratelimit::retry_after(env.clock, window_secs),
            });
        }
        Ok(())
    }
}

/// The per-network limits of the sign-in steps (their buckets: `login`, `saml-acs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Login form submissions ([`start::LOGIN_PER_MINUTE`]).
    Login,
    /// SAML responses posted to an ACS ([`saml::ACS_PER_MINUTE`]).
    SamlAcs,
}

/// Why a sign-in step asks the person to start again from the application (one message each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// The IdP's answer could not be parsed.
    Malformed,
    /// A SAML POST without `SAMLResponse`.
    NoSamlResponse,
    /// An OIDC answer without `state`.
    NoState,
    /// An OIDC answer without `code`.
    NoCode,
    /// The connection is disabled (and no setup session may use it).
    Disabled,
    /// The OIDC `state` names no live transaction of this browser.
    UnknownResponse,
    /// The transaction was never sent upstream.
    NotInProgress,
    /// The answer came to another connection's redirect URI.
    OtherConnection,
    /// The one-time SAML handle is unknown, expired or used.
    StepUsed,
    /// The login transaction is missing, expired, or bound to another browser.
    LinkExpired,
}

/// A refused sign-in step. The issuer renders each as its page (one place, `upstream.rs`).
#[derive(Debug)]
pub enum SignInError {
    Restart(Restart),
    /// The SAML completion arrived in a browser other than the one that started the sign-in.
    OtherBrowser,
    /// No SAML connection by this id.
    UnknownConnection,
    /// Too many attempts from this network at `limit`: retry after these seconds.
    TooMany {
        limit: Limit,
        retry_after: i64,
    },
    /// The tenant is suspended (incident response, issue 11 §3).
    Suspended,
    /// Admission refused the person (why).
    NotAdmitted(String),
    /// The IdP's SAML response was refused.
    SamlRefused(::saml::SamlError),
    /// Step-up asked, but the SAML IdP did not re-authenticate the person.
    SamlNotFresh,
    /// The OIDC IdP answered with an error (RFC 6749 §4.1.2.1).
    UpstreamError {
        error: String,
        description: String,
    },
    /// The OIDC IdP's answer failed Gatehouse's checks.
    OidcRefused {
        error: FederationError,
        preset: Preset,
    },
    /// The organisation's OIDC IdP could not be reached to start a sign-in.
    UpstreamUnavailable {
        org: String,
    },
    /// An IdP-initiated confirmation that is unknown, expired or used.
    PortalRestart,
    /// An IdP-initiated confirmation whose token does not match this browser.
    ConfirmUnverified,
    /// No tenant by this console slug.
    UnknownTenant,
    /// A test sign-in asked by someone who is not an admin of the tenant (its name).
    NotAdminForTest(String),
    /// The login form failed its CSRF / Fetch Metadata check.
    LoginFormUnverified,
    /// The console's sign-in form failed its CSRF / Fetch Metadata check.
    ConsoleFormUnverified,
    /// The account-switch form is unknown, cross-site, expired or forged.
    SwitchRefused,
    Core(CoreError),
    /// A development connection used while Gatehouse's issuer is not a loopback http URL
    /// (DEVIDP0002, ADR 0017).
    DevIdpRefused,
    /// An unexpected failure (logged by the edge's internal-error page).
    Internal(String),
}

impl From<CoreError> for SignInError {
    fn from(e: CoreError) -> Self {
        SignInError::Core(e)
    }
}

impl From<sea_orm::DbErr> for SignInError {
    fn from(e: sea_orm::DbErr) -> Self {
        SignInError::Core(e.into())
    }
}

pub(crate) fn internal(e: impl std::fmt::Display) -> SignInError {
    SignInError::Internal(e.to_string())
}
