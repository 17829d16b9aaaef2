//! Show, change and remove for the objects a tenant admin creates (issue 16 §2), beside the
//! list and create endpoints that existed before. Each handler calls one use case of
//! `app::manage`, whose view is the JSON object (the CLI's `--json` prints the same). A
//! `DELETE` answers `{"removed": …, "revoked": …}`; with `?dry_run=true` it answers the same
//! and changes nothing, so a script can show what a removal would end before it asks.
use actix_web::HttpRequest;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::Problem;

pub mod admin_keys;
pub mod admins;
pub mod domains;
pub mod grants;
pub mod invitations;
pub mod scim_tokens;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RemoveQuery {
    /// `true`: say what the removal would revoke, and change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// The `dry_run` flag of a `DELETE`.
pub fn dry_run(req: &HttpRequest) -> Result<bool, Problem> {
    Ok(crate::error::query::<RemoveQuery>(req)?.dry_run)
}

/// What a removal ended (or, for a preview, would end).
#[derive(Debug, Serialize, ToSchema)]
pub struct ImpactOut {
    /// Token families (an access token with its refresh token, a key's grant) revoked.
    pub grants: u64,
    /// Signed-in sessions ended.
    pub sessions: u64,
    /// Credentials that stop working (secrets, keys, tokens, invitation links).
    pub credentials: u64,
    /// People who lose access through it.
    pub users: u64,
    /// Objects removed with it: `[kind, count]` pairs.
    #[schema(value_type = Vec<Object>)]
    pub cascades: Vec<(String, u64)>,
}

/// The answer of every `DELETE` of an object.
#[derive(Debug, Serialize, ToSchema)]
pub struct RemovedOut {
    /// The object as it was (its kind's view).
    #[schema(value_type = Object)]
    pub removed: serde_json::Value,
    pub revoked: ImpactOut,
}
