//! Operator API keys as objects (issue 16 §2): list, show, rename, remove, for the operator
//! only. Every surface shows the same [`OperatorKeyView`] (never the secret).
use authz_core::api_key::{self, ApiKey};
use authz_core::clock::Clock;
use authz_core::removal::operator_key as core;
use authz_core::{CoreError, CoreResult, Store};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::principal::Operator;
use crate::removal::{Impact, Removed};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OperatorKeyView {
    pub id: String,
    /// Who holds it.
    pub name: String,
    pub created_at: String,
    pub expires_at: String,
    /// `active`, `expired` or `revoked`.
    pub status: String,
}

fn time(us: i64) -> String {
    authz_core::clock::rfc3339(us, chrono::SecondsFormat::Secs)
}

impl OperatorKeyView {
    fn new(k: &ApiKey, now: i64) -> Self {
        let status = match (k.revoked_at, k.expires_at <= now) {
            (Some(_), _) => "revoked",
            (None, true) => "expired",
            (None, false) => "active",
        };
        OperatorKeyView {
            id: k.id.clone(),
            name: k.name.clone(),
            created_at: time(k.created_at),
            expires_at: time(k.expires_at),
            status: status.into(),
        }
    }
}

/// Every operator key, newest first.
pub async fn list(
    store: &Store,
    clock: &dyn Clock,
    _op: &Operator,
) -> CoreResult<Vec<OperatorKeyView>> {
    let now = clock.now_us();
    Ok(api_key::list(&store.db, None)
        .await?
        .iter()
        .map(|k| OperatorKeyView::new(k, now))
        .collect())
}

pub async fn show(
    store: &Store,
    clock: &dyn Clock,
    _op: &Operator,
    id: &str,
) -> CoreResult<OperatorKeyView> {
    let k = core::get(&store.db, id).await?;
    Ok(OperatorKeyView::new(&k, clock.now_us()))
}

/// What may change on a key: its name.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OperatorKeyChange {
    pub name: Option<String>,
}

pub async fn update(
    store: &Store,
    clock: &dyn Clock,
    op: &Operator,
    id: &str,
    change: OperatorKeyChange,
) -> CoreResult<OperatorKeyView> {
    let Some(name) = change.name else {
        return Err(CoreError::invalid("nothing to change: give name"));
    };
    core::rename(store, clock, id, &name, op.actor()).await?;
    show(store, clock, op, id).await
}

/// Revokes the key (and its console sessions), or previews what that ends.
pub async fn remove(
    store: &Store,
    clock: &dyn Clock,
    op: &Operator,
    id: &str,
    dry_run: bool,
) -> CoreResult<Removed<OperatorKeyView>> {
    let before = show(store, clock, op, id).await?;
    let counts = core::remove(store, clock, id, op.actor(), dry_run).await?;
    Ok(Removed {
        removed: before,
        revoked: Impact::from(counts),
    })
}
