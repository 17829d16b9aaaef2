//! Where the request behind an audit record came from: the client's address and user agent
//! (the reference checklist: "audit logging captures … IP, user-agent"). The HTTP edge scopes
//! each request's origin around its handling ([`within`]); [`super::record`] fills a record's
//! source from it unless the record states its own (a resource server's report of a tool call
//! names the end user's address, never the resource server's). Token issuance, refresh,
//! reuse, revocation and every admin action so carry their source without each use case
//! passing it down. Background jobs and the CLI run outside any request: no source.
use std::future::Future;

tokio::task_local! {
    static ORIGIN: RequestOrigin;
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestOrigin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Runs `f` with `origin` as the current request's origin.
pub async fn within<F: Future>(origin: RequestOrigin, f: F) -> F::Output {
    ORIGIN.scope(origin, f).await
}

/// The current request's origin, if any.
pub fn current() -> Option<RequestOrigin> {
    ORIGIN.try_with(Clone::clone).ok()
}
