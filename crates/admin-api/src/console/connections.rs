//! Connections: the tenant's IdPs. Add an OIDC connection (preset, issuer, client credentials:
//! discovery is fetched and checked before anything is stored) or a SAML one (metadata pasted
//! or fetched: a signing certificate is required, the SP key pair is generated); see the values
//! to paste into the IdP; test a sign-in; enable or disable; edit the name, the OIDC client
//! secret or the SAML metadata (certificate rotation); accept an OIDC IdP's ID-JAGs (ADR 0014).
use actix_web::web;
use app::connection::{add, edit, enable, ConnectionError, Metadata};
use authz_core::connection::{self, Connection};
use minijinja::context;
use oidc_federation::Preset;
use saml::{IdpMetadata, SamlSettings};

use super::{
    see_other, when, Admin, AdminWrite, Console, ConsoleError, ConsoleResult, SetupOrAdmin,
    SetupOrAdminWrite,
};

/// The values the IdP admin pastes, for one connection.
fn setup_values(c: &Console, conn: &Connection) -> Vec<minijinja::Value> {
    let base = &c.st.issuer;
    let values = if conn.kind == "saml" {
        saml::sp::setup_values(base, &conn.id, &conn.preset)
    } else if conn.is_development() {
        // Its users come from the operator's file: nothing to paste anywhere (ADR 0017).
        vec![]
    } else {
        Preset::from_stored(&conn.preset, &conn.settings).setup_values(base, &conn.id)
    };
    values
        .into_iter()
        .map(|(k, v)| context! { label => k.replace('_', " "), value => v })
        .collect()
}

fn view(c: &Console, conn: &Connection, pending: Option<&str>) -> minijinja::Value {
    // Pending: added in a setup session, serving only that invitee until an admin enables it.
    context! {
        id => conn.id,
        name => conn.name,
        kind => conn.kind,
        development => conn.is_development(),
        preset => conn.preset,
        issuer => conn.issuer,
        enabled => conn.enabled,
        pending => pending.is_some() && !conn.enabled,
        values => setup_values(c, conn),
    }
}

pub async fn list(SetupOrAdmin(c): SetupOrAdmin) -> ConsoleResult {
    let db = &c.st.store.db;
    let conns = connection::list(db, &c.tenant.id).await?;
    let pending = connection::setup_invitations(db, &c.tenant.id).await?;
    let views: Vec<_> = conns
        .iter()
        .map(|x| view(&c, x, pending.get(&x.id).map(String::as_str)))
        .collect();
    Ok(c.render(
        "console/connections.html",
        "connections",
        context! { connections => views },
    ))
}

#[derive(serde::Deserialize)]
pub struct NewQuery {
    kind: Option<String>,
}

pub async fn new_form(SetupOrAdmin(c): SetupOrAdmin, q: web::Query<NewQuery>) -> ConsoleResult {
    let kind = match q.kind.as_deref() {
        Some("saml") => "saml",
        _ => "oidc",
    };
    Ok(c.render(
        "console/connection_new.html",
        "connections",
        context! { kind => kind },
    ))
}

fn invalid(e: impl std::fmt::Display) -> ConsoleError {
    ConsoleError::bad_request(e.to_string())
}

/// A URL typed in the console gave no usable document. The page names the step that failed,
/// never what the server answered, what its name resolved to or whether a port was open
/// (review F3); the detail is logged for the operator under `code`.
fn refused_url(
    c: &Console,
    code: &'static str,
    detail: &dyn std::fmt::Display,
    says: &str,
) -> ConsoleError {
    let detail: String = detail.to_string().chars().take(300).collect();
    tracing::warn!(code, tenant = %c.tenant.id.as_str(), error = %detail, "console URL refused");
    ConsoleError::bad_request(says.to_string())
}

fn discovery_refused(c: &Console, e: oidc_federation::FederationError) -> ConsoleError {
    use oidc_federation::FederationError as F;
    match &e {
        F::Discovery { failure, .. } => {
            let says = format!("Nothing was added: {}.", failure.category());
            refused_url(c, "CONSOLE0102", &e, &says)
        }
        // Made from what the admin typed (or fixed text), never from a fetched answer.
        F::BadIssuer(_) | F::MultiTenantIssuer(_) => invalid(e),
        _ => refused_url(
            c,
            "CONSOLE0102",
            &e,
            "Nothing was added: the discovery document is invalid.",
        ),
    }
}

