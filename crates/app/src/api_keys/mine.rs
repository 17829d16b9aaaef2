//! The signed-in person's keys. The hand-off page (`GET /account/keys/new?resource=…&client=…`)
//! only reads ([`offer`]): a GET must never create a credential (a link in a chat or an
//! `<img>` would otherwise mint keys); [`create`] is the form's POST.
use authz_core::clock::Clock;
use authz_core::personal_key::{self, CreatedKey, NewKey, PersonalKey, CLIENT_LABELS};
use authz_core::resource::{self, Resource};
use authz_core::scope::Tier;
use authz_core::{grant, CoreError, Store};

use crate::SignedInUser;

/// What the creation form offers the person for one resource.
#[derive(Debug)]
pub struct Offer {
    pub resource: Resource,
    /// The IDE asked for (`cursor`, `vscode`, `claude-code`, `other`).
    pub client_label: String,
    /// Scopes the org grants the person on the resource, critical ones left out.
    pub scopes: Vec<String>,
    /// The tenant's maximum lifetime, days.
    pub max_days: i64,
}

/// Resolves the hand-off page's `resource` (a catalogue URI or id) and `client`; refuses when
/// the tenant has keys turned off, or grants the person nothing usable on the resource.
pub async fn offer(
    store: &Store,
    user: &SignedInUser,
    resource_key: &str,
    client_label: Option<&str>,
) -> Result<Offer, CoreError> {
    let db = &store.db;
    let settings = authz_core::admin::settings::get(db, user.tenant()).await?;
    if !settings.api_keys_enabled() {
        return Err(CoreError::Denied(
            "your organisation has not turned on personal API keys".into(),
        ));
    }
    let client_label = client_label.unwrap_or("other");
    if !CLIENT_LABELS.contains(&client_label) {
        return Err(CoreError::invalid(
            "the client must be cursor, vscode, claude-code or other",
        ));
    }
    let res = resource::find_by_uri_or_id(db, resource_key).await?;
    let granted = grant::granted_to_user(db, user.tenant(), &res.id, user.user_id()).await?;
    let catalogue = resource::catalogue(db, &res.id).await?;
    let scopes: Vec<String> = catalogue
        .iter()
        .filter(|c| c.tier != Tier::Critical && granted.contains(&c.name))
        .map(|c| c.name.clone())
        .collect();
    if scopes.is_empty() {
        return Err(CoreError::Denied(format!(
            "your organisation grants you no scope a key may hold on {}",
            res.display_name
        )));
    }
    Ok(Offer {
        resource: res,
        client_label: client_label.to_string(),
        scopes,
        max_days: settings.api_key_max_days(),
    })
}

/// What the form posted.
pub struct KeyForm<'a> {
    pub resource: &'a str,
    pub name: &'a str,
    pub client_label: &'a str,
    pub scopes: &'a [String],
    pub days: i64,
}

/// Creates a key for the person (audited `api_key.created`, notice emailed).
pub async fn create(
    store: &Store,
    clock: &dyn Clock,
    user: &SignedInUser,
    form: KeyForm<'_>,
) -> Result<CreatedKey, CoreError> {
    let res = resource::find_by_uri_or_id(&store.db, form.resource).await?;
    personal_key::create(
        store,
        clock,
        NewKey {
            tenant: user.tenant(),
            user_id: user.user_id(),
            auth_time: user.session().auth_time,
            resource: &res,
            name: form.name,
            client_label: form.client_label,
            scopes: form.scopes,
            days: form.days,
            actor: &user.actor(),
        },
    )
    .await
}

/// The person's keys, newest first.
pub async fn list(
    store: &Store,
    clock: &dyn Clock,
    user: &SignedInUser,
) -> Result<Vec<PersonalKey>, CoreError> {
    personal_key::list_for_user(&store.db, clock, user.tenant(), user.user_id()).await
}

/// Revokes one of the person's own keys; another person's key is not found.
pub async fn revoke(
    store: &Store,
    clock: &dyn Clock,
    user: &SignedInUser,
    key_id: &str,
) -> Result<bool, CoreError> {
    let key = personal_key::get(
        &store.db,
        clock,
        user.tenant(),
        Some(user.user_id()),
        key_id,
    )
    .await?;
    personal_key::revoke(store, clock, &key, &user.actor()).await
}
