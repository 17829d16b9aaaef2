//! Catalogues that can change (issue 13 §2), through the operator's use case: a dry run writes
//! nothing; applying bumps the version, keeps it and audits it; withdrawing a scope (removing it
//! or raising its tier) revokes exactly what carries it; a second node sees the change within
//! the refresh bound; introspection shares identity only when the resource allows it.
use app::resource;
use app::Operator;
use authz_core::audit::PLATFORM_CHAIN;
use authz_core::mcp_policy;
use authz_core::resource::update::CatalogueDiff;
use authz_core::resource::{ResourceSpec, ToolSpec, CATALOGUE_REFRESH_SECS};
use authz_core::scope::Tier;
use authz_core::testkit::world::*;
use authz_core::token::introspect;
use authz_core::token::refresh::{self, RefreshRequest};
use authz_core::{consent, grant, CoreError, Store};

fn op() -> Operator {
    Operator::cli()
}

/// The CRM catalogue as registered, for editing.
fn crm() -> ResourceSpec {
    crm_spec()
}

/// `crm()` without the delete scope (and the tool that needs it).
fn without_delete() -> ResourceSpec {
    let mut s = crm();
    s.scopes.retain(|x| x.name != DELETE);
    s.tools.retain(|t| !t.scopes.iter().any(|x| x == DELETE));
    s
}

async fn update(w: &World, spec: ResourceSpec, dry_run: bool) -> CatalogueDiff {
    resource::update(&w.store, &w.clock, &op(), RESOURCE_URI, spec, dry_run)
        .await
        .expect("update")
}

async fn refreshes(w: &World, rt: &str) -> bool {
    refresh::refresh(
        &w.store,
        &w.clock,
        &w.client,
        RefreshRequest {
            dpop_jkt: None,
            refresh_token: rt,
            scope: None,
            resource: None,
        },
    )
    .await
    .is_ok()
}

#[tokio::test]
async fn a_dry_run_changes_nothing_and_applying_bumps_the_version_and_audits_it() {
    let w = World::new().await;
    let (v1, before) = resource::show(&w.store, &op(), RESOURCE_URI).await.unwrap();
    assert_eq!(v1, 1);
    let mut spec = crm();
    spec.tools.push(ToolSpec {
        name: "export_customers".into(),
        scopes: vec![READ.into()],
        description: Some("Export".into()),
    });
    let d = update(&w, spec.clone(), true).await;
    assert!(!d.applied);
    assert_eq!((d.from_version, d.to_version), (1, 2));
    assert_eq!(d.tools_added, vec!["export_customers".to_string()]);
    let (v, after) = resource::show(&w.store, &op(), RESOURCE_URI).await.unwrap();
    assert_eq!((v, &after), (1, &before), "a dry run writes nothing");
    assert!(w
        .audit_rows(PLATFORM_CHAIN)
        .await
        .iter()
        .all(|r| r.action != "resource.catalogue_updated"));

    let d = update(&w, spec.clone(), false).await;
    assert!(d.applied);
    assert_eq!(d.to_version, 2);
    let (v, after) = resource::show(&w.store, &op(), RESOURCE_URI).await.unwrap();
    assert_eq!(v, 2);
    assert!(after
        .tools
        .iter()
        .any(|t| t.name == "export_customers" && t.description.as_deref() == Some("Export")));
    let (_, versions) = resource::versions(&w.store, &op(), RESOURCE_URI)
        .await
        .unwrap();
    let nums: Vec<i64> = versions.iter().map(|v| v.version).collect();
    assert_eq!(nums, vec![2, 1]);
    assert_eq!(versions[0].changed_by, "operator");
    assert_eq!(versions[0].summary, "tools added: 1");
    let audited: Vec<_> = w
        .audit_rows(PLATFORM_CHAIN)
        .await
        .into_iter()
        .filter(|r| r.action == "resource.catalogue_updated")
        .collect();
    assert_eq!(audited.len(), 1);
    let details: serde_json::Value = serde_json::from_str(&audited[0].details).unwrap();
    assert_eq!(details["version"], 2);
    assert_eq!(details["tools_added"], 1);

    // The same spec again changes nothing and bumps nothing.
    let d = update(&w, spec, false).await;
    assert!(d.is_empty() && !d.applied);
    assert_eq!(
        mcp_policy::stored_version(&w.store.db, &w.resource.id)
            .await
            .unwrap(),
        2
    );
}

