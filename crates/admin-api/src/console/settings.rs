//! Settings: token lifetimes and re-consent cadence within DESIGN §5's bounds, audit retention
//! (1–7 years), provisioning policy, client policy, security-alert recipients, the admin group;
//! and the tenant's administrators: explicit admins, invitations, inviting another admin.
use actix_web::web;
use authz_core::admin::settings::{self, TenantSettings};
use authz_core::admin::{invitation, role};
use authz_core::directory::policy::{self, Provisioning};
use authz_core::{mail, user};
use minijinja::context;

use super::{see_other, when, Admin, AdminWrite, ConsoleError, ConsoleResult};

#[derive(serde::Deserialize)]
pub struct Saved {
    saved: Option<String>,
}

pub async fn page(Admin(c): Admin, q: web::Query<Saved>) -> ConsoleResult {
    let db = &c.st.store.db;
    let t = &c.tenant.id;
    let s = settings::get(db, t).await?;
    let mut admins = Vec::new();
    for a in role::list(db, t).await? {
        let u = user::get(db, t, &a.user_id).await?;
        admins.push(context! {
            user_id => a.user_id, email => u.email, name => u.name,
            via => a.granted_via, since => when(a.created_at),
        });
    }
    let now = c.st.clock.now_us();
    let invitations: Vec<_> = invitation::list(db, t)
        .await?
        .into_iter()
        .map(|i| {
            let state = if i.bound_user_id.is_some() {
                "accepted, admin granted".to_string()
            } else if i.revoked_at.is_some() {
                "withdrawn".to_string()
            } else if i.accepted_at.is_some() {
                if i.setup_expires_at.is_some_and(|e| e > now) {
                    "accepted, setting up".to_string()
                } else {
                    "accepted, setup expired".to_string()
                }
            } else if i.expires_at <= now {
                "expired".to_string()
            } else {
                "sent".to_string()
            };
            let open = i.bound_user_id.is_none() && i.revoked_at.is_none();
            context! {
                id => i.id, email => i.email, state => state, sent => when(i.created_at),
                by => i.created_by, open => open,
            }
        })
        .collect();
    Ok(c.render(
        "console/settings.html",
        "settings",
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
            },
            bounds => context! {
                routine => settings::ROUTINE_MINUTES, sensitive => settings::SENSITIVE_MINUTES,
                reconsent => settings::RECONSENT_DAYS, retention => settings::RETENTION_YEARS,
                upstream_check => settings::UPSTREAM_CHECK_MINUTES,
                reauth_after => settings::REAUTH_AFTER_HOURS,
                refresh_days => settings::REFRESH_LIFETIME_DAYS,
            },
            reauth_default => settings::REAUTH_DEFAULT_HOURS,
            provisioning => policy::get(db, t).await?.as_str(),
            recipients => mail::alert_recipients(db, t).await?.join("\n"),
            admin_group => role::admin_group(db, t).await?,
            admins => admins,
            invitations => invitations,
            saved => q.saved.is_some(),
            self_id => match &c.principal { super::auth::Principal::Admin { user, .. } => Some(user.id.clone()), _ => None },
        },
    ))
}

pub async fn save(AdminWrite(c, f): AdminWrite) -> ConsoleResult {
    let db = &c.st.store.db;
    let t = &c.tenant.id;
    let clock = c.st.clock.as_ref();
    let actor = c.actor();
    // A value equal to DESIGN §5's default is stored as "unset", so the defaults stay defaults.
    let unless = |v: Option<i64>, default: i64| v.filter(|v| *v != default);
    let new = TenantSettings {
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
    };
    new.validate()?;
    let provisioning = Provisioning::parse(f.get("provisioning").unwrap_or("jit"))?;
    let recipients: Vec<String> = f
        .get("alert_recipients")
        .unwrap_or_default()
        .split(|ch: char| ch == ',' || ch.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let admin_group = f.get("admin_group");
    // Validate everything before writing anything: a bad field changes nothing at all.
    let recipients = mail::validate_recipients(&recipients)?;
    if admin_group.is_some_and(|g| g.len() > 256) {
        return Err(ConsoleError::bad_request(
            "The admin group name is too long.",
        ));
    }
    // Each change is its own audited record.
    if settings::get(db, t).await? != new {
        settings::set(&c.st.store, clock, t, &new, &actor).await?;
    }
    if policy::get(db, t).await? != provisioning {
        policy::set(&c.st.store, clock, t, provisioning, &actor).await?;
    }
    if mail::alert_recipients(db, t).await? != recipients {
        mail::set_alert_recipients(&c.st.store, clock, t, &recipients, &actor).await?;
    }
    if role::admin_group(db, t).await?.as_deref() != admin_group {
        role::set_admin_group(&c.st.store, clock, t, admin_group, &actor).await?;
    }
    Ok(see_other(c.slug(), "/settings?saved=1"))
}

pub async fn invite(AdminWrite(c, f): AdminWrite) -> ConsoleResult {
    invitation::create(
        &c.st.store,
        c.st.clock.as_ref(),
        &c.tenant.id,
        f.require("email", "The email address")?,
        &c.actor(),
    )
    .await?;
    Ok(see_other(c.slug(), "/settings#admins"))
}

pub async fn remove_admin(
    AdminWrite(c, _f): AdminWrite,
    path: web::Path<(String, String)>,
) -> ConsoleResult {
    if let super::auth::Principal::Admin { user, .. } = &c.principal {
        if user.id == path.1 {
            return Err(ConsoleError::bad_request(
                "You cannot remove yourself; ask another administrator.",
            ));
        }
    }
    if !role::revoke(
        &c.st.store,
        c.st.clock.as_ref(),
        &c.tenant.id,
        &path.1,
        &c.actor(),
    )
    .await?
    {
        return Err(ConsoleError::not_found("administrator"));
    }
    Ok(see_other(c.slug(), "/settings#admins"))
}

pub async fn revoke_invitation(
    AdminWrite(c, _f): AdminWrite,
    path: web::Path<(String, String)>,
) -> ConsoleResult {
    invitation::revoke(
        &c.st.store,
        c.st.clock.as_ref(),
        &c.tenant.id,
        &path.1,
        &c.actor(),
    )
    .await?;
    Ok(see_other(c.slug(), "/settings#admins"))
}
