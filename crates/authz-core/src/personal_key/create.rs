//! Creating a key: the tenant's policy (keys turned on, the lifetime within its maximum), the
//! org grant (scopes a subset of what the org grants this user for the resource, never a
//! critical one: a key cannot do a fresh IdP sign-in, which every use of a critical scope needs),
//! then the family, its one access token row and the metadata row in one transaction, audited
//! as `api_key.created`, with a notice to the person's email queued in the same transaction.
use sea_orm::{ConnectionTrait, EntityTrait, Set};

use super::{client_id_for, display_prefix, generate, PersonalKey, Status, CLIENT_LABELS};
use crate::audit::{self, AuditEvent};
use crate::clock::{Clock, MICROS};
use crate::crypto::sha256_hex;
use crate::db::Store;
use crate::entities::{personal_api_keys, tokens};
use crate::error::{CoreError, CoreResult};
use crate::resource::{self, Resource};
use crate::scope::Tier;
use crate::tenant::TenantId;
use crate::token::{self, CredentialKind, NewFamily};

/// What the person asked for.
pub struct NewKey<'a> {
    pub tenant: &'a TenantId,
    pub user_id: &'a str,
    /// When the person last signed in at the IdP (µs): where the tenant caps credentials
    /// without a fresh sign-in, the key ends at that cap (leavers without SCIM, DESIGN §4b).
    pub auth_time: i64,
    pub resource: &'a Resource,
    pub name: &'a str,
    pub client_label: &'a str,
    pub scopes: &'a [String],
    pub days: i64,
    pub actor: &'a str,
}

/// A new key: the secret is here once, never stored.
pub struct CreatedKey {
    pub key: PersonalKey,
    pub secret: String,
    /// The expiry was shortened to the tenant's cap on life without a fresh sign-in.
    pub capped: bool,
}

pub(super) fn check_name(name: &str) -> CoreResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 80 || name.chars().any(char::is_control) {
        return Err(CoreError::invalid(
            "give the key a name of 1 to 80 characters",
        ));
    }
    Ok(name.to_string())
}

/// Checks the scopes against the org grant and the catalogue: each one granted to this user,
/// none critical, at least one. Returns the most sensitive tier.
async fn check_scopes<C: ConnectionTrait>(
    conn: &C,
    k: &NewKey<'_>,
) -> CoreResult<(Vec<String>, Tier)> {
    let mut scopes: Vec<String> = Vec::new();
    for s in k.scopes {
        if !scopes.contains(s) {
            scopes.push(s.clone());
        }
    }
    if scopes.is_empty() {
        return Err(CoreError::invalid("choose at least one scope"));
    }
    let granted = crate::grant::granted_to_user(conn, k.tenant, &k.resource.id, k.user_id).await?;
    let catalogue = resource::catalogue(conn, &k.resource.id).await?;
    for s in &scopes {
        if !granted.contains(s) {
            return Err(CoreError::Denied(format!(
                "your organisation does not grant you '{s}' on {}",
                k.resource.display_name
            )));
        }
        let tier = catalogue.iter().find(|c| &c.name == s).map(|c| c.tier);
        if tier.unwrap_or(Tier::Critical) == Tier::Critical {
            return Err(CoreError::invalid(format!(
                "'{s}' is a critical scope: each use needs a fresh sign-in, which a key cannot do"
            )));
        }
    }
    let tier = token::max_tier(&catalogue, &scopes);
    Ok((scopes, tier))
}