#[tokio::test]
async fn removing_a_scope_revokes_what_carries_it_and_leaves_the_rest_alone() {
    let w = World::new().await;
    let acme = w.tenant("acme", "acme.example", &[READ, DELETE]).await;
    let beta = w.tenant("beta", "beta.example", &[READ]).await;
    let carrying = w.tokens(&acme, &[READ, DELETE]).await;
    let other = w.tokens(&beta, &[READ]).await;
    // A code approved before the update, exchanged after it.
    let pending = w.code_for(&acme, &w.client, &[READ, DELETE]).await;

    let d = update(&w, without_delete(), false).await;
    assert_eq!(d.scopes_removed, vec![DELETE.to_string()]);
    assert_eq!(d.revoking, vec![DELETE.to_string()]);
    let r = d.revoked.expect("applied");
    assert_eq!((r.grants_revoked, r.org_grants_removed), (1, 1));
    assert_eq!(r.tokens_revoked, 2, "the access and the refresh token");

    assert!(!w.active(&carrying.access_token).await);
    assert!(!refreshes(&w, carrying.refresh_token.as_deref().unwrap()).await);
    assert!(w.active(&other.access_token).await, "beta never held it");
    assert!(refreshes(&w, other.refresh_token.as_deref().unwrap()).await);
    let granted = grant::granted_scopes(&w.store.db, acme.id(), &w.resource.id)
        .await
        .unwrap();
    assert_eq!(granted, vec![READ.to_string()]);
    let remembered = consent::get(
        &w.store.db,
        &w.clock,
        acme.id(),
        &acme.user.id,
        &w.client.client_id,
        &w.resource.id,
    )
    .await
    .unwrap()
    .expect("consent to the rest is kept");
    assert_eq!(remembered.scopes, vec![READ.to_string()]);
    // No token is ever issued with the withdrawn scope: the pending code yields the rest.
    let late = w.exchange(&w.client, &pending).await.expect("exchange");
    assert_eq!(late.scope, READ);
    let revoked: Vec<_> = w
        .audit_rows(acme.id().as_str())
        .await
        .into_iter()
        .filter(|r| r.action == "grant.revoked")
        .collect();
    assert_eq!(revoked.len(), 1);
    assert!(revoked[0].details.contains("catalogue_scope_withdrawn"));
}

#[tokio::test]
async fn raising_a_tier_revokes_too_and_adding_a_tool_revokes_nothing() {
    let w = World::new().await;
    let acme = w.tenant("acme", "acme.example", &[READ, DELETE]).await;
    let read_only = w.tokens(&acme, &[READ]).await;
    let delete = w.tokens(&acme, &[DELETE]).await;

    let mut spec = crm();
    spec.tools.push(ToolSpec {
        name: "count_customers".into(),
        scopes: vec![READ.into()],
        description: None,
    });
    let d = update(&w, spec.clone(), false).await;
    assert_eq!(d.revoking, Vec::<String>::new());
    assert_eq!(d.revoked.unwrap(), Default::default());
    assert!(w.active(&read_only.access_token).await);
    assert!(w.active(&delete.access_token).await);

    // Lowering a tier withdraws nothing either.
    spec.scopes
        .iter_mut()
        .find(|s| s.name == DELETE)
        .unwrap()
        .tier = Tier::Routine;
    let d = update(&w, spec.clone(), false).await;
    assert!(d.revoking.is_empty());
    assert!(w.active(&delete.access_token).await);

    // Raising one revokes what carries it, and only that.
    spec.scopes
        .iter_mut()
        .find(|s| s.name == READ)
        .unwrap()
        .tier = Tier::Sensitive;
    let d = update(&w, spec, false).await;
    assert_eq!(d.tiers_changed.len(), 1);
    assert_eq!(d.revoking, vec![READ.to_string()]);
    assert!(!w.active(&read_only.access_token).await);
    assert!(w.active(&delete.access_token).await);
    let granted = grant::granted_scopes(&w.store.db, acme.id(), &w.resource.id)
        .await
        .unwrap();
    assert_eq!(
        granted,
        vec![DELETE.to_string()],
        "re-granted knowingly, not kept"
    );
    assert_eq!(
        mcp_policy::stored_version(&w.store.db, &w.resource.id)
            .await
            .unwrap(),
        4
    );
}

