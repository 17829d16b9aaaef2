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

use super::connection_guide as guide;
use super::form::Form;
use super::{
    see_other, when, Admin, AdminWrite, Console, ConsoleError, ConsoleResult, SetupOrAdmin,
    SetupOrAdminWrite,
};

/// The values the IdP admin pastes, for one connection.
fn setup_values(c: &Console, conn: &Connection) -> Vec<minijinja::Value> {
    if conn.is_development() {
        // Its users come from the operator's file: nothing to paste anywhere (ADR 0017).
        return vec![];
    }
    let (kind, preset) = (conn.kind.as_str(), conn.preset.as_str());
    guide::setup_values(&c.st.issuer, kind, preset, &conn.settings, &conn.id)
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

#[derive(serde::Deserialize)]
pub struct ListQuery {
    /// Set by the redirect after an addition: the page says so (a one-shot flash).
    added: Option<String>,
}

pub async fn list(SetupOrAdmin(c): SetupOrAdmin, q: web::Query<ListQuery>) -> ConsoleResult {
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
        context! {
            connections => views,
            added => q.added.as_ref().and_then(|id| conns.iter().find(|x| &x.id == id)).map(|x| &x.name),
        },
    ))
}

/// Adding a connection: the guided flow ([`guide`]); `?kind=oidc|saml` without an IdP is the
/// one-page form, for admins who already have the IdP's values.
pub async fn new_form(
    SetupOrAdmin(c): SetupOrAdmin,
    q: web::Query<guide::GuideQuery>,
) -> ConsoleResult {
    match (q.idp.as_deref(), q.kind.as_deref()) {
        (None, Some("saml")) => Ok(guide::credentials_form(
            &c,
            "saml",
            None,
            &Default::default(),
        )),
        (None, Some("oidc")) => Ok(guide::credentials_form(
            &c,
            "oidc",
            None,
            &Default::default(),
        )),
        _ => guide::page(&c, &q).await,
    }
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
fn metadata_source<'a>(c: &'a Console, f: &'a Form) -> Option<Metadata<'a>> {
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

/// The preset and the issuer of an OIDC form, or the field at fault.
fn oidc_preset(f: &Form) -> Result<(Preset, String), (&'static str, String)> {
    let preset = f.get("preset").unwrap_or("generic");
    let preset =
        Preset::parse(preset, f.get("entra_tenant_id")).map_err(|e| ("entra_tenant_id", e))?;
    let issuer = match (f.get("issuer"), preset.default_issuer()) {
        (Some(i), _) => i.trim_end_matches('/').to_string(),
        (None, Some(d)) => d,
        (None, None) => return Err(("issuer", "The issuer URL is required.".into())),
    };
    Ok((preset, issuer))
}

/// The field an OIDC refusal is about: the issuer (or, for Entra without one typed, the
/// directory id it is made from); the form as a whole otherwise.
fn oidc_field(f: &Form, e: &ConnectionError) -> &'static str {
    match e {
        ConnectionError::IssuerUrl(_) | ConnectionError::Discovery(_) => {
            match (f.get("issuer"), f.get("preset")) {
                (None, Some("entra")) => "entra_tenant_id",
                _ => "issuer",
            }
        }
        _ => "",
    }
}

fn saml_field(f: &Form, e: &ConnectionError) -> &'static str {
    match e {
        ConnectionError::MetadataFetch(_) => "metadata_url",
        ConnectionError::MetadataNotUtf8(_) | ConnectionError::Metadata(_) => {
            if f.get("metadata").is_some() {
                "metadata"
            } else {
                "metadata_url"
            }
        }
        _ => "",
    }
}

pub async fn create_oidc(SetupOrAdminWrite(c, f): SetupOrAdminWrite) -> ConsoleResult {
    let again = |field, e| guide::refused_form(&c, &f, "oidc", field, e);
    let (preset, issuer) = match oidc_preset(&f) {
        Ok(p) => p,
        Err((field, e)) => return again(field, invalid(e)),
    };
    let (client_id, client_secret) = match (f.get("client_id"), f.get("client_secret")) {
        (Some(id), Some(secret)) => (id, secret),
        (None, _) => return again("client_id", invalid("The client ID is required.")),
        (_, None) => return again("client_secret", invalid("The client secret is required.")),
    };
    let new = add::NewOidc {
        name: f.get("name").unwrap_or("OIDC"),
        preset: &preset,
        issuer: &issuer,
        client_id,
        client_secret,
        fetcher: &c.st.public_fetcher,
    };
    match add::oidc_with_id(c.deps(), &c.connection_actor(), new, f.get("id")).await {
        Ok(conn) => Ok(added(&c, &conn.id)),
        Err(e) => again(oidc_field(&f, &e), refused(&c, e)),
    }
}

/// After an addition: the list, saying what was added, with the connection's "Test sign-in".
fn added(c: &Console, id: &str) -> actix_web::HttpResponse {
    see_other(c.slug(), &format!("/connections?added={id}#c-{id}"))
}

pub async fn create_saml(SetupOrAdminWrite(c, f): SetupOrAdminWrite) -> ConsoleResult {
    let again = |field, e| guide::refused_form(&c, &f, "saml", field, e);
    let preset = f.get("preset").unwrap_or("generic");
    let attr = |name: &str| f.get(name).map(str::to_string);
    let mapping = match add::saml_mapping(
        preset,
        attr("key_attribute"),
        attr("email_attribute"),
        attr("name_attribute"),
        attr("groups_attribute"),
    ) {
        Ok(m) => m,
        Err(e) => return again("key_attribute", invalid(e)),
    };
    let Some(metadata) = metadata_source(&c, &f) else {
        return again(
            "metadata",
            invalid("Paste the IdP metadata XML or give its URL."),
        );
    };
    let new = add::NewSaml {
        name: f.get("name").unwrap_or("SAML"),
        preset,
        mapping,
        metadata,
        skew_secs: 180,
        allow_idp_initiated: f.checked("allow_idp_initiated"),
    };
    match add::saml_with_id(c.deps(), &c.connection_actor(), new, f.get("id")).await {
        Ok(a) => Ok(added(&c, &a.connection.id)),
        Err(e) => again(saml_field(&f, &e), refused(&c, e)),
    }
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
