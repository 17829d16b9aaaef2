//! The consent step, which finishes an authorization request (DESIGN §4). The person is the one
//! whose sign-in completed the login transaction: the transaction names the session, and only
//! the browser that started it (its binding value) may present it.
//!
//! Offers the requested scopes the organisation granted, with description and tier; the person
//! may untick any; under each scope, the tools it enables. Remembered consent is applied silently only where the client's identity is
//! assured; otherwise the page comes back pre-filled as a one-click confirmation. A decision is
//! recorded (`consent.granted` / `consent.denied`) in the transaction that issues the code.
use authz_core::audit::{self, AuditEvent};
use authz_core::client::Client;
use authz_core::clock::Clock;
use authz_core::login::{self, LoginTx};
use authz_core::resource::{self, Resource, Scope, ToolSpec};
use authz_core::session::{self, Session};
use authz_core::token::{code, max_tier};
use authz_core::{consent, grant, user, CoreError, Store};

/// Where the request came from, for the audit record.
#[derive(Debug, Clone, Default)]
pub struct Source {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// What the consent step ends in.
#[derive(Debug)]
pub enum Outcome {
    /// The consent page: the person decides ([`review`] only).
    Ask(Box<Prompt>),
    /// Consent recorded and a code issued: back to the client (RFC 6749 §4.1.2, with `iss`).
    Issued(Issued),
    /// An `access_denied` for the client's redirect URI (RFC 6749 §4.1.2.1).
    Denied(Denied),
    /// The decision's form failed its CSRF check ([`decide`] only); nothing was recorded.
    Forged,
}

/// What the consent page shows.
#[derive(Debug)]
pub struct Prompt {
    /// The transaction handle the form posts back.
    pub tx: String,
    pub redirect_uri: String,
    pub client: Client,
    pub resource: Resource,
    /// The scopes offered (each pre-ticked: the client asked for it).
    pub offered: Vec<Scope>,
    /// The account's email, or its subject where it has none.
    pub user_email: String,
    pub org_name: String,
    pub connection_name: String,
    /// Is the account's email on one of the organisation's verified domains? (review F1 (d))
    pub email_verified: bool,
    /// A remembered consent covers every offered scope.
    pub remembered: bool,
    /// The resource's tools, listed on the page under each scope they need (issue 13 §2).
    pub tools: Vec<ToolSpec>,
}

impl Prompt {
    /// The tools that `scope` enables: those whose scope list contains it.
    pub fn tools_for(&self, scope: &str) -> Vec<&ToolSpec> {
        self.tools
            .iter()
            .filter(|t| t.scopes.iter().any(|s| s == scope))
            .collect()
    }
}

#[derive(Debug)]
pub struct Issued {
    pub redirect_uri: String,
    pub code: String,
    pub state: Option<String>,
}

#[derive(Debug)]
pub struct Denied {
    pub redirect_uri: String,
    pub state: Option<String>,
    pub description: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum FinishError {
    /// The transaction is missing, has expired, was completed or belongs to another browser.
    #[error("the consent request is missing, has expired, or belongs to another browser")]
    Expired,
    #[error(transparent)]
    Core(#[from] CoreError),
    /// Opening or committing the transaction failed.
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

struct Ctx {
    tx: LoginTx,
    session: Session,
    client: Client,
    resource: Resource,
    offered: Vec<Scope>,
}

/// The person's answer on the consent page.
pub struct Decision {
    /// "Allow" was pressed.
    pub allow: bool,
    /// The scopes left ticked (any not offered are ignored).
    pub scopes: Vec<String>,
    /// The form's CSRF token matched this browser and transaction (checked at the edge).
    pub csrf_ok: bool,
}

/// The consent page for transaction `tx`: silent issuance where a remembered consent covers
/// the request and may be applied, else the prompt.
pub async fn review(
    store: &Store,
    clock: &dyn Clock,
    tx: Option<&str>,
    binding: Option<&str>,
    source: Source,
) -> Result<Outcome, FinishError> {
    let ctx = match load(store, clock, tx, binding).await? {
        Ok(c) => c,
        Err(denied) => return Ok(Outcome::Denied(denied)),
    };
    let db = &store.db;
    let s = &ctx.session;
    let remembered = consent::get(
        db,
        clock,
        &s.tenant,
        &s.user_id,
        &ctx.client.client_id,
        &ctx.resource.id,
    )
    .await?;
    let covered = remembered
        .as_ref()
        .map(|c| ctx.offered.iter().all(|o| c.scopes.contains(&o.name)))
        .unwrap_or(false);
    let u = user::get(db, &s.tenant, &s.user_id).await?;
    let org = authz_core::tenant::get(db, &s.tenant).await?;
    let email_verified = email_in_verified_domain(store, s, u.email.as_deref()).await?;
    // Silent only where the client's identity is assured, the session was started by the person
    // on our pages (not an unsolicited IdP response), and the account's email belongs to the
    // organisation: otherwise the person sees whose account and organisation this is (F1).
    if covered && ctx.client.identity_assured() && !s.idp_initiated && email_verified {
        let names: Vec<String> = ctx.offered.iter().map(|o| o.name.clone()).collect();
        return issue_code(store, clock, &ctx, &names, true, source).await;
    }
    let connection_name = authz_core::connection::get(db, &s.tenant, &s.connection_id)
        .await
        .map(|c| c.name)
        .unwrap_or_default();
    let tools = resource::spec::tools(db, &ctx.resource.id).await?;
    Ok(Outcome::Ask(Box::new(Prompt {
        tx: ctx.tx.id_hash,
        redirect_uri: ctx.tx.request.redirect_uri,
        client: ctx.client,
        resource: ctx.resource,
        offered: ctx.offered,
        user_email: u.email.unwrap_or(u.subject),
        org_name: org.name,
        connection_name,
        email_verified,
        remembered: covered,
        tools,
    })))
}

/// The person's decision on the consent page: a denial (or nothing ticked) completes the
/// transaction with `access_denied`; an allow records consent and issues the code.
pub async fn decide(
    store: &Store,
    clock: &dyn Clock,
    tx: Option<&str>,
    binding: Option<&str>,
    decision: Decision,
    source: Source,
) -> Result<Outcome, FinishError> {
    let ctx = match load(store, clock, tx, binding).await? {
        Ok(c) => c,
        Err(denied) => return Ok(Outcome::Denied(denied)),
    };
    if !decision.csrf_ok {
        return Ok(Outcome::Forged);
    }
    let chosen: Vec<String> = decision
        .scopes
        .into_iter()
        .filter(|s| ctx.offered.iter().any(|o| &o.name == s))
        .collect();
    if !decision.allow || chosen.is_empty() {
        let txn = store.begin().await?;
        login::consume(&txn, clock, &ctx.tx).await?;
        audit::record(
            &txn,
            clock,
            AuditEvent::new(Some(&ctx.session.tenant), "consent.denied")
                .result("denied")
                .user(ctx.session.user_id.clone())
                .client(ctx.client.client_id.clone())
                .session(ctx.session.id.clone())
                .resource(ctx.resource.uri.clone()),
        )
        .await?;
        txn.commit().await?;
        return Ok(Outcome::Denied(Denied {
            redirect_uri: ctx.tx.request.redirect_uri,
            state: ctx.tx.request.state,
            description: "the user denied the request",
        }));
    }
    issue_code(store, clock, &ctx, &chosen, false, source).await
}

/// The transaction, its session, client and resource, and the scopes that may be offered; or
/// the `access_denied` the client hears when the organisation allows nothing.
async fn load(
    store: &Store,
    clock: &dyn Clock,
    tx: Option<&str>,
    binding: Option<&str>,
) -> Result<Result<Ctx, Denied>, FinishError> {
    let db = &store.db;
    let tx = tx.ok_or(FinishError::Expired)?;
    let tx = login::load(db, clock, tx, binding)
        .await
        .map_err(|e| e.unless_unavailable(FinishError::Expired))?;
    let sid = tx.session_hash.clone().ok_or(FinishError::Expired)?;
    let session = session::find_by_id(db, clock, &sid)
        .await?
        .ok_or(FinishError::Expired)?;
    let client = authz_core::client::get(db, &tx.request.client_id)
        .await?
        .ok_or(FinishError::Expired)?;
    let denied = |description| Denied {
        redirect_uri: tx.request.redirect_uri.clone(),
        state: tx.request.state.clone(),
        description,
    };
    // A suspended tenant, or a client it does not allow (issue "console" §3): access denied.
    if authz_core::incident::is_suspended(db, &session.tenant).await?
        || !authz_core::admin::client_policy::permits(db, &session.tenant, &client.client_id)
            .await?
    {
        let d = denied("your organisation does not allow this application");
        record_denial(store, clock, &tx, &session, &client, "client_not_allowed").await?;
        return Ok(Err(d));
    }
    let res = resource::get(db, &tx.request.resource_id).await?;
    let catalogue = resource::catalogue(db, &res.id).await?;
    let granted = grant::granted_to_user(db, &session.tenant, &res.id, &session.user_id).await?;
    let offered: Vec<Scope> = tx
        .request
        .scopes
        .iter()
        .filter(|s| granted.contains(s))
        .filter_map(|s| catalogue.iter().find(|c| &c.name == s).cloned())
        // Critical scopes only while the IdP authentication is fresh (step-up, DESIGN §5).
        .filter(|s| {
            s.tier != authz_core::scope::Tier::Critical
                || session::is_fresh(&session, clock.now_us())
        })
        .collect();
    if offered.is_empty() {
        let d = denied(
            "your organisation has not granted any of the requested permissions for this resource",
        );
        record_denial(store, clock, &tx, &session, &client, "no_grant").await?;
        return Ok(Err(d));
    }
    Ok(Ok(Ctx {
        tx,
        session,
        client,
        resource: res,
        offered,
    }))
}

/// An authorization the organisation's policy refused, before any consent page: the login
/// transaction is completed (it cannot be replayed) and the refusal audited, so the tenant's
/// admin sees who was refused what, from where (issue 16 §3).
async fn record_denial(
    store: &Store,
    clock: &dyn Clock,
    tx: &LoginTx,
    session: &Session,
    client: &Client,
    reason: &str,
) -> Result<(), FinishError> {
    let txn = store.begin().await?;
    login::consume(&txn, clock, tx)
        .await
        .map_err(|_| FinishError::Expired)?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(&session.tenant), "authorization.denied")
            .result("denied")
            .user(session.user_id.clone())
            .client(client.client_id.clone())
            .session(session.id.clone())
            .scope(tx.request.scopes.join(" "))
            .detail("reason", reason),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Records consent and issues the code, in one transaction that also completes the login
/// transaction (exactly once).
async fn issue_code(
    store: &Store,
    clock: &dyn Clock,
    ctx: &Ctx,
    scopes: &[String],
    silent: bool,
    source: Source,
) -> Result<Outcome, FinishError> {
    let s = &ctx.session;
    let tier = max_tier(&ctx.offered, scopes);
    let txn = store.begin().await?;
    login::consume(&txn, clock, &ctx.tx)
        .await
        .map_err(|e| e.unless_unavailable(FinishError::Expired))?;
    consent::remember(
        &txn,
        clock,
        &s.tenant,
        &s.user_id,
        &ctx.client.client_id,
        &ctx.resource.id,
        scopes,
        tier,
    )
    .await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(&s.tenant), "consent.granted")
            .user(s.user_id.clone())
            .client(ctx.client.client_id.clone())
            .session(s.id.clone())
            .resource(ctx.resource.uri.clone())
            .scope(scopes.join(" "))
            .source(source.ip, source.user_agent)
            .detail("remembered", silent),
    )
    .await?;
    let code = code::create(&txn, clock, s, &ctx.tx.request, scopes).await?;
    txn.commit().await?;
    Ok(Outcome::Issued(Issued {
        redirect_uri: ctx.tx.request.redirect_uri.clone(),
        code,
        state: ctx.tx.request.state.clone(),
    }))
}

/// Is the account's email on one of the organisation's verified domains? An IdP can assert any
/// email; one outside the organisation's domains is flagged to the person (review F1 (d)).
async fn email_in_verified_domain(
    store: &Store,
    session: &Session,
    email: Option<&str>,
) -> Result<bool, CoreError> {
    let Some(domain) = email
        .and_then(|e| e.rsplit_once('@'))
        .map(|(_, d)| d.to_ascii_lowercase())
    else {
        return Ok(false);
    };
    let domains = authz_core::tenant::domains(&store.db, &session.tenant).await?;
    Ok(domains.iter().any(|d| d.eq_ignore_ascii_case(&domain)))
}
