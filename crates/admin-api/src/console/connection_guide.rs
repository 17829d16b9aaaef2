//! Guided connection set-up (issue 16 §3): step 1 choose the IdP and the protocol; step 2 the
//! steps to follow in that IdP's admin console, the values to paste (redirect URI or ACS URL
//! first) and the settings without which sign-in fails; step 3 the credentials form. Only then
//! is a secret asked for.
//!
//! The values contain the connection id, so step 2 allocates one and carries it in its URL:
//! nothing is stored before step 3 succeeds, a reload shows the same id (the values already
//! pasted stay right), an abandoned set-up leaves nothing behind, and creation uses exactly that
//! id (refused when malformed or taken).
use authz_core::connection;
use minijinja::context;
use oidc_federation::Preset;

use super::{Console, ConsoleError, ConsoleResult};

/// The guided flow's query: `idp`, `kind` (oidc, saml), `id` (allocated at step 2), `step`.
#[derive(serde::Deserialize, Default)]
pub struct GuideQuery {
    pub idp: Option<String>,
    pub kind: Option<String>,
    pub id: Option<String>,
    pub step: Option<String>,
}

/// The identity providers the guide knows, as (preset, label).
pub const IDPS: &[(&str, &str)] = &[
    ("entra", "Microsoft Entra ID"),
    ("okta", "Okta"),
    ("google", "Google Workspace"),
    ("generic", "Other provider"),
];

pub fn idp_label(preset: &str) -> &'static str {
    IDPS.iter()
        .find(|(p, _)| *p == preset)
        .map_or("Other provider", |(_, l)| *l)
}

/// The values the IdP admin pastes for a connection of `kind` and `preset` with id `id`: the
/// one function both step 2 (before creation) and the connection's page (after) call, so the
/// two cannot differ.
pub fn setup_values(
    issuer: &str,
    kind: &str,
    preset: &str,
    settings: &serde_json::Value,
    id: &str,
) -> Vec<minijinja::Value> {
    let values = if kind == "saml" {
        saml::sp::setup_values(issuer, id, preset)
    } else {
        Preset::from_stored(preset, settings).setup_values(issuer, id)
    };
    values
        .into_iter()
        .map(|(k, v)| context! { key => k, label => k.replace('_', " "), value => v })
        .collect()
}

/// What the guided flow shows for a query: the choice (step 1), a redirect allocating the id,
/// the instructions (step 2) or the credentials form (step 3).
pub async fn page(c: &Console, q: &GuideQuery) -> ConsoleResult {
    let Some(idp) = q.idp.as_deref() else {
        return Ok(c.render(
            "console/connection_choose.html",
            "connections",
            context! { idps => IDPS.iter().map(|(p, l)| context! { preset => p, label => l }).collect::<Vec<_>>() },
        ));
    };
    if !IDPS.iter().any(|(p, _)| *p == idp) {
        return Err(start_again(
            c,
            "Choose one of the identity providers listed.",
        ));
    }
    let kind = match q.kind.as_deref() {
        Some("saml") => "saml",
        Some("oidc") | None => "oidc",
        Some(_) => return Err(start_again(c, "Choose OIDC or SAML.")),
    };
    let Some(id) = q.id.as_deref() else {
        let id = connection::allocate_id();
        return Ok(super::see_other(
            c.slug(),
            &format!("/connections/new?idp={idp}&kind={kind}&id={id}"),
        ));
    };
    connection::check_allocated_id(id)
        .map_err(|_| start_again(c, "The set-up link is damaged."))?;
    if connection::id_taken(&c.st.store.db, id).await? {
        // Submitted already (back button, reload of an old tab): show what it created.
        return Ok(super::see_other(c.slug(), &format!("/connections#c-{id}")));
    }
    if q.step.as_deref() == Some("3") {
        let guided = Guided { idp, id };
        return Ok(credentials_form(c, kind, Some(guided), &Refill::default()));
    }
    let values = setup_values(&c.st.issuer, kind, idp, &serde_json::json!({}), id);
    Ok(c.render(
        "console/connection_guide.html",
        "connections",
        context! { idp => idp, idp_label => idp_label(idp), kind => kind, id => id, values => values },
    ))
}