#[tokio::test]
async fn updates_are_validated_like_registrations_and_cannot_move_the_uri() {
    let w = World::new().await;
    let mut unknown = crm();
    unknown.tools[0].scopes.push("crm:nope".into());
    let e = resource::update(&w.store, &w.clock, &op(), RESOURCE_URI, unknown, false)
        .await
        .unwrap_err();
    assert!(matches!(e, CoreError::Invalid(_)), "{e}");
    let mut moved = crm();
    moved.uri = OTHER_RESOURCE_URI.into();
    let e = resource::update(&w.store, &w.clock, &op(), RESOURCE_URI, moved, false)
        .await
        .unwrap_err();
    assert!(matches!(e, CoreError::Invalid(_)), "{e}");
    let mut rule = crm();
    rule.prompts.push(mcp_policy::Rule {
        pattern: "*".into(),
        scopes: vec!["crm:nope".into()],
    });
    let e = resource::update(&w.store, &w.clock, &op(), RESOURCE_URI, rule, false)
        .await
        .unwrap_err();
    assert!(matches!(e, CoreError::Invalid(_)), "{e}");
    assert_eq!(
        mcp_policy::stored_version(&w.store.db, &w.resource.id)
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn a_second_node_sees_an_update_within_the_refresh_bound() {
    let (store_a, url) = authz_core::testkit::store_with_url().await;
    let store_b = Store::connect(&url).await.expect("node B");
    let clock = authz_core::testkit::clock();
    let reg = authz_core::resource::register(&store_a, &clock, crm_spec())
        .await
        .unwrap();
    let id = reg.resource.id.clone();
    let (_, before) = authz_core::resource::with_catalogue(&store_b, &store_b.db, &clock, &id)
        .await
        .unwrap();
    assert_eq!(before.len(), 3);

    let mut spec = crm_spec();
    spec.scopes.push(authz_core::resource::ScopeSpec {
        name: "crm:notes:read".into(),
        description: "Read notes".into(),
        tier: Tier::Routine,
    });
    spec.tools.push(ToolSpec {
        name: "read_notes".into(),
        scopes: vec!["crm:notes:read".into()],
        description: None,
    });
    spec.settings.share_identity = true;
    spec.resources.push(mcp_policy::Rule {
        pattern: "crm://notes/".into(),
        scopes: vec!["crm:notes:read".into()],
    });
    spec.prompts.push(mcp_policy::Rule {
        pattern: "*".into(),
        scopes: vec![READ.into()],
    });
    resource::update(&store_a, &clock, &op(), RESOURCE_URI, spec, false)
        .await
        .unwrap();
    // Node A dropped its copy at once; node B's holds until the bound.
    let (_, on_a) = authz_core::resource::with_catalogue(&store_a, &store_a.db, &clock, &id)
        .await
        .unwrap();
    assert_eq!(on_a.len(), 4);
    clock.advance_secs(CATALOGUE_REFRESH_SECS - 1);
    let (_, on_b) = authz_core::resource::with_catalogue(&store_b, &store_b.db, &clock, &id)
        .await
        .unwrap();
    assert_eq!(
        on_b.len(),
        3,
        "within the bound, node B may use what it holds"
    );
    clock.advance_secs(1);
    let (_, on_b) = authz_core::resource::with_catalogue(&store_b, &store_b.db, &clock, &id)
        .await
        .unwrap();
    assert_eq!(
        on_b.len(),
        4,
        "past the bound, node B has the new catalogue"
    );
    // The gateway's view, read at node B: the tool, the setting and the version.
    let p = mcp_policy::load(&store_b.db, &id).await.unwrap();
    assert_eq!(p.version, 2);
    assert_eq!(
        p.tool("read_notes"),
        mcp_policy::Need::Scopes(vec!["crm:notes:read".into()])
    );
    assert!(p.settings.share_identity && p.settings.filter_tools_list);
    assert_eq!(
        p.resource("crm://notes/7"),
        mcp_policy::Need::Scopes(vec!["crm:notes:read".into()])
    );
    assert_eq!(p.resource("crm://other/7"), mcp_policy::Need::Token);
    assert_eq!(p.prompt("any"), mcp_policy::Need::Scopes(vec![READ.into()]));
    assert_eq!(
        mcp_policy::stored_version(&store_b.db, &id).await.unwrap(),
        p.version
    );
}

/// Introspection as the CRM resource server, on the hot path (credentials and token in one
/// statement).
async fn as_rs(w: &World, token: String) -> introspect::Introspection {
    introspect::introspect_as(
        &w.store,
        &w.clock,
        ISSUER,
        &w.resource.rs_client_id,
        &w.rs_secret,
        &token,
    )
    .await
    .unwrap()
    .expect("credentials")
}

#[tokio::test]
async fn introspection_shares_email_and_name_only_when_the_resource_allows_it() {
    let w = World::new().await;
    let acme = w.tenant("acme", "acme.example", &[READ]).await;
    let t = w.tokens(&acme, &[READ]).await;
    let off = as_rs(&w, t.access_token.clone()).await;
    assert!(off.active);
    assert_eq!((off.email.as_deref(), off.name.as_deref()), (None, None));
    let json = serde_json::to_value(&off).unwrap();
    assert!(json.get("email").is_none() && json.get("name").is_none());

    let mut spec = crm();
    spec.settings.share_identity = true;
    update(&w, spec, false).await;
    let on = as_rs(&w, t.access_token.clone()).await;
    assert_eq!(on.email.as_deref(), Some("alice@acme.example"));
    assert_eq!(on.name.as_deref(), Some("Alice"));
    let on = w.introspect(&t.access_token).await;
    assert_eq!(on.email.as_deref(), Some("alice@acme.example"));
    // An inactive answer says nothing about anyone.
    let unknown = as_rs(&w, "not-a-token".into()).await;
    assert!(!unknown.active && unknown.email.is_none());
}
