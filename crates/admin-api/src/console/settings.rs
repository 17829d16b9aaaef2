//! Settings: token lifetimes and re-consent cadence within DESIGN §5's bounds, audit retention
//! (1–7 years), provisioning policy, client policy, security-alert recipients, the admin group;
//! and the tenant's administrators: explicit admins, invitations, inviting another admin.
use actix_web::web;
use app::console::settings::{NewSettings, SettingsPage};
use authz_core::admin::invitation::Invitation;
use authz_core::admin::settings::{self, TenantSettings};
use authz_core::directory::policy::Provisioning;
use minijinja::context;

use super::form::Form;
use actix_web::http::StatusCode;

use super::{
    see_other, when, Admin, AdminWrite, Console, ConsoleError, ConsoleResult, InlineError,
};

#[derive(serde::Deserialize)]
pub struct Saved {
    saved: Option<String>,
}

pub async fn page(Admin(c): Admin, q: web::Query<Saved>) -> ConsoleResult {
    render(&c, None, q.saved.as_deref()).await
}

/// The settings page; a refused form (`refused.field`: "settings" or "email") shown again with
/// its error in place.
async fn render(c: &Console, refused: Option<InlineError>, saved: Option<&str>) -> ConsoleResult {
    let p = app::console::settings::load(&c.st.store.db, &c.principal()).await?;
    let self_id = match &c.principal {
        super::auth::Principal::Admin { user, .. } => Some(user.id.clone()),
        _ => None,
    };
    let ctx = settings_view(p, c.st.clock.now_us());
    let status = refused.as_ref().map_or(StatusCode::OK, |r| r.status);
    Ok(c.render_status(
        status,
        "console/settings.html",
        "settings",
        context! { saved => saved, self_id => self_id, refused => refused, ..ctx },
    ))
}

/// An invitation's state as the admins list shows it.
fn invitation_state(i: &Invitation, now: i64) -> &'static str {
    if i.bound_user_id.is_some() {
        "accepted, admin granted"
    } else if i.revoked_at.is_some() {
        "withdrawn"
    } else if i.accepted_at.is_some() {
        if i.setup_expires_at.is_some_and(|e| e > now) {
            "accepted, setting up"
        } else {
            "accepted, setup expired"
        }
    } else if i.expires_at <= now {
        "expired"
    } else {
        "sent"
    }
}

/// The settings page's template values.
fn settings_view(p: SettingsPage, now: i64) -> minijinja::Value {
    let admins: Vec<_> = p
        .admins
        .iter()
        .map(|(a, u)| {
            context! {
                user_id => a.user_id, email => u.email, name => u.name,
                via => a.granted_via, since => when(a.created_at),
            }
        })
        .collect();
    let invitations: Vec<_> = p
        .invitations
        .iter()
        .map(|i| {
            let open = i.bound_user_id.is_none() && i.revoked_at.is_none();
            context! {
                id => i.id, email => i.email, state => invitation_state(i, now).to_string(),
                sent => when(i.created_at), by => i.created_by, open => open,
            }
        })
        .collect();
    let s = &p.settings;
    context! {
        s => context! {
            routine => s.routine_token_minutes.unwrap_or(settings::ROUTINE_MINUTES.1),
            sensitive => s.sensitive_token_minutes.unwrap_or(settings::SENSITIVE_MINUTES.1),
            reconsent => s.reconsent_days.unwrap_or(settings::RECONSENT_DAYS.1),
            retention => s.audit_retention_years(),
            allowlist => s.allowlist_only(),
            upstream_check => s.upstream_check_minutes.unwrap_or(settings::UPSTREAM_CHECK_DEFAULT_MINUTES),
            reauth_after => s.reauth_after_hours,
            refresh_days => s.refresh_lifetime_days.unwrap_or(settings::REFRESH_LIFETIME_DEFAULT_DAYS),
            api_keys => s.api_keys_enabled(),
            api_key_days => s.api_key_max_days(),
            refresh_grace => s.refresh_grace_secs(),
        },
        bounds => context! {
            routine => settings::ROUTINE_MINUTES, sensitive => settings::SENSITIVE_MINUTES,
            reconsent => settings::RECONSENT_DAYS, retention => settings::RETENTION_YEARS,
            upstream_check => settings::UPSTREAM_CHECK_MINUTES,
            reauth_after => settings::REAUTH_AFTER_HOURS,
            refresh_days => settings::REFRESH_LIFETIME_DAYS,
            api_key_days => settings::API_KEY_MAX_DAYS,
            refresh_grace => settings::REFRESH_GRACE_SECONDS,
        },
        reauth_default => settings::REAUTH_DEFAULT_HOURS,
        provisioning => p.provisioning.as_str(),
        recipients => p.recipients.join("\n"),
        admin_group => p.admin_group,
        admins => admins,
        invitations => invitations,
    }
}

