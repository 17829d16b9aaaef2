//! Accept an invitation: the link's token is the credential (there is no principal before it),
//! and accepting consumes it and opens a setup-only session of the invitation's tenant (ADR
//! 0007). The edge checks the request came from the invitation's own page first.
use authz_core::admin::invitation::{self, Invitation};
use authz_core::clock::Clock;
use authz_core::{tenant, CoreError, Store};

/// An accepted invitation: the setup session's secret (the cookie's value) and the tenant's
/// slug (where its console is).
pub struct Accepted {
    pub invitation: Invitation,
    pub setup_secret: String,
    pub tenant_slug: String,
}

#[derive(Debug)]
pub enum AcceptError {
    /// Unknown, expired, used or withdrawn: the link's page says which.
    Unusable,
    Core(CoreError),
}

impl From<CoreError> for AcceptError {
    fn from(e: CoreError) -> Self {
        AcceptError::Core(e)
    }
}

pub async fn accept(
    store: &Store,
    clock: &dyn Clock,
    token: &str,
) -> Result<Accepted, AcceptError> {
    let (inv, secret) = match invitation::accept(store, clock, token).await {
        Ok(x) => x,
        Err(CoreError::Invalid(_)) | Err(CoreError::NotFound(_)) => {
            return Err(AcceptError::Unusable)
        }
        Err(e) => return Err(e.into()),
    };
    let t = tenant::get(&store.db, &inv.tenant).await?;
    Ok(Accepted {
        invitation: inv,
        setup_secret: secret,
        tenant_slug: t.slug,
    })
}
