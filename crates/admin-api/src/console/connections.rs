//! Connections: the tenant's IdPs. Add an OIDC connection (preset, issuer, client credentials:
//! discovery is fetched and checked before anything is stored) or a SAML one (metadata pasted
//! or fetched: a signing certificate is required, the SP key pair is generated); see the values
//! to paste into the IdP; test a sign-in; enable or disable; edit the name, the OIDC client
//! secret or the SAML metadata (certificate rotation).
use actix_web::web;
use authz_core::connection::{self, Connection, ConnectionUpdate, NewOidcConnection};
use minijinja::context;
use oidc_federation::{OidcRp, Preset};
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
    tracing::warn!(code, tenant = %c.tenant.id.0, error = %detail, "console URL refused");
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

/// Fetches and checks the discovery document: the connection must work before it is stored.
/// Through the public fetcher: the issuer was typed by a tenant admin, not the operator.
async fn discover(c: &Console, preset: &Preset, issuer: &str) -> Result<String, ConsoleError> {
    preset.check_issuer_url(issuer).map_err(invalid)?;
    let rp = OidcRp::new(c.st.public_fetcher.clone());
    let meta = match rp.discover(issuer, true, preset).await {
        Ok(m) => m,
        // Some IdPs name their issuer with a trailing slash.
        Err(first @ oidc_federation::FederationError::Discovery { .. }) => rp
            .discover(&format!("{issuer}/"), true, preset)
            .await
            .map_err(|_| discovery_refused(c, first))?,
        Err(e) => return Err(discovery_refused(c, e)),
    };
    preset
        .check_discovered_issuer(meta.issuer().as_str())
        .map_err(|e| discovery_refused(c, e))?;
    Ok(meta.issuer().as_str().to_string())
}

/// The IdP metadata, parsed; a document that is not metadata is refused by category only (its
/// parser errors quote the input).
fn parse_metadata(c: &Console, xml: &str) -> Result<IdpMetadata, ConsoleError> {
    IdpMetadata::parse(xml).map_err(|e| match e {
        // Fixed text, and the reason an admin must act on.
        saml::SamlError::NoSigningCert | saml::SamlError::Dtd => invalid(e),
        other => refused_url(
            c,
            "CONSOLE0103",
            &other,
            "The document is not SAML IdP metadata (an EntityDescriptor with an IDPSSODescriptor, an HTTP-Redirect SingleSignOnService and a signing certificate).",
        ),
    })
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
    let client_id = f.require("client_id", "The client ID")?;
    let secret = f.require("client_secret", "The client secret")?;
    let issuer = discover(&c, &preset, &issuer).await?;
    let conn = connection::add_oidc_by(
        &c.st.store,
        c.st.clock.as_ref(),
        &c.st.master_key,
        &c.tenant.id,
        NewOidcConnection {
            name: f.get("name").unwrap_or("OIDC"),
            issuer: &issuer,
            client_id,
            client_secret: secret,
            preset: preset.name(),
            settings: preset.settings(),
        },
        &c.actor(),
        setup_invitation(&c),
    )
    .await?;
    Ok(see_other(c.slug(), &format!("/connections#c-{}", conn.id)))
}

/// A connection added in a setup session stays pending (ADR 0007).
fn setup_invitation(c: &Console) -> Option<&str> {
    match &c.principal {
        super::auth::Principal::Setup { invitation } => Some(invitation.id.as_str()),
        super::auth::Principal::Admin { .. } => None,
    }
}

/// The metadata XML: pasted, or fetched from a URL through the public SSRF-guarded fetcher
/// (the URL was typed by a tenant admin, not the operator).
async fn metadata_xml(c: &Console, f: &super::form::Form) -> Result<Option<String>, ConsoleError> {
    if let Some(xml) = f.get("metadata") {
        return Ok(Some(xml.to_string()));
    }
    let Some(url) = f.get("metadata_url") else {
        return Ok(None);
    };
    let fetched =
        c.st.public_fetcher
            .get(url, "application/samlmetadata+xml, application/xml")
            .await
            .map_err(|e| {
                let says = format!(
                    "The metadata URL was refused: {}. It must be a public https address.",
                    oidc_federation::fetch_error_text(&e)
                );
                refused_url(c, "CONSOLE0101", &e, &says)
            })?;
    String::from_utf8(fetched.body)
        .map(Some)
        .map_err(|_| ConsoleError::bad_request("The document is not SAML IdP metadata."))
}

