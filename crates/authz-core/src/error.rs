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
            CoreError::Config(_) | CoreError::Db(_) | CoreError::Crypto(_) => Reason::Internal,
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
    fn every_error_has_a_stable_reason_code() {
        let cases = [
            (CoreError::NotFound("tenant"), "not_found"),
            (CoreError::conflict("taken"), "conflict"),
            (CoreError::invalid("bad"), "invalid"),
            (CoreError::denied("suspended"), "denied"),
            (CoreError::Config("x".into()), "internal"),
            (CoreError::Crypto("x".into()), "internal"),
            (CoreError::Db(DbErr::Custom("x".into())), "internal"),
        ];
        for (e, code) in cases {
            assert_eq!(e.code(), code, "{e:?}");
        }
    }
}
