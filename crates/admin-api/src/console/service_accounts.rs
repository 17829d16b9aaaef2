//! Service accounts (issue 14 §3): the tenant's machine clients of the `client_credentials`
//! grant. List and create (a generated secret is shown once), show, rotate the secret with an
//! overlap, replace `private_key_jwt` keys, change the granted scopes, disable/enable, remove.
//! The changes, their audit records and the revocations they imply are
//! `authz_core::service_account`'s.
use actix_web::web;
use authz_core::service_account::{self as sa, Keys, Method, NewAccount, ServiceAccount};
use minijinja::context;

use super::form::Form;
use super::objects;
use super::{
    see_other, when, Admin, AdminWrite, Console, ConsoleError, ConsoleResult, InlineError,
};

const SECTION: &str = "service-accounts";

fn view(a: &ServiceAccount) -> minijinja::Value {
    let grants: Vec<_> = a
        .grants
        .iter()
        .map(|(r, s)| context! { resource => r, scopes => s })
        .collect();
    context! {
        id => a.id, name => a.name, client_id => a.client_id, method => a.method.as_str(),
        enabled => a.enabled(), grants => grants, jwks_uri => a.jwks_uri,
        jwks => a.jwks.as_ref().map(|j| serde_json::to_string_pretty(j).unwrap_or_default()),
        previous_until => a.previous_secret_until.map(when),
        created => when(a.created_at), last_used => a.last_used_at.map(when),
    }
}

/// One line per resource: `<resource URI or id> <scope> <scope> …`.
fn grants(f: &Form) -> Result<Vec<(String, Vec<String>)>, ConsoleError> {
    let text = f.require("grants", "The granted scopes")?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let res = parts.next()?.to_string();
            Some((res, parts.map(str::to_string).collect()))
        })
        .collect())
}

/// The resources and their grantable (not critical) scopes, for the form's hint.
async fn catalogue(c: &Console) -> Result<Vec<minijinja::Value>, ConsoleError> {
    let db = &c.st.store.db;
    let mut out = Vec::new();
    for r in authz_core::resource::list(db).await? {
        let scopes: Vec<String> = authz_core::resource::catalogue(db, &r.id)
            .await?
            .into_iter()
            .filter(|s| s.tier != authz_core::scope::Tier::Critical)
            .map(|s| s.name)
            .collect();
        out.push(context! { uri => r.uri, name => r.display_name, scopes => scopes });
    }
    Ok(out)
}

pub async fn list(Admin(c): Admin) -> ConsoleResult {
    render_list(&c, None).await
}

/// The list, with a refused "Create a service account" form shown again when `refused`.
async fn render_list(c: &Console, refused: Option<InlineError>) -> ConsoleResult {
    let all = sa::list(&c.st.store.db, &c.tenant.id).await?;
    let accounts: Vec<_> = all.iter().map(view).collect();
    let resources = catalogue(c).await?;
    let status = refused
        .as_ref()
        .map_or(actix_web::http::StatusCode::OK, |r| r.status);
    Ok(c.render_status(
        status,
        "console/service_accounts.html",
        SECTION,
        context! { accounts => accounts, resources => resources, refused => refused },
    ))
}

/// A create form's fields as checked values, or the field at fault.
fn new_account<'a>(
    f: &'a Form,
    g: &'a mut Vec<(String, Vec<String>)>,
) -> Result<NewAccount<'a>, Box<(&'static str, ConsoleError)>> {
    let at = |field: &'static str| move |e: ConsoleError| Box::new((field, e));
    let name = f.require("name", "A name").map_err(at("name"))?;
    let method = Method::parse(f.get("auth_method").unwrap_or("client_secret_basic"))
        .map_err(|e| at("")(e.into()))?;
    let keys = match (method, f.get("keys")) {
        (Method::PrivateKeyJwt, Some(k)) => Some(Keys::parse(k).map_err(|e| at("keys")(e.into()))?),
        _ => None,
    };
    *g = grants(f).map_err(at("grants"))?;
    Ok(NewAccount {
        name,
        grants: g,
        method,
        keys,
    })
}

fn show_secret(
    c: &Console,
    a: &ServiceAccount,
    secret: &str,
    note: &str,
) -> actix_web::HttpResponse {
    c.render(
        "console/service_account_secret.html",
        SECTION,
        context! {
            a => view(a), secret => secret, note => note,
            token_endpoint => format!("{}/oauth/token", c.st.issuer),
        },
    )
}

pub async fn create(AdminWrite(c, f): AdminWrite) -> ConsoleResult {
    const KEEP: &[&str] = &["name", "grants", "auth_method", "keys"];
    let mut g = Vec::new();
    let created = match new_account(&f, &mut g) {
        Ok(new) => sa::create(
            &c.st.store,
            c.st.clock.as_ref(),
            &c.tenant.id,
            new,
            &c.actor(),
        )
        .await
        .map_err(|e| ("", e.into())),
        Err(refused) => Err(*refused),
    };
    let created = match created {
        Ok(x) => x,
        Err((field, e)) => {
            return render_list(&c, Some(InlineError::of(e, field, &f, KEEP)?)).await
        }
    };
    match created.secret {
        Some(s) => Ok(show_secret(
            &c,
            &created.account,
            &s,
            "Give this secret to the service now: it is shown only once.",
        )),
        None => Ok(see_other(
            c.slug(),
            &format!("/service-accounts/{}", created.account.id),
        )),
    }
}

