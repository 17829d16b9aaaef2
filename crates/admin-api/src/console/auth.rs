//! Who uses the console (STYLE §3: extractors that exist only after the check):
//! - [`Admin`]: a live Gatehouse session of this tenant whose user is an admin (explicit, or by
//!   the admin group via SCIM or the IdP's groups claim), re-checked on every request;
//! - [`SetupOrAdmin`]: also an invitee's setup-only session (connections only);
//! - [`AdminWrite`] / [`SetupOrAdminWrite`]: the same for a form POST, which must also carry the
//!   page's CSRF token, and, for an admin, a fresh IdP authentication (step-up: within 15
//!   minutes, DESIGN §5) — otherwise the admin is sent to re-authenticate.
//!
//! A session of another tenant is not a session here; an unknown tenant and a foreign one look
//! alike to the caller.
use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::{Method, StatusCode};
use actix_web::{web, FromRequest, HttpRequest};
use authz_core::admin::invitation::{self, Invitation};
use authz_core::admin::role::{self, AdminVia};
use authz_core::crypto::{hashes_equal, sha256_hex};
use authz_core::session::{self, Session};
use authz_core::tenant::{self, Tenant};
use authz_core::user::{self, User};

use super::form::Form;
use super::{ConsoleError, ConsoleState};

/// Base names of the console's cookies; on an https issuer they carry the `__Host-` prefix
/// ([`ConsoleState::session_cookie`], review F8).
pub const SESSION_BASE: &str = "gh_session";
pub const SETUP_BASE: &str = "gh_setup";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// An admin, or an invitee's setup-only session.
    Setup,
    /// An admin only.
    Admin,
    /// The platform operator, in the operator area (`operator::OPERATOR_ROUTES`): a session
    /// opened with an operator key, never a tenant's.
    Operator,
}

pub enum Principal {
    Admin {
        session: Session,
        user: User,
        via: AdminVia,
    },
    Setup {
        invitation: Invitation,
    },
}

/// An authenticated console request for one tenant.
pub struct Console {
    pub st: web::Data<ConsoleState>,
    pub tenant: Tenant,
    pub principal: Principal,
    /// The token every form of the page carries.
    pub csrf: String,
    /// In a setup session: the (non-admin) identity this browser signed in with, e.g. someone
    /// the invitation was forwarded to, whose IdP email is not the invited one.
    pub signed_in_as: Option<String>,
    /// After a confirmed removal, the kind removed (`?removed=`), for the page's banner: only a
    /// known kind, so a crafted link cannot put words on the page.
    pub removed: Option<&'static str>,
}

/// The kinds a console removal names in its redirect (see [`Console::removed`]).
pub const REMOVED_KINDS: &[&str] = &[
    "service account",
    "SCIM token",
    "admin API key",
    "API key",
    "administrator",
    "invitation",
    "domain",
    "grant",
];

fn removed_of(req: &HttpRequest) -> Option<&'static str> {
    let q = web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
        .ok()?;
    let asked = q.get("removed")?;
    REMOVED_KINDS.iter().copied().find(|k| k == asked)
}

impl Console {
    /// Who acts, as the audit log records it.
    pub fn actor(&self) -> String {
        match &self.principal {
            Principal::Admin { user, .. } => format!("admin:{}", user.id),
            Principal::Setup { invitation } => format!("invitation:{}", invitation.id),
        }
    }

    pub fn slug(&self) -> &str {
        &self.tenant.slug
    }

    /// The application layer's principal for this request: the console's admin (or setup
    /// session), checked by this extractor, acting on its tenant.
    pub fn principal(&self) -> app::TenantAdmin {
        app::TenantAdmin::verified(self.tenant.id.clone(), self.actor())
    }

    /// Who sets up connections: an admin, or a setup session whose additions stay pending.
    pub fn connection_actor(&self) -> app::connection::ConnectionActor {
        use app::connection::ConnectionActor;
        match &self.principal {
            Principal::Admin { .. } => ConnectionActor::Admin(self.principal()),
            Principal::Setup { invitation } => ConnectionActor::Setup {
                admin: self.principal(),
                invitation_id: invitation.id.clone(),
            },
        }
    }

