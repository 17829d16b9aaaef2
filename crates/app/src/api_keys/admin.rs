//! A tenant admin's view of personal API keys: every key of the tenant, and revoking any of
//! them (console, admin API and CLI call these). Turning keys off is a tenant setting
//! (`authz_core::admin::settings::set` revokes every key when it goes off).
use authz_core::clock::Clock;
use authz_core::personal_key::{self, PersonalKey};
use authz_core::{CoreError, Store};

use crate::TenantAdmin;

pub async fn list(
    store: &Store,
    clock: &dyn Clock,
    admin: &TenantAdmin,
) -> Result<Vec<PersonalKey>, CoreError> {
    personal_key::list_for_tenant(&store.db, clock, admin.tenant()).await
}

/// Revokes a key of the admin's tenant (another tenant's key is not found). Returns the key as
/// it now is and whether this call revoked it (false: it was already revoked or expired).
pub async fn revoke(
    store: &Store,
    clock: &dyn Clock,
    admin: &TenantAdmin,
    key_id: &str,
) -> Result<(PersonalKey, bool), CoreError> {
    let key = personal_key::get(&store.db, clock, admin.tenant(), None, key_id).await?;
    let revoked = personal_key::revoke(store, clock, &key, admin.actor()).await?;
    let key = personal_key::get(&store.db, clock, admin.tenant(), None, key_id).await?;
    Ok((key, revoked))
}