fn start_again(c: &Console, message: &str) -> ConsoleError {
    let url = format!("/admin/t/{}/connections/new", c.slug());
    ConsoleError::bad_request(message.to_string()).with_action("Start the set-up again", url)
}

/// A guided step 3: the IdP is chosen and the id allocated (both carried in hidden fields).
#[derive(Clone, Copy)]
pub struct Guided<'a> {
    pub idp: &'a str,
    pub id: &'a str,
}

/// A refused form shown again: what the admin typed (never a secret, never pasted metadata the
/// refusal was about) and the error next to the field it concerns.
#[derive(Default)]
pub struct Refill {
    pub values: Vec<(String, String)>,
    /// The field the error is about ("" when it concerns the whole form), and the message.
    pub error: Option<(&'static str, String)>,
}

/// Fields kept when a form is shown again.
const KEPT: &[&str] = &[
    "name",
    "preset",
    "entra_tenant_id",
    "issuer",
    "client_id",
    "metadata",
    "metadata_url",
    "key_attribute",
    "email_attribute",
    "name_attribute",
    "groups_attribute",
    "allow_idp_initiated",
];

impl Refill {
    pub fn of(f: &super::form::Form, field: &'static str, message: String) -> Refill {
        let values = KEPT
            .iter()
            // Pasted metadata the refusal is about is not echoed (it may be anything).
            .filter(|k| !(**k == "metadata" && field == "metadata"))
            .filter_map(|k| f.get(k).map(|v| (k.to_string(), v.to_string())))
            .collect();
        Refill {
            values,
            error: Some((field, message)),
        }
    }
}

/// The credentials form (step 3, or the one-page form of `?kind=` without an IdP).
pub fn credentials_form(
    c: &Console,
    kind: &str,
    guided: Option<Guided<'_>>,
    refill: &Refill,
) -> actix_web::HttpResponse {
    let form: std::collections::BTreeMap<_, _> = refill.values.iter().cloned().collect();
    let (field, message) = match &refill.error {
        Some((f, m)) => (Some(*f), Some(m.as_str())),
        None => (None, None),
    };
    let status = if message.is_some() {
        actix_web::http::StatusCode::BAD_REQUEST
    } else {
        actix_web::http::StatusCode::OK
    };
    let preset = guided
        .map(|g| g.idp)
        .or(form.get("preset").map(String::as_str))
        .unwrap_or("generic");
    c.render_status(
        status,
        "console/connection_new.html",
        "connections",
        context! {
            kind => kind,
            guided => guided.map(|g| context! { idp => g.idp, id => g.id, idp_label => idp_label(g.idp) }),
            preset => preset,
            form => form,
            error_field => field,
            error => message,
        },
    )
}

/// Answers a refused connection form: a client's mistake (400, 409) is shown next to its field
/// on the form again; anything else (the database away, a fault of ours) is the error page.
pub fn refused_form(
    c: &Console,
    f: &super::form::Form,
    kind: &str,
    field: &'static str,
    err: ConsoleError,
) -> ConsoleResult {
    use actix_web::http::StatusCode;
    match err {
        ConsoleError::Page {
            status, message, ..
        } if status == StatusCode::BAD_REQUEST || status == StatusCode::CONFLICT => {
            let guided = match (f.get("guide_idp"), f.get("id")) {
                (Some(idp), Some(id)) => Some(Guided { idp, id }),
                _ => None,
            };
            let refill = Refill::of(f, field, message);
            Ok(credentials_form(c, kind, guided, &refill))
        }
        other => Err(other),
    }
}