/// The IdP metadata a form gives: pasted, or a URL fetched through the public SSRF-guarded
/// fetcher (the URL was typed by a tenant admin, not the operator).
fn metadata_source<'a>(c: &'a Console, f: &'a super::form::Form) -> Option<Metadata<'a>> {
    if let Some(xml) = f.get("metadata") {
        return Some(Metadata::Xml(xml.to_string()));
    }
    f.get("metadata_url").map(|url| Metadata::Url {
        url,
        fetcher: &c.st.public_fetcher,
    })
}

/// A refused set-up, as the console words it: a fetched document is refused by category only
/// (parsers and fetch errors quote the input or the answer).
fn refused(c: &Console, e: ConnectionError) -> ConsoleError {
    match e {
        ConnectionError::NotFound => ConsoleError::not_found("connection"),
        ConnectionError::IssuerUrl(e) => invalid(e),
        ConnectionError::Discovery(e) => discovery_refused(c, e),
        ConnectionError::MetadataFetch(e) => {
            let says = format!(
                "The metadata URL was refused: {}. It must be a public https address.",
                oidc_federation::fetch_error_text(&e)
            );
            refused_url(c, "CONSOLE0101", &e, &says)
        }
        ConnectionError::MetadataNotUtf8(_) => {
            ConsoleError::bad_request("The document is not SAML IdP metadata.")
        }
        // Fixed text, and the reason an admin must act on.
        ConnectionError::Metadata(e @ (saml::SamlError::NoSigningCert | saml::SamlError::Dtd)) => {
            invalid(e)
        }
        ConnectionError::Metadata(other) => refused_url(
            c,
            "CONSOLE0103",
            &other,
            "The document is not SAML IdP metadata (an EntityDescriptor with an IDPSSODescriptor, an HTTP-Redirect SingleSignOnService and a signing certificate).",
        ),
        ConnectionError::KeyGeneration(e) => {
            authz_core::CoreError::Config(format!("SP key generation: {e}")).into()
        }
        ConnectionError::Core(e) => e.into(),
    }
}

pub async fn create_oidc(SetupOrAdminWrite(c, f): SetupOrAdminWrite) -> ConsoleResult {
    let preset = Preset::parse(
        f.get("preset").unwrap_or("generic"),
        f.get("entra_tenant_id"),
    )
    .map_err(invalid)?;
    let issuer = match (f.get("issuer"), preset.default_issuer()) {
        (Some(i), _) => i.trim_end_matches('/').to_string(),
        (None, Some(d)) => d,
        (None, None) => return Err(ConsoleError::bad_request("The issuer URL is required.")),
    };
    let new = add::NewOidc {
        name: f.get("name").unwrap_or("OIDC"),
        preset: &preset,
        issuer: &issuer,
        client_id: f.require("client_id", "The client ID")?,
        client_secret: f.require("client_secret", "The client secret")?,
        fetcher: &c.st.public_fetcher,
    };
    let conn = add::oidc(c.deps(), &c.connection_actor(), new)
        .await
        .map_err(|e| refused(&c, e))?;
    Ok(see_other(c.slug(), &format!("/connections#c-{}", conn.id)))
}

pub async fn create_saml(SetupOrAdminWrite(c, f): SetupOrAdminWrite) -> ConsoleResult {
    let preset = f.get("preset").unwrap_or("generic");
    let attr = |name: &str| f.get(name).map(str::to_string);
    let mapping = add::saml_mapping(
        preset,
        attr("key_attribute"),
        attr("email_attribute"),
        attr("name_attribute"),
        attr("groups_attribute"),
    )
    .map_err(invalid)?;
    let Some(metadata) = metadata_source(&c, &f) else {
        return Err(ConsoleError::bad_request(
            "Paste the IdP metadata XML or give its URL.",
        ));
    };
    let new = add::NewSaml {
        name: f.get("name").unwrap_or("SAML"),
        preset,
        mapping,
        metadata,
        skew_secs: 180,
        allow_idp_initiated: f.checked("allow_idp_initiated"),
    };
    let added = add::saml(c.deps(), &c.connection_actor(), new)
        .await
        .map_err(|e| refused(&c, e))?;
    Ok(see_other(
        c.slug(),
        &format!("/connections#c-{}", added.connection.id),
    ))
}

