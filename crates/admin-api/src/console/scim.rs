//! SCIM: the tenant's provisioning endpoint and its bearer tokens (created, rotated with an
//! overlap, revoked; a secret is shown once), when the IdP last synced, and the IdP's recent
//! failed requests (`scim.request_failed` in the audit log).
use actix_web::web;
use authz_core::audit::search::{search, AuditQuery};
use authz_core::scim_token;
use minijinja::context;

use super::{see_other, when, Admin, AdminWrite, Console, ConsoleError, ConsoleResult};

pub async fn page(Admin(c): Admin) -> ConsoleResult {
    let db = &c.st.store.db;
    let now = c.st.clock.now_us();
    let tokens = scim_token::list(db, &c.tenant.id).await?;
    let last_sync = tokens.iter().filter_map(|t| t.last_used_at).max();
    let views: Vec<_> = tokens
        .iter()
        .map(|t| {
            let status = if t.revoked_at.is_some() {
                "revoked"
            } else if t.expires_at <= now {
                "expired"
            } else {
                "active"
            };
            context! {
                id => t.id, name => t.name, status => status,
                created => when(t.created_at), expires => when(t.expires_at),
                last_used => t.last_used_at.map(when),
            }
        })
        .collect();
    let errors: Vec<_> = search(
        db,
        &c.tenant.id,
        &AuditQuery {
            action_prefix: Some("scim.request_failed".into()),
            limit: 20,
            ..Default::default()
        },
    )
    .await?
    .into_iter()
    .map(|e| {
        let d: serde_json::Value = serde_json::from_str(&e.details).unwrap_or_default();
        context! {
            id => e.id, at => when(e.occurred_at),
            method => d["method"].as_str().unwrap_or_default().to_string(),
            path => d["path"].as_str().unwrap_or_default().to_string(),
            status => d["status"].as_u64(),
            detail => d["detail"].as_str().unwrap_or_default().to_string(),
        }
    })
    .collect();
    let recent_changes = search(
        db,
        &c.tenant.id,
        &AuditQuery {
            action_prefix: Some("scim.".into()),
            result: Some("success".into()),
            limit: 1,
            ..Default::default()
        },
    )
    .await?
    .into_iter()
    .next()
    .map(|e| context! { at => when(e.occurred_at), action => e.action });
    Ok(c.render(
        "console/scim.html",
        "scim",
        context! {
            base_url => format!("{}/scim/v2/{}", c.st.issuer, c.tenant.slug),
            tokens => views,
            last_sync => last_sync.map(when),
            last_change => recent_changes,
            errors => errors,
        },
    ))
}

fn days(f: &super::form::Form) -> Result<i64, ConsoleError> {
    let d = f.int("expires_in_days", "The lifetime")?.unwrap_or(180);
    if !(1..=366).contains(&d) {
        return Err(ConsoleError::bad_request(
            "The lifetime must be between 1 and 366 days.",
        ));
    }
    Ok(d)
}

fn show_secret(c: &Console, name: &str, secret: &str, note: &str) -> actix_web::HttpResponse {
    c.render(
        "console/secret.html",
        "scim",
        context! {
            title => format!("SCIM token “{name}”"),
            secret => secret,
            note => note,
            base_url => format!("{}/scim/v2/{}", c.st.issuer, c.tenant.slug),
            back => format!("/admin/t/{}/scim", c.tenant.slug),
        },
    )
}

pub async fn create(AdminWrite(c, f): AdminWrite) -> ConsoleResult {
    let name = f.require("name", "A name")?;
    let (tok, secret) = scim_token::create_by(
        &c.st.store,
        c.st.clock.as_ref(),
        &c.tenant.id,
        name,
        days(&f)? * 86_400,
        &c.actor(),
    )
    .await?;
    Ok(show_secret(
        &c,
        &tok.name,
        &secret,
        "Paste it into your identity provider's provisioning settings now: it is shown only once.",
    ))
}

pub async fn rotate(
    AdminWrite(c, f): AdminWrite,
    path: web::Path<(String, String)>,
) -> ConsoleResult {
    let overlap_hours = f.int("overlap_hours", "The overlap")?.unwrap_or(24);
    if !(0..=720).contains(&overlap_hours) {
        return Err(ConsoleError::bad_request(
            "The overlap must be between 0 and 720 hours.",
        ));
    }
    let (tok, secret) = scim_token::rotate_by(
        &c.st.store,
        c.st.clock.as_ref(),
        &c.tenant.id,
        &path.1,
        overlap_hours * 3600,
        days(&f)? * 86_400,
        &c.actor(),
    )
    .await?;
    Ok(show_secret(
        &c,
        &tok.name,
        &secret,
        &format!("The old token keeps working for {overlap_hours} more hour(s). Replace it in your identity provider before then."),
    ))
}

pub async fn revoke(
    AdminWrite(c, _f): AdminWrite,
    path: web::Path<(String, String)>,
) -> ConsoleResult {
    scim_token::revoke_by(
        &c.st.store,
        c.st.clock.as_ref(),
        &c.tenant.id,
        &path.1,
        &c.actor(),
    )
    .await?;
    Ok(see_other(c.slug(), "/scim"))
}