pub async fn show(Admin(c): Admin, path: web::Path<(String, String)>) -> ConsoleResult {
    let a = sa::get(&c.st.store.db, &c.tenant.id, &path.1).await?;
    // Grants are stored by resource id; the form shows (and accepts) the app's URL.
    let resources = authz_core::resource::list(&c.st.store.db).await?;
    let uri = |id: &str| {
        resources
            .iter()
            .find(|r| r.id == id)
            .map_or_else(|| id.to_string(), |r| r.uri.clone())
    };
    let lines: Vec<String> = a
        .grants
        .iter()
        .map(|(r, s)| format!("{} {}", uri(r), s.join(" ")))
        .collect();
    Ok(c.render(
        "console/service_account.html",
        SECTION,
        context! {
            a => view(&a), grants_text => lines.join("\n"),
            token_endpoint => format!("{}/oauth/token", c.st.issuer),
        },
    ))
}

pub async fn rotate(
    AdminWrite(c, f): AdminWrite,
    path: web::Path<(String, String)>,
) -> ConsoleResult {
    let hours = f.int("overlap_hours", "The overlap")?.unwrap_or(1);
    if !(0..=168).contains(&hours) {
        return Err(ConsoleError::bad_request(
            "The overlap must be between 0 and 168 hours.",
        ));
    }
    let r = sa::rotate_secret(
        &c.st.store,
        c.st.clock.as_ref(),
        &c.tenant.id,
        &path.1,
        hours * 3600,
        &c.actor(),
    )
    .await?;
    let note = if hours == 0 {
        "The old secret stopped working now. Give this one to the service: it is shown only once."
            .to_string()
    } else {
        format!("The old secret keeps working for {hours} more hour(s). Give this one to the service before then: it is shown only once.")
    };
    Ok(show_secret(&c, &r.account, &r.secret, &note))
}

pub async fn set_keys(
    AdminWrite(c, f): AdminWrite,
    path: web::Path<(String, String)>,
) -> ConsoleResult {
    let keys = Keys::parse(f.require("keys", "A JWK Set or a jwks_uri")?)?;
    sa::set_keys(
        &c.st.store,
        c.st.clock.as_ref(),
        &c.tenant.id,
        &path.1,
        keys,
        &c.actor(),
    )
    .await?;
    Ok(see_other(
        c.slug(),
        &format!("/service-accounts/{}", path.1),
    ))
}

pub async fn set_grants(
    AdminWrite(c, f): AdminWrite,
    path: web::Path<(String, String)>,
) -> ConsoleResult {
    let g = grants(&f)?;
    sa::set_grants(
        &c.st.store,
        c.st.clock.as_ref(),
        &c.tenant.id,
        &path.1,
        &g,
        &c.actor(),
    )
    .await?;
    Ok(see_other(
        c.slug(),
        &format!("/service-accounts/{}", path.1),
    ))
}

pub async fn set_state(
    AdminWrite(c, f): AdminWrite,
    path: web::Path<(String, String)>,
) -> ConsoleResult {
    let enabled = f.get("state") == Some("enabled");
    sa::set_enabled(
        &c.st.store,
        c.st.clock.as_ref(),
        &c.tenant.id,
        &path.1,
        enabled,
        &c.actor(),
    )
    .await?;
    Ok(see_other(
        c.slug(),
        &format!("/service-accounts/{}", path.1),
    ))
}

async fn remove_run(c: &Console, id: &str, dry: bool) -> ConsoleResult {
    let (store, clock) = (&c.st.store, c.st.clock.as_ref());
    let r = app::manage::service_account::remove(store, clock, &c.tenant.id, id, &c.actor(), dry)
        .await?;
    let ask = objects::Ask {
        nav: SECTION,
        what: "service account",
        name: r.removed.name.clone(),
        action: format!("/service-accounts/{id}/remove"),
        back: "/service-accounts",
    };
    Ok(objects::removal(c, &r, dry, ask))
}

/// The confirmation page (a preview: nothing is revoked).
pub async fn confirm_remove(Admin(c): Admin, path: web::Path<(String, String)>) -> ConsoleResult {
    remove_run(&c, &path.1, true).await
}

/// Removes the account once confirmed, revoking its tokens; without `confirm=yes`, asks.
pub async fn remove(
    AdminWrite(c, f): AdminWrite,
    path: web::Path<(String, String)>,
) -> ConsoleResult {
    remove_run(&c, &path.1, !objects::confirmed(&f)).await
}
