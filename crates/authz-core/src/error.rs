use sea_orm::DbErr;

/// Errors of the core. Each has a [`Reason`] with a stable code; each protocol surface maps the
/// reason once, in one `From<CoreError>` impl, to its own format: OAuth JSON (issuer
/// `OAuthError`), an HTML page (issuer `PageError`, console `ConsoleError`), SCIM (RFC 7644
/// §3.12, `ScimError`), problem+json (RFC 9457, admin API `Problem`), the CLI's message.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The named thing does not exist (in this tenant).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request clashes with the current state (a duplicate, a stale version).
    #[error("{0}")]
    Conflict(String),
    /// The request is malformed or breaks a rule of the data (the caller can correct it).
    #[error("{0}")]
    Invalid(String),
    /// The caller is known but policy refuses this action (a suspended tenant, a role it lacks,
    /// a cut-off).
    #[error("{0}")]
    Denied(String),
    /// The deployment is misconfigured (the operator must act).
    #[error("{0}")]
    Config(String),
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    #[error("crypto error: {0}")]
    Crypto(String),
}

/// What kind of failure a [`CoreError`] is: the one thing an edge needs to pick its status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    NotFound,
    Conflict,
    Invalid,
    Denied,
    /// Not the caller's fault: configuration, storage or cryptography failed. Edges answer
    /// with their "server error" and log the cause; the cause never reaches the caller.
    Internal,
    /// The database cannot be reached right now (refused or dropped connection, no pooled
    /// connection within the acquire timeout, a server shutting down or starting up). Nothing
    /// was applied and the same request may succeed in a moment: edges answer 503 with
    /// `Retry-After` ([`RETRY_AFTER_SECS`]; RFC 9110 §15.6.4, §10.2.3; OAuth's
    /// `temporarily_unavailable`, RFC 6749 §4.1.2.1) and log `DB0503` at WARN, not ERROR.
    Unavailable,
}

/// What `Retry-After` says while the database cannot be reached: about the pool's acquire
/// timeout, so a client that waits this long meets a recovered pool or a fresh 503 quickly.
pub const RETRY_AFTER_SECS: i64 = 3;

/// Is `e` the database being out of reach rather than a fault of the statement or the data?
/// Connection and pool errors, I/O and TLS errors, and PostgreSQL's SQLSTATE class 08
/// (connection exception), 57P01-57P03 (the server is shutting down, crashed or starting up)
/// and 53300 (too many connections). A constraint violation or a bad statement is not.
pub fn db_unavailable(e: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, SqlxError};
    let sqlx = match e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return true,
        DbErr::Exec(RuntimeErr::SqlxError(s)) | DbErr::Query(RuntimeErr::SqlxError(s)) => s,
        _ => return false,
    };
    match sqlx {
        SqlxError::Io(_)
        | SqlxError::Tls(_)
        | SqlxError::PoolTimedOut
        | SqlxError::PoolClosed
        | SqlxError::WorkerCrashed => true,
        SqlxError::Database(d) => d.code().is_some_and(|c| {
            c.starts_with("08") || matches!(c.as_ref(), "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}

/// [`CoreError::is_unavailable`] or [`db_unavailable`] for an error an edge holds as a generic
/// value (`map_err(OAuthError::server)` over several error types): false for any other type.
pub fn any_unavailable(err: &dyn std::any::Any) -> bool {
    if let Some(e) = err.downcast_ref::<CoreError>() {
        return e.is_unavailable();
    }
    err.downcast_ref::<DbErr>().is_some_and(db_unavailable)
}

/// The one log line of a request that met an unreachable database: WARN, with the stable code
/// `DB0503` (an outage is the environment's fault, not a bug of ours; alert on the rate).
pub fn log_unavailable(err: &dyn std::fmt::Display) {
    crate::metrics::db_unavailable();
    tracing::warn!(code = "DB0503", error = %err, "DB0503: database unavailable");
}

impl Reason {
    /// The stable code of the reason, as logs and machine-readable bodies carry it. These
    /// strings are part of the external contract: never rename one.
    pub fn code(self) -> &'static str {
        match self {
            Reason::NotFound => "not_found",
            Reason::Conflict => "conflict",
            Reason::Invalid => "invalid",
            Reason::Denied => "denied",
            Reason::Internal => "internal",
            Reason::Unavailable => "unavailable",
        }
    }
}

pub type CoreResult<T> = Result<T, CoreError>;

impl CoreError {
    pub fn invalid(msg: impl Into<String>) -> Self {
        CoreError::Invalid(msg.into())
    }
    pub fn conflict(msg: impl Into<String>) -> Self {
        CoreError::Conflict(msg.into())
    }
    pub fn denied(msg: impl Into<String>) -> Self {
        CoreError::Denied(msg.into())
    }

    pub fn reason(&self) -> Reason {
        match self {
            CoreError::NotFound(_) => Reason::NotFound,
            CoreError::Conflict(_) => Reason::Conflict,
            CoreError::Invalid(_) => Reason::Invalid,
            CoreError::Denied(_) => Reason::Denied,
            CoreError::Db(e) if db_unavailable(e) => Reason::Unavailable,
            CoreError::Config(_) | CoreError::Db(_) | CoreError::Crypto(_) => Reason::Internal,
        }
    }

    /// The database could not be reached ([`Reason::Unavailable`]).
    pub fn is_unavailable(&self) -> bool {
        self.reason() == Reason::Unavailable
    }

    /// `refusal` (what the caller answers when the lookup fails: "unknown", "expired", "not
    /// found"), unless the database is out of reach: then this error, so that the edge answers
    /// 503 and the person or client retries, instead of a refusal that is not true (ADR 0019).
    pub fn unless_unavailable<E: From<CoreError>>(self, refusal: E) -> E {
        if self.is_unavailable() {
            E::from(self)
        } else {
            refusal
        }
    }

    /// The stable code of this error's [`Reason`].
    pub fn code(&self) -> &'static str {
        self.reason().code()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_failures_are_unavailable_and_statement_failures_are_not() {
        use sea_orm::{RuntimeErr, SqlxError};
        let io = || SqlxError::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(db_unavailable(&DbErr::Exec(RuntimeErr::SqlxError(io()))));
        assert!(db_unavailable(&DbErr::Query(RuntimeErr::SqlxError(
            SqlxError::PoolTimedOut
        ))));
        assert!(db_unavailable(&DbErr::Conn(RuntimeErr::Internal(
            "x".into()
        ))));
        assert!(!db_unavailable(&DbErr::Query(RuntimeErr::SqlxError(
            SqlxError::RowNotFound
        ))));
        assert!(!db_unavailable(&DbErr::RecordNotInserted));
        assert!(!db_unavailable(&DbErr::Custom("unique".into())));
    }

    #[test]
    fn every_error_has_a_stable_reason_code() {
        let cases = [
            (CoreError::NotFound("tenant"), "not_found"),
            (CoreError::conflict("taken"), "conflict"),
            (CoreError::invalid("bad"), "invalid"),
            (CoreError::denied("suspended"), "denied"),
            (CoreError::Config("x".into()), "internal"),
            (CoreError::Crypto("x".into()), "internal"),
            (CoreError::Db(DbErr::Custom("x".into())), "internal"),
            (
                CoreError::Db(DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout)),
                "unavailable",
            ),
        ];
        for (e, code) in cases {
            assert_eq!(e.code(), code, "{e:?}");
        }
    }
}
