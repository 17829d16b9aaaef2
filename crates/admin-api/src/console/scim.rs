//! SCIM: the tenant's provisioning endpoint and its bearer tokens (created, rotated with an
//! overlap, revoked; a secret is shown once), when the IdP last synced, and the IdP's recent
//! failed requests (`scim.request_failed` in the audit log).
use actix_web::web;
use app::console::scim::ScimPage;
use authz_core::scim_token;
use minijinja::context;

use super::{when, Admin, AdminWrite, Console, ConsoleError, ConsoleResult, InlineError};

pub async fn page(Admin(c): Admin) -> ConsoleResult {
    render(&c, None).await
}

/// The SCIM page, with a refused "Create a token" form shown again when `refused`.
async fn render(c: &Console, refused: Option<InlineError>) -> ConsoleResult {
    let p = app::console::scim::load(&c.st.store.db, &c.principal()).await?;
    let base_url = format!("{}/scim/v2/{}", c.st.issuer, c.tenant.slug);
    let ctx = scim_view(p, c.st.clock.now_us());
    let status = refused
        .as_ref()
        .map_or(actix_web::http::StatusCode::OK, |r| r.status);
    Ok(c.render_status(
        status,
        "console/scim.html",
        "scim",
        context! { base_url => base_url, refused => refused, ..ctx },
    ))
}

/// The SCIM page's template values.
fn scim_view(p: ScimPage, now: i64) -> minijinja::Value {
    let last_sync = p.tokens.iter().filter_map(|t| t.last_used_at).max();
    let views: Vec<_> = p
        .tokens
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
    let errors: Vec<_> = p
        .errors
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
    context! {
        tokens => views,
        last_sync => last_sync.map(when),
        last_change => p.last_change.map(|e| context! { at => when(e.occurred_at), action => e.action }),
        errors => errors,
    }
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
    const KEEP: &[&str] = &["name", "expires_in_days"];
    let input = match (f.require("name", "A name"), days(&f)) {
        (Ok(name), Ok(days)) => Ok((name, days)),
        (Err(e), _) => Err(("name", e)),
        (_, Err(e)) => Err(("expires_in_days", e)),
    };
    let (name, days) = match input {
        Ok(x) => x,
        Err((field, e)) => return render(&c, Some(InlineError::of(e, field, &f, KEEP)?)).await,
    };
    let by = c.actor();
    let (tok, secret) = scim_token::create_by(
        &c.st.store,
        c.st.clock.as_ref(),
        &c.tenant.id,
        name,
        days * 86_400,
        &by,
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