pub async fn create(store: &Store, clock: &dyn Clock, k: NewKey<'_>) -> CoreResult<CreatedKey> {
    let db = &store.db;
    let settings = crate::admin::settings::get(db, k.tenant).await?;
    if !settings.api_keys_enabled() {
        return Err(CoreError::Denied(
            "your organisation has not turned on personal API keys".into(),
        ));
    }
    let max = settings.api_key_max_days();
    if !(1..=max).contains(&k.days) {
        return Err(CoreError::invalid(format!(
            "a key lives 1 to {max} days in your organisation"
        )));
    }
    if !CLIENT_LABELS.contains(&k.client_label) {
        return Err(CoreError::invalid(
            "the client must be cursor, vscode, claude-code or other",
        ));
    }
    let name = check_name(k.name)?;
    let user = crate::user::get(db, k.tenant, k.user_id).await?;
    if !user.active {
        return Err(CoreError::Denied("your account is not active".into()));
    }
    let (scopes, tier) = check_scopes(db, &k).await?;
    let now = clock.now_us();
    let mut expires_at = now + k.days * 86_400 * MICROS;
    let scim = crate::scim_token::any_live(db, clock, k.tenant).await?;
    let mut capped = false;
    if let Some(cap) = settings.reauth_cap_secs(scim) {
        let until = k.auth_time + cap * MICROS;
        if until < expires_at {
            expires_at = until;
            capped = true;
        }
    }
    if expires_at <= now {
        return Err(CoreError::Denied(
            "your sign-in is too old for a new key here: sign in again, then create the key".into(),
        ));
    }
    let secret = generate();
    let id = uuid::Uuid::new_v4().to_string();
    let client_id = client_id_for(k.client_label);
    let txn = store.begin().await?;
    let family = token::start_family(
        &txn,
        clock,
        NewFamily {
            id: id.clone(),
            tenant: k.tenant,
            subject: k.user_id,
            client_id: &client_id,
            resource_id: &k.resource.id,
            scopes: &scopes,
            // A key belongs to no browser session: signing out does not end it.
            session_id: &id,
            auth_time: k.auth_time,
            expires_at,
            kind: CredentialKind::ApiKey,
            dpop_jkt: None,
        },
    )
    .await?;
    let scope_str = scopes.join(" ");
    tokens::Entity::insert(token::token_row(
        &family,
        sha256_hex(&secret),
        "access",
        &scope_str,
        tier,
        now,
        expires_at,
    ))
    .exec_without_returning(&txn)
    .await?;
    let row = personal_api_keys::Model {
        id: id.clone(),
        tenant_id: k.tenant.to_string(),
        user_id: k.user_id.to_string(),
        resource_id: k.resource.id.clone(),
        name,
        client_label: k.client_label.to_string(),
        display_prefix: display_prefix(&secret),
        created_at: now,
        expires_at,
        last_used_at: None,
        expiry_recorded_at: None,
    };
    personal_api_keys::Entity::insert(personal_api_keys::ActiveModel {
        id: Set(row.id.clone()),
        tenant_id: Set(row.tenant_id.clone()),
        user_id: Set(row.user_id.clone()),
        resource_id: Set(row.resource_id.clone()),
        name: Set(row.name.clone()),
        client_label: Set(row.client_label.clone()),
        display_prefix: Set(row.display_prefix.clone()),
        created_at: Set(now),
        expires_at: Set(expires_at),
        last_used_at: Set(None),
        expiry_recorded_at: Set(None),
    })
    .exec_without_returning(&txn)
    .await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(k.tenant), "api_key.created")
            .actor(k.actor)
            .user(k.user_id.to_string())
            .client(client_id.clone())
            .resource(k.resource.uri.clone())
            .scope(scope_str.clone())
            .detail("key_id", id.clone())
            .detail("name", row.name.clone())
            .detail("expires_at", expires_at)
            .detail("capped_without_fresh_sign_in", capped),
    )
    .await?;
    if let Some(email) = &user.email {
        notify(&txn, clock, k.tenant, email, &row, k.resource, &scope_str).await?;
    }
    txn.commit().await?;
    let key = PersonalKey::from_parts(row, k.resource, scopes, None, Status::Active);
    Ok(CreatedKey {
        key,
        secret,
        capped,
    })
}

/// The notice to the person (issue 14 §1 "an alert email to the user"): a key they did not
/// create is someone holding their session; the email says how to revoke it.
async fn notify<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    email: &str,
    row: &personal_api_keys::Model,
    res: &Resource,
    scopes: &str,
) -> CoreResult<()> {
    let org = crate::tenant::get(conn, tenant).await?.name;
    let expires = crate::clock::rfc3339(row.expires_at, chrono::SecondsFormat::Secs);
    let values = [
        ("tenant", org.as_str()),
        ("name", row.name.as_str()),
        ("key_id", row.id.as_str()),
        ("prefix", row.display_prefix.as_str()),
        ("client", row.client_label.as_str()),
        ("resource", res.display_name.as_str()),
        ("scopes", scopes),
        ("expires", expires.as_str()),
    ];
    let text = crate::mail::fill(
        include_str!("../../../../web/email/api-key-created.txt"),
        &values,
        false,
    );
    let html = crate::mail::fill(
        include_str!("../../../../web/email/api-key-created.html"),
        &values,
        true,
    );
    crate::mail::enqueue(
        conn,
        clock,
        Some(tenant),
        "api_key_created",
        &[email.to_string()],
        &format!("[Gatehouse] A personal API key was created for you in {org}"),
        &text,
        &html,
    )
    .await?;
    Ok(())
}