/// The form's lifetimes and cadences. A value equal to DESIGN §5's default is stored as
/// "unset", so the defaults stay defaults.
fn parse_settings(f: &Form) -> Result<TenantSettings, ConsoleError> {
    let unless = |v: Option<i64>, default: i64| v.filter(|v| *v != default);
    Ok(TenantSettings {
        routine_token_minutes: unless(
            f.int("routine_token_minutes", "The routine token lifetime")?,
            settings::ROUTINE_MINUTES.1,
        ),
        sensitive_token_minutes: unless(
            f.int("sensitive_token_minutes", "The sensitive token lifetime")?,
            settings::SENSITIVE_MINUTES.1,
        ),
        reconsent_days: unless(
            f.int("reconsent_days", "The re-consent cadence")?,
            settings::RECONSENT_DAYS.1,
        ),
        audit_retention_years: unless(
            f.int("audit_retention_years", "Audit retention")?,
            settings::RETENTION_YEARS.0,
        ),
        client_policy: f.checked("allowlist").then(|| "allowlist".to_string()),
        upstream_check_minutes: unless(
            f.int(
                "upstream_check_minutes",
                "The identity provider check interval",
            )?,
            settings::UPSTREAM_CHECK_DEFAULT_MINUTES,
        ),
        // Empty: the default, which depends on whether SCIM is connected.
        reauth_after_hours: f.int("reauth_after_hours", "The sign-in cap")?,
        refresh_lifetime_days: unless(
            f.int("refresh_lifetime_days", "The refresh lifetime")?,
            settings::REFRESH_LIFETIME_DEFAULT_DAYS,
        ),
        // Not on the form; the use case keeps the stored value.
        gateway_calls_per_minute: None,
        // Off is the default: stored as unset.
        api_keys_enabled: f.checked("api_keys_enabled").then_some(true),
        api_key_max_days: unless(
            f.int("api_key_max_days", "The personal API key lifetime")?,
            settings::API_KEY_DEFAULT_MAX_DAYS,
        ),
        refresh_grace_seconds: unless(
            f.int("refresh_grace_seconds", "The refresh retry grace")?,
            settings::REFRESH_GRACE_DEFAULT_SECONDS,
        ),
    })
}

/// Every field of the settings form, kept on a refused save.
const SETTINGS_FIELDS: &[&str] = &[
    "routine_token_minutes",
    "sensitive_token_minutes",
    "reconsent_days",
    "allowlist",
    "upstream_check_minutes",
    "reauth_after_hours",
    "refresh_lifetime_days",
    "refresh_grace_seconds",
    "api_keys_enabled",
    "api_key_max_days",
    "provisioning",
    "admin_group",
    "audit_retention_years",
    "alert_recipients",
];

pub async fn save(AdminWrite(c, f): AdminWrite) -> ConsoleResult {
    let new = match new_settings(&f) {
        Ok(new) => {
            app::console::settings::save(&c.st.store, c.st.clock.as_ref(), &c.principal(), new)
                .await
                .map_err(ConsoleError::from)
        }
        Err(e) => Err(e),
    };
    match new {
        Ok(_) => Ok(see_other(c.slug(), "/settings?saved=1")),
        // The admin's input comes back as typed (nothing here is secret).
        Err(e) => {
            render(
                &c,
                Some(InlineError::of(e, "settings", &f, SETTINGS_FIELDS)?),
                None,
            )
            .await
        }
    }
}

fn new_settings<'a>(f: &'a Form) -> Result<NewSettings<'a>, ConsoleError> {
    let new = parse_settings(f)?;
    new.validate()?;
    let provisioning = Provisioning::parse(f.get("provisioning").unwrap_or("jit"))?;
    let recipients: Vec<String> = f
        .get("alert_recipients")
        .unwrap_or_default()
        .split(|ch: char| ch == ',' || ch.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let new = NewSettings {
        settings: new,
        provisioning,
        recipients,
        admin_group: f.get("admin_group"),
    };
    Ok(new)
}

pub async fn invite(AdminWrite(c, f): AdminWrite) -> ConsoleResult {
    let by = app::admin::AdminActor::Admin(c.principal());
    let sent = match f.require("email", "The email address") {
        Ok(email) => app::admin::invite::invite(&c.st.store, c.st.clock.as_ref(), &by, email)
            .await
            .map_err(ConsoleError::from),
        Err(e) => Err(e),
    };
    match sent {
        Ok(_) => Ok(see_other(c.slug(), "/settings?saved=invitation#admins")),
        Err(e) => render(&c, Some(InlineError::of(e, "email", &f, &["email"])?), None).await,
    }
}
