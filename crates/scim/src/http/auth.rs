//! SCIM authentication (RFC 7644 §2): the [`ScimPrincipal`] extractor reads the bearer token
//! and the tenant slug of the path; `app::scim::auth` checks the token against that tenant,
//! notes its use and counts it against the per-token rate limit.
use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use app::ScimClient;
use authz_core::TenantId;

use super::{ScimError, ScimState};

/// An authenticated SCIM client: the tenant whose base URL it called, with its token.
#[derive(Clone, Debug)]
pub struct ScimPrincipal {
    /// What the use cases take.
    pub client: ScimClient,
    /// The tenant's slug as the path named it, for `meta.location`.
    pub slug: String,
}

impl ScimPrincipal {
    pub fn tenant(&self) -> &TenantId {
        self.client.tenant()
    }
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let h = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = h.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
        .filter(|t| !t.is_empty())
}

async fn authenticate(req: HttpRequest) -> Result<ScimPrincipal, ScimError> {
    let st = req
        .app_data::<web::Data<ScimState>>()
        .ok_or_else(ScimError::internal)?
        .clone();
    let slug = req.match_info().get("tenant").unwrap_or_default();
    let token = bearer(&req).ok_or_else(ScimError::unauthorized)?;
    let (store, clock) = (&st.store, st.clock.as_ref());
    let client =
        app::scim::auth::authenticate(store, clock, &st.tenants, slug, &token, st.rate_per_minute)
            .await?;
    authz_core::trace::caller(Some(client.tenant()), &client.actor());
    let principal = ScimPrincipal {
        client,
        slug: slug.to_string(),
    };
    // For the failure log: which tenant and token a failed request belonged to.
    req.extensions_mut().insert(principal.clone());
    Ok(principal)
}

impl FromRequest for ScimPrincipal {
    type Error = ScimError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        Box::pin(authenticate(req.clone()))
    }
}
