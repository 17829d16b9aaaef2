//! The guided connection set-up (issue 16 §3): the values to paste come before any secret is
//! asked for, they carry the id the connection is then created with, and a refused form comes
//! back with the error next to its field and the admin's input kept (never the secret).
use super::{app, csrf, fixture, send};
use authz_core::connection;

const METADATA: &str = include_str!("../../../../../../saml/tests/fixtures/idp-metadata.xml");

/// The text of every `role="alert"` element of a page (the errors it shows).
pub fn alerts(body: &str) -> String {
    let mut out = String::new();
    for part in body.split("role=\"alert\"").skip(1) {
        let text = part.split_once('>').map_or("", |(_, t)| t);
        out.push_str(text.split("</").next().unwrap_or_default());
        out.push('\n');
    }
    out
}

/// The page as a reader sees its attribute values (minijinja escapes `/` and quotes).
fn unescape(body: &str) -> String {
    body.replace("&#x2f;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

/// The value of the read-only field `data-value="{key}"` on a guide page.
fn shown_value(body: &str, key: &str) -> String {
    let at = body
        .find(&format!("data-value=\"{key}\""))
        .unwrap_or_else(|| panic!("no {key} on the page:\n{body}"));
    let rest = &body[at..];
    let v = &rest[rest.find(" value=\"").unwrap() + 8..];
    unescape(&v[..v.find('"').unwrap()])
}

fn enc(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap()
}

#[actix_web::test]
async fn the_guided_set_up_shows_the_values_first_and_creates_the_connection_they_name() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let cookie = Some(("gh_session", fx.admin.cookie.as_str()));
    let token = csrf(&fx.admin.cookie);

    // Step 1: the choice, no secret field.
    let (status, _, body) = send(&app, "GET", "/admin/t/acme/connections/new", cookie, None).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Step 1 of 3") && body.contains("Google Workspace"));
    assert!(!body.contains("client_secret"));

    // Every IdP × protocol has its page, its values and its must-have box.
    for idp in ["entra", "okta", "google", "generic"] {
        for kind in ["oidc", "saml"] {
            let url = format!("/admin/t/acme/connections/new?idp={idp}&kind={kind}");
            let (status, to, _) = send(&app, "GET", &url, cookie, None).await;
            assert_eq!(status, 303, "{idp} {kind}");
            let (status, _, body) = send(&app, "GET", &to, cookie, None).await;
            assert_eq!(status, 200, "{idp} {kind}: {body}");
            assert!(body.contains("data-must-have"), "{idp} {kind}");
            assert!(!body.contains("name=\"client_secret\""), "{idp} {kind}");
            let first = if kind == "oidc" {
                "redirect_uri"
            } else {
                "sp_entity_id"
            };
            assert!(shown_value(&body, first).contains(to.rsplit('=').next().unwrap()));
        }
    }
    let (_, to, _) = send(
        &app,
        "GET",
        "/admin/t/acme/connections/new?idp=entra&kind=oidc",
        cookie,
        None,
    )
    .await;
    let (_, _, body) = send(&app, "GET", &to, cookie, None).await;
    assert!(body.contains("auth_time"), "{body}");
    let (_, to, _) = send(
        &app,
        "GET",
        "/admin/t/acme/connections/new?idp=okta&kind=saml",
        cookie,
        None,
    )
    .await;
    let (_, _, body) = send(&app, "GET", &to, cookie, None).await;
    assert!(
        body.contains("user.getInternalProperty(&quot;id&quot;)")
            || body.contains("user.getInternalProperty(\"id\")"),
        "{body}"
    );

    // Okta SAML: step 2, reloaded: the same id and values.
    let id = to.rsplit('=').next().unwrap().to_string();
    let acs = shown_value(&body, "acs_url");
    let entity = shown_value(&body, "sp_entity_id");
    assert!(acs.contains(&id));
    let (_, _, again) = send(&app, "GET", &to, cookie, None).await;
    assert_eq!(shown_value(&again, "acs_url"), acs);
    // Abandoned: nothing stored.
    assert_eq!(
        connection::list(&fx.store.db, &fx.acme)
            .await
            .unwrap()
            .len(),
        1
    );

    // Step 3: the form carries the id.
    let (status, _, form) = send(&app, "GET", &format!("{to}&step=3"), cookie, None).await;
    assert_eq!(status, 200);
    assert!(
        form.contains(&format!("name=\"id\" value=\"{id}\"")),
        "{form}"
    );
    let post = enc(&[
        ("csrf", &token),
        ("id", &id),
        ("guide_idp", "okta"),
        ("preset", "okta"),
        ("name", "Okta"),
        ("metadata", METADATA),
    ]);
    let (status, location, body) = send(
        &app,
        "POST",
        "/admin/t/acme/connections/saml",
        cookie,
        Some(post.clone()),
    )
    .await;
    assert_eq!(status, 303, "{body}");
    assert!(location.contains(&format!("added={id}")));
    let conn = connection::get(&fx.store.db, &fx.acme, &id).await.unwrap();
    assert_eq!(conn.preset, "okta");
    // The values the connection uses are the ones shown before it existed.
    let (_, _, list) = send(&app, "GET", &location, cookie, None).await;
    assert!(
        unescape(&list).contains(&format!("value=\"{acs}\""))
            && unescape(&list).contains(&format!("value=\"{entity}\""))
    );
    assert!(list.contains("role=\"status\"") && list.contains("Test sign-in"));
    assert_eq!(acs, saml::sp::acs_url("http://gatehouse.test", &id));

    // Submitted twice: refused inline, nothing added; step 2 of a used id shows the connection.
    let (status, _, body) = send(
        &app,
        "POST",
        "/admin/t/acme/connections/saml",
        cookie,
        Some(post),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(alerts(&body).contains("already"), "{body}");
    let (status, location, _) = send(&app, "GET", &to, cookie, None).await;
    assert_eq!((status, location.contains(&id)), (303, true));
    assert_eq!(
        connection::list(&fx.store.db, &fx.acme)
            .await
            .unwrap()
            .len(),
        2
    );

    // A malformed id is refused, on step 2 and on the form.
    let (status, _, _) = send(
        &app,
        "GET",
        "/admin/t/acme/connections/new?idp=okta&kind=saml&id=../x",
        cookie,
        None,
    )
    .await;
    assert_eq!(status, 400);
    let post = enc(&[
        ("csrf", &token),
        ("id", "NOT-AN-ID"),
        ("preset", "okta"),
        ("name", "x"),
        ("metadata", METADATA),
    ]);
    let (status, _, body) = send(
        &app,
        "POST",
        "/admin/t/acme/connections/saml",
        cookie,
        Some(post),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(alerts(&body).contains("malformed"), "{body}");
    assert_eq!(
        connection::list(&fx.store.db, &fx.acme)
            .await
            .unwrap()
            .len(),
        2
    );
}

#[actix_web::test]
async fn a_refused_connection_form_shows_the_error_next_to_the_field_and_keeps_the_input() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let cookie = Some(("gh_session", fx.admin.cookie.as_str()));
    let token = csrf(&fx.admin.cookie);
    let id = connection::allocate_id();
    let post = enc(&[
        ("csrf", &token),
        ("id", &id),
        ("guide_idp", "okta"),
        ("preset", "okta"),
        ("name", "Corp Okta"),
        ("issuer", "http://not-https.example"),
        ("client_id", "0oa-kept"),
        ("client_secret", "SECRET-NEVER-ECHOED"),
    ]);
    let (status, _, body) = send(
        &app,
        "POST",
        "/admin/t/acme/connections/oidc",
        cookie,
        Some(post),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let body = unescape(&body);
    assert!(
        body.contains("id=\"issuer\" name=\"issuer\" value=\"http://not-https.example\""),
        "{body}"
    );
    assert!(
        body.contains("aria-invalid=\"true\" aria-describedby=\"issuer-error\""),
        "{body}"
    );
    assert!(
        body.contains("id=\"issuer-error\" role=\"alert\""),
        "{body}"
    );
    assert!(body.contains("value=\"0oa-kept\"") && body.contains("value=\"Corp Okta\""));
    assert!(!body.contains("SECRET-NEVER-ECHOED"));
    // Still the guided step 3, with the same id.
    assert!(body.contains(&format!("name=\"id\" value=\"{id}\"")));
    // A missing secret is named at its field.
    let post = enc(&[
        ("csrf", &token),
        ("preset", "generic"),
        ("issuer", "https://idp.example"),
        ("client_id", "c"),
    ]);
    let (status, _, body) = send(
        &app,
        "POST",
        "/admin/t/acme/connections/oidc",
        cookie,
        Some(post),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body.contains("id=\"client_secret-error\" role=\"alert\""),
        "{body}"
    );
    // SAML without metadata: at the metadata field.
    let post = enc(&[("csrf", &token), ("preset", "generic"), ("name", "S")]);
    let (status, _, body) = send(
        &app,
        "POST",
        "/admin/t/acme/connections/saml",
        cookie,
        Some(post),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body.contains("id=\"metadata-error\" role=\"alert\""),
        "{body}"
    );
    assert_eq!(
        connection::list(&fx.store.db, &fx.acme)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[actix_web::test]
async fn domain_and_scim_token_forms_show_their_errors_inline_and_a_success_flash() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let cookie = Some(("gh_session", fx.admin.cookie.as_str()));
    let token = csrf(&fx.admin.cookie);
    let post = enc(&[("csrf", &token), ("domain", "not a domain!")]);
    let (status, _, body) = send(&app, "POST", "/admin/t/acme/domains", cookie, Some(post)).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("id=\"domain-error\" role=\"alert\""),
        "{body}"
    );
    assert!(body.contains("aria-invalid=\"true\""), "{body}");
    assert!(body.contains("value=\"not a domain!\""), "{body}");
    assert!(
        body.contains("<h1>Domains</h1>"),
        "the page itself, not an error page"
    );
    let post = enc(&[("csrf", &token), ("domain", "widgets.example")]);
    let (status, location, _) =
        send(&app, "POST", "/admin/t/acme/domains", cookie, Some(post)).await;
    assert_eq!(status, 303);
    let (_, _, body) = send(&app, "GET", &location, cookie, None).await;
    assert!(
        body.contains("role=\"status\"") && body.contains("widgets.example added"),
        "{body}"
    );

    let post = enc(&[
        ("csrf", &token),
        ("name", "Entra sync"),
        ("expires_in_days", "999"),
    ]);
    let (status, _, body) = send(
        &app,
        "POST",
        "/admin/t/acme/scim/tokens",
        cookie,
        Some(post),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("id=\"days-error\" role=\"alert\""), "{body}");
    assert!(body.contains("value=\"Entra sync\""), "{body}");
    let post = enc(&[("csrf", &token), ("expires_in_days", "30")]);
    let (status, _, body) = send(
        &app,
        "POST",
        "/admin/t/acme/scim/tokens",
        cookie,
        Some(post),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("id=\"name-error\" role=\"alert\""), "{body}");
    assert!(body.contains("value=\"30\""), "{body}");
}

#[actix_web::test]
async fn a_refused_service_account_is_shown_on_the_list_page_with_the_error_at_its_field() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let cookie = Some(("gh_session", fx.admin.cookie.as_str()));
    let token = csrf(&fx.admin.cookie);
    let post = enc(&[("csrf", &token), ("name", "nightly-report")]);
    let (status, _, body) = send(
        &app,
        "POST",
        "/admin/t/acme/service-accounts",
        cookie,
        Some(post),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("id=\"grants-error\" role=\"alert\""),
        "{body}"
    );
    assert!(body.contains("value=\"nightly-report\""), "{body}");
    let post = enc(&[
        ("csrf", &token),
        ("name", "nightly-report"),
        ("grants", "https://unknown.example/mcp files:read"),
    ]);
    let (status, _, body) = send(
        &app,
        "POST",
        "/admin/t/acme/service-accounts",
        cookie,
        Some(post),
    )
    .await;
    assert!(status == 400 || status == 404, "{status}: {body}");
    assert!(
        body.contains("Create a service account"),
        "the list page, not an error page"
    );
    assert!(!alerts(&body).is_empty(), "{body}");
    assert!(
        unescape(&body).contains("https://unknown.example/mcp files:read"),
        "{body}"
    );
}

#[actix_web::test]
async fn refused_settings_and_invitations_are_shown_on_the_settings_page() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let cookie = Some(("gh_session", fx.admin.cookie.as_str()));
    let token = csrf(&fx.admin.cookie);
    let post = enc(&[("csrf", &token), ("email", "not-an-address")]);
    let (status, _, body) = send(
        &app,
        "POST",
        "/admin/t/acme/settings/admins/invite",
        cookie,
        Some(post),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("id=\"invite-error\" role=\"alert\""),
        "{body}"
    );
    assert!(body.contains("value=\"not-an-address\""), "{body}");
    let post = enc(&[
        ("csrf", &token),
        ("routine_token_minutes", "99999"),
        ("reconsent_days", "45"),
        ("admin_group", "grp-typed"),
        ("provisioning", "scim"),
    ]);
    let (status, _, body) = send(&app, "POST", "/admin/t/acme/settings", cookie, Some(post)).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("id=\"settings-error\" role=\"alert\""),
        "{body}"
    );
    // What the admin typed comes back, the refused value included, so it can be corrected.
    for kept in [
        r#"name="routine_token_minutes" value="99999""#,
        r#"name="reconsent_days" value="45""#,
        r#"name="admin_group" value="grp-typed""#,
        r#"<option value="scim" selected>"#,
    ] {
        assert!(body.contains(kept), "{kept} in {body}");
    }
    assert!(body.contains("Administrators"), "the settings page itself");
}
