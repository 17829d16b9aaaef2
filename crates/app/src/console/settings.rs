//! The settings page: token lifetimes and re-consent cadence (DESIGN §5), audit retention,
//! provisioning policy, security-alert recipients, the admin group; the explicit admins and the
//! invitations. Saving writes only what changed, each change its own audited record.
use authz_core::admin::invitation::{self, Invitation};
use authz_core::admin::role::{self, ExplicitAdmin};
use authz_core::admin::settings::{self, TenantSettings};
use authz_core::clock::Clock;
use authz_core::directory::policy::{self, Provisioning};
use authz_core::user::{self, User};
use authz_core::{mail, CoreError, CoreResult, Store};
use sea_orm::DatabaseConnection;

use crate::principal::TenantAdmin;

pub struct SettingsPage {
    pub settings: TenantSettings,
    /// Each explicit admin with their user.
    pub admins: Vec<(ExplicitAdmin, User)>,
    pub invitations: Vec<Invitation>,
    pub provisioning: Provisioning,
    pub recipients: Vec<String>,
    pub admin_group: Option<String>,
}

pub async fn load(db: &DatabaseConnection, admin: &TenantAdmin) -> CoreResult<SettingsPage> {
    let t = admin.tenant();
    let settings = settings::get(db, t).await?;
    let mut admins = Vec::new();
    for a in role::list(db, t).await? {
        let u = user::get(db, t, &a.user_id).await?;
        admins.push((a, u));
    }
    Ok(SettingsPage {
        settings,
        admins,
        invitations: invitation::list(db, t).await?,
        provisioning: policy::get(db, t).await?,
        recipients: mail::alert_recipients(db, t).await?,
        admin_group: role::admin_group(db, t).await?,
    })
}

/// The settings form, parsed (values equal to a default already stored as unset).
pub struct NewSettings<'a> {
    pub settings: TenantSettings,
    pub provisioning: Provisioning,
    pub recipients: Vec<String>,
    pub admin_group: Option<&'a str>,
}

/// Saves the settings. Everything is validated before anything is written: a bad field
/// changes nothing at all.
pub async fn save(
    store: &Store,
    clock: &dyn Clock,
    admin: &TenantAdmin,
    new: NewSettings<'_>,
) -> CoreResult<()> {
    let (db, t, actor) = (&store.db, admin.tenant(), admin.actor());
    let recipients = mail::validate_recipients(&new.recipients)?;
    if new.admin_group.is_some_and(|g| g.len() > 256) {
        return Err(CoreError::invalid("The admin group name is too long."));
    }
    let stored = settings::get(db, t).await?;
    // The form has no gateway limits (set through the admin API): they are kept.
    let mut wanted = new.settings;
    wanted.gateway_calls_per_minute = stored.gateway_calls_per_minute.clone();
    if stored != wanted {
        settings::set(store, clock, t, &wanted, actor).await?;
    }
    if policy::get(db, t).await? != new.provisioning {
        policy::set(store, clock, t, new.provisioning, actor).await?;
    }
    if mail::alert_recipients(db, t).await? != recipients {
        mail::set_alert_recipients(store, clock, t, &recipients, actor).await?;
    }
    if role::admin_group(db, t).await?.as_deref() != new.admin_group {
        role::set_admin_group(store, clock, t, new.admin_group, actor).await?;
    }
    Ok(())
}