    /// What connection set-up uses from the running service.
    pub fn deps(&self) -> app::connection::Deps<'_> {
        app::connection::Deps {
            store: &self.st.store,
            clock: self.st.clock.as_ref(),
            key: &self.st.master_key,
        }
    }

    pub fn is_setup(&self) -> bool {
        matches!(self.principal, Principal::Setup { .. })
    }

    /// What every page's layout shows.
    pub fn base(&self, section: &str) -> minijinja::Value {
        let (who, via, fresh_until) = match &self.principal {
            Principal::Admin { user, via, session } => (
                user.email
                    .clone()
                    .or(user.name.clone())
                    .unwrap_or(user.subject.clone()),
                via.describe(),
                // Unknown authentication time (the IdP did not say): read-only.
                (session.auth_time > 0).then(|| {
                    super::when(
                        session.auth_time
                            + authz_core::token::refresh::STEP_UP_WINDOW_SECS
                                * authz_core::clock::MICROS,
                    )
                }),
            ),
            Principal::Setup { invitation } => (
                invitation.email.clone(),
                "setup-only session (invitation)".to_string(),
                None,
            ),
        };
        minijinja::context! {
            tenant_name => self.tenant.name,
            slug => self.tenant.slug,
            csrf => self.csrf,
            who => who,
            via => via,
            setup => self.is_setup(),
            read_only => matches!(&self.principal, Principal::Admin { session, .. } if session.auth_time == 0),
            removed => self.removed,
            signed_in_as => self.signed_in_as,
            fresh_until => fresh_until,
            section => section,
        }
    }

    /// Renders a console page: `ctx` plus the layout's values under `c`.
    pub fn render(
        &self,
        name: &str,
        section: &str,
        ctx: minijinja::Value,
    ) -> actix_web::HttpResponse {
        self.render_status(StatusCode::OK, name, section, ctx)
    }

    pub fn render_status(
        &self,
        status: StatusCode,
        name: &str,
        section: &str,
        ctx: minijinja::Value,
    ) -> actix_web::HttpResponse {
        self.st.templates.page(
            status,
            name,
            minijinja::context! { c => self.base(section), ..ctx },
        )
    }
}

/// The console section a request belongs to (`settings`, `users/<id>`, …), to come back to
/// after signing in again.
fn section_of(path: &str, slug: &str) -> String {
    let rest = path
        .strip_prefix(&format!("/admin/t/{slug}/"))
        .unwrap_or_default();
    let mut parts = rest.split('/').filter(|p| !p.is_empty());
    match (parts.next(), parts.next()) {
        (Some("users"), Some(id)) => format!("users/{id}"),
        (Some(first), _) if first.chars().all(|c| c.is_ascii_lowercase()) => first.to_string(),
        _ => String::new(),
    }
}

pub(crate) fn csrf_for(kind: &str, cookie: &str) -> String {
    sha256_hex(&format!("console|{kind}|{cookie}"))
}

/// The CSRF token of an admin console session (its pages' forms, and `X-CSRF-Token` for the
/// admin API used with the session).
pub fn admin_csrf(cookie: &str) -> String {
    csrf_for("admin", cookie)
}

fn state(req: &HttpRequest) -> Result<web::Data<ConsoleState>, ConsoleError> {
    req.app_data::<web::Data<ConsoleState>>()
        .cloned()
        .ok_or_else(|| authz_core::CoreError::Config("console state missing".into()).into())
}