pub async fn create_saml(SetupOrAdminWrite(c, f): SetupOrAdminWrite) -> ConsoleResult {
    let preset = f.get("preset").unwrap_or("generic");
    let mut mapping =
        saml::mapping::Mapping::for_preset(preset, f.get("key_attribute").map(str::to_string))
            .map_err(invalid)?;
    mapping.email_attribute = f.get("email_attribute").map(str::to_string);
    mapping.name_attribute = f.get("name_attribute").map(str::to_string);
    mapping.groups_attribute = f.get("groups_attribute").map(str::to_string);
    let Some(xml) = metadata_xml(&c, &f).await? else {
        return Err(ConsoleError::bad_request(
            "Paste the IdP metadata XML or give its URL.",
        ));
    };
    // Refuses metadata without a signing certificate: assertions could not be verified.
    let idp = parse_metadata(&c, &xml)?;
    let keys = saml::sp::generate("gatehouse-sp").map_err(|e| {
        ConsoleError::from(authz_core::CoreError::Config(format!(
            "SP key generation: {e}"
        )))
    })?;
    let settings = SamlSettings {
        idp_metadata: xml,
        sp_certificate: keys.certificate_pem,
        mapping,
        skew_secs: 180,
        allow_idp_initiated: f.checked("allow_idp_initiated"),
    };
    let conn = connection::add_saml_by(
        &c.st.store,
        c.st.clock.as_ref(),
        &c.st.master_key,
        &c.tenant.id,
        NewOidcConnection {
            name: f.get("name").unwrap_or("SAML"),
            issuer: &idp.entity_id,
            client_id: "",
            client_secret: &keys.private_key_pem,
            preset,
            settings: serde_json::to_value(&settings)
                .map_err(|e| authz_core::CoreError::Config(e.to_string()))?,
        },
        &c.actor(),
        setup_invitation(&c),
    )
    .await?;
    Ok(see_other(c.slug(), &format!("/connections#c-{}", conn.id)))
}

async fn load(c: &Console, id: &str) -> Result<Connection, ConsoleError> {
    connection::get(&c.st.store.db, &c.tenant.id, id)
        .await
        .map_err(|_| ConsoleError::not_found("connection"))
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
    Ok(c.render(
        "console/connection_edit.html",
        "connections",
        context! { conn => view(&c, &conn, pending.as_deref()), saml => saml_info, last_sign_in => last },
    ))
}

pub async fn update(
    AdminWrite(c, f): AdminWrite,
    path: web::Path<(String, String)>,
) -> ConsoleResult {
    let conn = load(&c, &path.1).await?;
    let mut u = ConnectionUpdate {
        name: f.get("name"),
        ..Default::default()
    };
    let new_settings;
    let new_issuer;
    if conn.kind == "saml" {
        if let Some(xml) = metadata_xml(&c, &f).await? {
            let idp = parse_metadata(&c, &xml)?;
            let mut s: SamlSettings = serde_json::from_value(conn.settings.clone())
                .map_err(|e| authz_core::CoreError::Config(e.to_string()))?;
            s.idp_metadata = xml;
            new_settings = serde_json::to_value(&s)
                .map_err(|e| authz_core::CoreError::Config(e.to_string()))?;
            new_issuer = idp.entity_id;
            u.settings = Some(new_settings);
            u.issuer = Some(&new_issuer);
        }
    } else {
        u.client_secret = f.get("client_secret");
    }
    connection::update(
        &c.st.store,
        c.st.clock.as_ref(),
        &c.st.master_key,
        &c.tenant.id,
        &conn.id,
        u,
        &c.actor(),
    )
    .await?;
    Ok(see_other(c.slug(), &format!("/connections/{}", conn.id)))
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
    connection::set_enabled(
        &c.st.store,
        c.st.clock.as_ref(),
        &c.tenant.id,
        &path.1,
        enabled,
        &c.actor(),
    )
    .await?;
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
