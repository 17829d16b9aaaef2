//! DPoP at the gateway (RFC 9449 §7): a token bound to a key (`cnf.jkt`, from the grant family
//! in database mode, from the introspection answer in introspection mode) is accepted only as
//! `Authorization: DPoP <token>` with a proof of that key for this very request: `htm` the
//! request's method, `htu` the resource's URI (where the gateway serves it), `ath` the token's
//! hash, a current server nonce (§9), and a `jti` never seen before (database mode: on every
//! node; introspection mode: on this node). A resource with `require_dpop` refuses unbound
//! tokens altogether. Refusals are 401 with a `DPoP` challenge (§7.1) that keeps the
//! `resource_metadata` parameter MCP clients discover the authorization server with.
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use app::gateway::TokenHolder;
use authz_core::dpop::{self, DpopError, Expect};
use authz_core::mcp_policy::McpPolicy;
use serde_json::Value;

use crate::{refuse, GatewayState, Route};

/// How the token was presented (RFC 6750 §2.1 `Bearer`, RFC 9449 §7.1 `DPoP`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Bearer,
    DPoP,
}

/// The token of the `Authorization` header and its scheme (case-insensitive).
pub fn credential(req: &HttpRequest) -> Option<(Scheme, &str)> {
    let v = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    let token = token.trim();
    if token.is_empty() {
        return None;
    }
    if scheme.eq_ignore_ascii_case("bearer") {
        Some((Scheme::Bearer, token))
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Some((Scheme::DPoP, token))
    } else {
        None
    }
}

/// A refused presentation: the answer, and the reason to audit (`None` for the routine
/// `use_dpop_nonce` round trip, which is part of the protocol, not a refusal of the caller).
pub struct Refused {
    pub response: HttpResponse,
    pub audit: Option<String>,
}

/// Whether `holder`'s token, presented with `scheme`, may be used for this request.
pub async fn admit(
    state: &GatewayState,
    req: &HttpRequest,
    route: &Route,
    policy: &McpPolicy,
    presented: (Scheme, &str),
    holder: &TokenHolder,
    id: &Value,
) -> Result<(), Refused> {
    let (scheme, token) = presented;
    let deny = |code: &'static str, description: String| {
        tracing::info!(code = "GATEWAY0030", reason = %description, resource = %route.resource.uri, "DPoP presentation refused");
        let nonce = state.dpop_nonces.current(state.clock.now_us());
        Refused {
            response: refuse::dpop(
                &route.metadata_url(),
                code,
                &description,
                &nonce,
                id.clone(),
            ),
            audit: (code != "use_dpop_nonce").then(|| format!("DPoP: {description}")),
        }
    };
    let bound = holder.dpop_jkt();
    if scheme == Scheme::Bearer {
        if bound.is_some() {
            return Err(deny("invalid_token", "the access token is DPoP-bound: present it as 'Authorization: DPoP' with a DPoP proof".into()));
        }
        if policy.settings.require_dpop {
            return Err(deny(
                "invalid_token",
                "this resource accepts only DPoP-bound access tokens".into(),
            ));
        }
        return Ok(());
    }
    if bound.is_none() && policy.settings.require_dpop {
        return Err(deny(
            "invalid_token",
            "this resource accepts only DPoP-bound access tokens".into(),
        ));
    }
    let values: Vec<&str> = req
        .headers()
        .get_all("dpop")
        .map(|v| v.to_str().unwrap_or(""))
        .collect();
    let expect = Expect {
        method: req.method().as_str(),
        url: &route.resource.uri,
        access_token: Some(token),
        now_us: state.clock.now_us(),
        nonces: &state.dpop_nonces,
    };
    let proof = dpop::check(&values, &expect).map_err(|e| deny(e.code(), e.to_string()))?;
    if let Some(jkt) = bound {
        if proof.jkt != jkt {
            let e = DpopError::Invalid(
                "the proof is signed with another key than the one the token is bound to".into(),
            );
            return Err(deny(e.code(), e.to_string()));
        }
    }
    match state.proof_first_use(&proof).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(deny(
            "invalid_dpop_proof",
            "this DPoP proof was already used (jti)".into(),
        )),
        Err(e) => {
            e.log("GATEWAY0031", "cannot record a DPoP proof");
            Err(Refused {
                response: refuse::internal(id.clone()),
                audit: None,
            })
        }
    }
}