async fn load(c: &Console, id: &str) -> Result<Connection, ConsoleError> {
    connection::get(&c.st.store.db, &c.tenant.id, id)
        .await
        .map_err(|e| e.unless_unavailable(ConsoleError::not_found("connection")))
}

pub async fn edit_form(Admin(c): Admin, path: web::Path<(String, String)>) -> ConsoleResult {
    let conn = load(&c, &path.1).await?;
    let saml_info = if conn.kind == "saml" {
        let s: Option<SamlSettings> = serde_json::from_value(conn.settings.clone()).ok();
        s.and_then(|s| IdpMetadata::parse(&s.idp_metadata).ok())
            .map(|m| {
                context! {
                    entity_id => m.entity_id,
                    certificates => m.signing_certs.len(),
                }
            })
    } else {
        None
    };
    let last = last_sign_in(&c, &conn.id).await?;
    let pending = connection::setup_invitation(&c.st.store.db, &c.tenant.id, &conn.id).await?;
    let id_jag = (conn.kind == "oidc").then(|| {
        let s = authz_core::id_jag::IdJagSettings::of(&conn);
        context! { enabled => s.enabled, clients => s.clients.join("\n") }
    });
    Ok(c.render(
        "console/connection_edit.html",
        "connections",
        context! { conn => view(&c, &conn, pending.as_deref()), saml => saml_info, last_sign_in => last, id_jag => id_jag },
    ))
}

/// Enterprise-managed authorization (ADR 0014): accept the IdP's ID-JAGs, from the clients
/// listed (one client id per line, or separated by spaces or commas).
pub async fn set_id_jag(
    AdminWrite(c, f): AdminWrite,
    path: web::Path<(String, String)>,
) -> ConsoleResult {
    let clients: Vec<String> = f
        .get("clients")
        .unwrap_or("")
        .split(|ch: char| ch.is_whitespace() || ch == ',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let change = app::connection::id_jag::IdJagChange {
        enabled: Some(f.checked("enabled")),
        clients: Some(clients),
    };
    let by = c.connection_actor();
    app::connection::id_jag::set(&c.st.store, c.st.clock.as_ref(), &by, &path.1, change).await?;
    Ok(see_other(c.slug(), &format!("/connections/{}", path.1)))
}

pub async fn update(
    AdminWrite(c, f): AdminWrite,
    path: web::Path<(String, String)>,
) -> ConsoleResult {
    let change = edit::Edit {
        name: f.get("name"),
        client_secret: f.get("client_secret"),
        metadata: metadata_source(&c, &f),
    };
    let id = edit::edit(c.deps(), &c.connection_actor(), &path.1, change)
        .await
        .map_err(|e| refused(&c, e))?;
    Ok(see_other(c.slug(), &format!("/connections/{id}")))
}

pub async fn set_state(
    AdminWrite(c, f): AdminWrite,
    path: web::Path<(String, String)>,
) -> ConsoleResult {
    let enabled = match f.get("enabled") {
        Some("true") => true,
        Some("false") => false,
        _ => return Err(ConsoleError::bad_request("Choose enable or disable.")),
    };
    let by = c.connection_actor();
    enable::set_enabled(&c.st.store, c.st.clock.as_ref(), &by, &path.1, enabled).await?;
    Ok(see_other(c.slug(), "/connections"))
}

/// The newest sign-in (or refused sign-in) through a connection, from the audit log.
async fn last_sign_in(
    c: &Console,
    connection_id: &str,
) -> Result<Option<minijinja::Value>, ConsoleError> {
    let e = authz_core::audit::search::last_sign_in(&c.st.store.db, &c.tenant.id, connection_id)
        .await?;
    Ok(e.map(|e| context! { at => when(e.occurred_at), result => e.result, action => e.action }))
}
