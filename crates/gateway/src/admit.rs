//! Whether a request may go upstream: the route, the body's needs, the token, the catalogue's
//! rules, the rate limit, in that order. Every refusal is an answer ready to send; refused
//! `tools/call`s are audited like answered ones.
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use app::gateway::{CallOutcome, GatewayCall, TokenHolder};
use authz_core::mcp_policy::McpPolicy;
use serde_json::Value;
use std::sync::Arc;

use crate::decide::{self, Plan, Refusal};
use crate::dpop::{self, Scheme};
use crate::rpc::{self, BodyError};
use crate::tap::Watch;
use crate::{refuse, GatewayState, Route};

/// A request that may go upstream.
pub struct Admitted {
    pub route: usize,
    pub holder: TokenHolder,
    pub watch: Watch,
    /// The id an error answer carries.
    pub reply_id: Value,
}

/// The caller's address and user agent, for the audit record.
fn source(req: &HttpRequest) -> (Option<String>, Option<String>) {
    let ip = req.peer_addr().map(|a| a.ip().to_string());
    let ua = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(256).collect());
    (ip, ua)
}

/// The route of the request's path (always found: only routes' paths are registered).
fn route<'a>(state: &'a GatewayState, req: &HttpRequest) -> Option<(usize, &'a Route)> {
    state.route_of(req.path())
}

fn not_found() -> HttpResponse {
    HttpResponse::NotFound().finish()
}

async fn policy(
    state: &GatewayState,
    route: &Route,
    id: &Value,
) -> Result<Arc<McpPolicy>, HttpResponse> {
    state.policy(route).await.map_err(|e| {
        refuse::log_fault("GATEWAY0004", &e, "cannot load the catalogue");
        refuse::internal(id.clone())
    })
}

/// The holder of the presented token, and how it was presented (the DPoP checks follow).
async fn holder<'r>(
    state: &GatewayState,
    req: &'r HttpRequest,
    route: &Route,
    policy: &McpPolicy,
    plan: Option<&Plan>,
    id: &Value,
) -> Result<(TokenHolder, (Scheme, &'r str)), HttpResponse> {
    let challenge = |presented| {
        let scope = decide::challenge_scope(policy, plan);
        let dpop_only = policy.settings.require_dpop;
        refuse::unauthorized(
            &route.metadata_url(),
            &scope,
            presented,
            dpop_only,
            id.clone(),
        )
    };
    let Some(presented) = dpop::credential(req) else {
        return Err(challenge(false));
    };
    match state.authenticate(route, policy, presented.1).await {
        Ok(Some(h)) => Ok((h, presented)),
        Ok(None) => Err(challenge(true)),
        Err(e) => {
            e.log("GATEWAY0005", "cannot check a token");
            Err(refuse::internal(id.clone()))
        }
    }
}

/// A POST: the body is parsed and every message checked; a batch is refused whole when one
/// of its messages is refused (see [`decide`]).
pub async fn post(
    state: &GatewayState,
    req: &HttpRequest,
    body: &[u8],
) -> Result<Admitted, HttpResponse> {
    let (idx, route) = route(state, req).ok_or_else(not_found)?;
    let parsed = rpc::parse(body).map_err(|e| match e {
        BodyError::Parse => refuse::parse_error(),
        BodyError::Invalid(m) => refuse::invalid(Value::Null, rpc::INVALID_REQUEST, &m),
    })?;
    let id = parsed.reply_id();
    let policy = policy(state, route, &id).await?;
    let plan = decide::plan(&policy, &parsed).map_err(|r| match r {
        Refusal::BadParams(m) => refuse::invalid(id.clone(), rpc::INVALID_PARAMS, &m),
        other => refuse::invalid(id.clone(), rpc::INVALID_REQUEST, &format!("{other:?}")),
    })?;
    let (holder, presented) = holder(state, req, route, &policy, Some(&plan), &id).await?;
    let now = state.clock.now_us();
    let src = source(req);
    let calls: Vec<(Option<Value>, GatewayCall)> = plan
        .calls
        .iter()
        .map(|c| {
            let call = GatewayCall::new(
                &holder,
                &route.resource.uri,
                &c.tool,
                &c.arguments,
                c.scopes.clone(),
                src.clone(),
                now,
            )
            .listed(policy.tools.contains_key(&c.tool));
            (c.id.clone(), call)
        })
        .collect();
    let refuse_all = |outcome: CallOutcome| {
        for (_, c) in &calls {
            state.audit.send(c.clone().ended(outcome.clone(), 0));
        }
    };
    // RFC 9449 §7: a bound token only with a proof of its key; refused proofs are audited.
    if let Err(r) = dpop::admit(state, req, route, &policy, presented, &holder, &id).await {
        if let Some(reason) = r.audit {
            refuse_all(CallOutcome::Denied(reason));
        }
        return Err(r.response);
    }
    if let Err(r) = decide::check(
        &policy,
        &plan,
        holder.scopes(),
        holder.authenticated_recently(now),
    ) {
        return Err(match r {
            Refusal::Unlisted(what) => {
                refuse_all(CallOutcome::Denied(format!(
                    "{what} is not in the catalogue"
                )));
                refuse::unlisted(&what, id)
            }
            Refusal::InsufficientScope { scope, description } => {
                refuse_all(CallOutcome::Denied(description.clone()));
                refuse::insufficient_scope(&route.metadata_url(), &scope, &description, id)
            }
            Refusal::BadParams(m) => refuse::invalid(id, rpc::INVALID_PARAMS, &m),
        });
    }
    match state.count_calls(&holder, &plan.tiers()).await {
        Ok(None) => {}
        Ok(Some(limited)) => {
            refuse_all(CallOutcome::RateLimited);
            return Err(refuse::rate_limited(limited.retry_after_secs, id));
        }
        Err(e) => {
            refuse::log_fault("GATEWAY0006", &e, "cannot count a call");
            return Err(refuse::internal(id));
        }
    }
    let filter = policy
        .settings
        .filter_tools_list
        .then(|| (policy.clone(), holder.scopes().to_vec()));
    Ok(Admitted {
        route: idx,
        watch: Watch::new(state.audit.clone(), calls, filter, plan.list_ids),
        holder,
        reply_id: id,
    })
}

/// A GET (the server's SSE stream) or a DELETE (end of session): any valid token for this
/// resource (they carry no tool call).
pub async fn bare(state: &GatewayState, req: &HttpRequest) -> Result<Admitted, HttpResponse> {
    let (idx, route) = route(state, req).ok_or_else(not_found)?;
    let policy = policy(state, route, &Value::Null).await?;
    let (holder, presented) = holder(state, req, route, &policy, None, &Value::Null).await?;
    dpop::admit(state, req, route, &policy, presented, &holder, &Value::Null)
        .await
        .map_err(|r| r.response)?;
    Ok(Admitted {
        route: idx,
        holder,
        watch: Watch::new(state.audit.clone(), Vec::new(), None, Vec::new()),
        reply_id: Value::Null,
    })
}