async fn authenticate(req: &HttpRequest, access: Access) -> Result<Console, ConsoleError> {
    let st = state(req)?;
    if req.query_string().to_ascii_lowercase().contains("%00") {
        return Err(ConsoleError::bad_request(
            "The address contains a NUL character (%00), which no search accepts.",
        ));
    }
    let slug = req
        .match_info()
        .get("tenant")
        .unwrap_or_default()
        .to_string();
    let t = match tenant::find_by_slug(&st.store.db, &slug).await {
        Ok(t) => t,
        Err(authz_core::CoreError::NotFound(_)) => {
            return Err(ConsoleError::page(
                StatusCode::NOT_FOUND,
                "Unknown organisation",
                "There is no organisation at this address.",
                "Check the console address your invitation or your colleagues gave you.",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    let db = &st.store.db;
    let clock = st.clock.as_ref();
    let login = format!("/admin/t/{}/login", t.slug);
    let mut signed_in_as: Option<User> = None;
    if let Some(c) = req.cookie(&st.session_cookie()) {
        if let Some(s) = session::find_active(db, clock, c.value())
            .await?
            .filter(|s| s.tenant == t.id)
        {
            let u = user::get(db, &t.id, &s.user_id).await?;
            if let Some(via) = role::session_admin_via(db, &t.id, &s).await? {
                authz_core::trace::caller(Some(&t.id), &format!("admin:{}", s.user_id));
                return Ok(Console {
                    signed_in_as: None,
                    removed: removed_of(req),
                    csrf: csrf_for("admin", c.value()),
                    st: st.clone(),
                    tenant: t,
                    principal: Principal::Admin {
                        session: s,
                        user: u,
                        via,
                    },
                });
            }
            signed_in_as = Some(u);
        }
    }
    if let Some(c) = req.cookie(&st.setup_cookie()) {
        if let Some(inv) = invitation::setup_session(db, clock, c.value())
            .await?
            .filter(|i| i.tenant == t.id)
        {
            if access == Access::Admin {
                return Err(ConsoleError::page(
                    StatusCode::FORBIDDEN,
                    "Finish setting up first",
                    format!(
                        "This is a setup-only session for {}: it can configure sign-in connections and nothing else.",
                        inv.email
                    ),
                    "Add your identity provider under Connections, then sign in through it with the invited address to become an administrator.",
                )
                .with_action("Go to connections", format!("/admin/t/{}/connections", t.slug)));
            }
            authz_core::trace::caller(Some(&t.id), &format!("setup:{}", inv.id));
            return Ok(Console {
                // Only when that identity's email is not the invited one.
                signed_in_as: signed_in_as
                    .as_ref()
                    .filter(|u| {
                        u.email.as_deref().map(str::to_lowercase).as_deref()
                            != Some(inv.email.as_str())
                    })
                    .map(|u| u.email.clone().unwrap_or(u.subject.clone())),
                removed: None,
                csrf: csrf_for("setup", c.value()),
                st: st.clone(),
                tenant: t,
                principal: Principal::Setup { invitation: inv },
            });
        }
    }
    if let Some(u) = signed_in_as {
        let who = u.email.clone().unwrap_or(u.subject.clone());
        return Err(ConsoleError::page(
            StatusCode::FORBIDDEN,
            "You are not an administrator",
            format!("You are signed in as {who}, who is not an administrator of {}.", t.name),
            "Ask an administrator to invite you, or to add you to the organisation's admin group in your identity provider.",
        ));
    }
    if req.method() == Method::GET {
        return Err(ConsoleError::Redirect(login));
    }
    Err(ConsoleError::page(
        StatusCode::UNAUTHORIZED,
        "Your session has ended",
        "Nothing was changed: you are not signed in to this organisation's console any more.",
        "Sign in again, then repeat the change.",
    )
    .with_action("Sign in", login))
}

/// A POST: the CSRF token must match, and an admin must have authenticated at the IdP within
/// the step-up window.
async fn authenticate_write(
    req: &HttpRequest,
    payload: &mut Payload,
    access: Access,
) -> Result<(Console, Form), ConsoleError> {
    let c = authenticate(req, access).await?;
    let form = Form::read(payload).await?;
    if !form.get("csrf").is_some_and(|p| hashes_equal(p, &c.csrf)) {
        return Err(ConsoleError::page(
            StatusCode::FORBIDDEN,
            "Nothing was changed",
            "The form could not be verified (it may be from an old tab or another site).",
            "Reload the page and try again.",
        ));
    }
    if let Principal::Admin { session, .. } = &c.principal {
        if !session::is_fresh(session, c.st.clock.now_us()) {
            return Err(ConsoleError::page(
                StatusCode::FORBIDDEN,
                "Confirm it's you",
                "Changes in the admin console need a sign-in at your identity provider within the last 15 minutes. Nothing was changed.",
                "Sign in again, then repeat the change.",
            )
            .with_action(
                "Sign in again",
                format!(
                    "/admin/t/{slug}/login?step_up=1&return=/admin/t/{slug}/{}",
                    section_of(req.path(), &c.tenant.slug),
                    slug = c.tenant.slug
                ),
            ));
        }
    }
    Ok((c, form))
}

macro_rules! extractor {
    ($name:ident, $access:expr, read) => {
        pub struct $name(pub Console);
        impl FromRequest for $name {
            type Error = ConsoleError;
            type Future = Pin<Box<dyn Future<Output = Result<Self, ConsoleError>>>>;
            fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
                let req = req.clone();
                Box::pin(async move { authenticate(&req, $access).await.map($name) })
            }
        }
    };
    ($name:ident, $access:expr, write) => {
        pub struct $name(pub Console, pub Form);
        impl FromRequest for $name {
            type Error = ConsoleError;
            type Future = Pin<Box<dyn Future<Output = Result<Self, ConsoleError>>>>;
            fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
                let req = req.clone();
                let mut payload = payload.take();
                Box::pin(async move {
                    authenticate_write(&req, &mut payload, $access)
                        .await
                        .map(|(c, f)| $name(c, f))
                })
            }
        }
    };
}

extractor!(SetupOrAdmin, Access::Setup, read);
extractor!(Admin, Access::Admin, read);
extractor!(SetupOrAdminWrite, Access::Setup, write);
extractor!(AdminWrite, Access::Admin, write);
