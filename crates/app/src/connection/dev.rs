//! Add a development connection (ADR 0017): users from the operator's TOML file, signed in on
//! Gatehouse's own page. Refused unless Gatehouse's issuer is a loopback http URL (DEVIDP0001):
//! its passwords are test passwords, for one machine.
use authz_core::connection::{self, Connection};
use authz_core::dev_idp::{self, DevUsers};
use authz_core::CoreError;

use super::{ConnectionActor, Deps};

/// Why a development connection was not added.
#[derive(Debug, thiserror::Error)]
pub enum DevIdpError {
    /// Gatehouse's issuer is not a loopback http URL (DEVIDP0001).
    #[error("DEVIDP0001: the development IdP works only while Gatehouse's issuer is a loopback http URL (http://127.0.0.1, http://[::1] or http://localhost); the issuer is {issuer}. Connect a real OIDC or SAML IdP instead (connection add-oidc, connection add-saml)")]
    NotLoopback { issuer: String },
    /// Only the operator at the machine adds one (not the console, not the admin API).
    #[error("DEVIDP0003: only the operator (the CLI) adds a development connection")]
    NotOperator,
    /// The users file is refused (why), or storing failed.
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// A development connection to add.
pub struct NewDev<'a> {
    pub name: &'a str,
    /// Gatehouse's issuer (`GATEHOUSE_ISSUER`): must be loopback http.
    pub issuer: &'a str,
    /// The users file's text.
    pub users_toml: &'a str,
}

/// Checks the issuer, parses the users (hashing their passwords) and stores the connection,
/// enabled, audited `connection.created` with `development: true`.
pub async fn add(
    deps: Deps<'_>,
    by: &ConnectionActor,
    new: NewDev<'_>,
) -> Result<(Connection, usize), DevIdpError> {
    if !matches!(by, ConnectionActor::Operator { .. }) {
        return Err(DevIdpError::NotOperator);
    }
    if !dev_idp::loopback_issuer(new.issuer) {
        return Err(DevIdpError::NotLoopback {
            issuer: new.issuer.to_string(),
        });
    }
    let users = DevUsers::from_toml(new.users_toml)?;
    let c = connection::add_dev(
        deps.store,
        deps.clock,
        deps.key,
        by.tenant(),
        new.name,
        new.issuer,
        &users,
    )
    .await?;
    Ok((c, users.users.len()))
}
