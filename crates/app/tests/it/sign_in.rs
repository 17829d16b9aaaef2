//! The sign-in use cases without HTTP: refusals that need no IdP, and the per-network limit's
//! bucket (the same key the issuer always used, so limits carry over across the move).
use app::sign_in::start::{self, LoginForm};
use app::sign_in::{saml, switch, Env, Limit, Restart, SignInError, Visitor};
use app::AnonymousBrowser;
use authz_core::{ratelimit, testkit};
use oidc_federation::OidcRp;
use safe_fetch::{FetchConfig, SafeFetcher};

fn rp() -> OidcRp {
    OidcRp::new(SafeFetcher::new(&FetchConfig::default()).expect("default fetcher"))
}

fn visitor(ip: &str) -> Visitor {
    Visitor {
        browser: AnonymousBrowser {
            ip: Some(ip.into()),
        },
        user_agent: Some("test".into()),
    }
}

#[tokio::test]
async fn login_form_counts_per_network_and_refuses_over_the_limit() {
    let (store, clock, key, rp) = (
        testkit::store().await,
        testkit::clock(),
        testkit::master_key(),
        rp(),
    );
    let env = Env {
        store: &store,
        clock: &clock,
        master_key: &key,
        issuer: "https://gh.test",
        rp: &rp,
        public_rp: &rp,
    };
    let form = || LoginForm {
        tx: None,
        email: None,
        connection: None,
        reauth: None,
    };
    for _ in 0..start::LOGIN_PER_MINUTE {
        let r = start::submit(&env, &visitor("192.0.2.7"), form(), None, |_| true, None).await;
        assert!(matches!(r, Err(SignInError::Restart(Restart::LinkExpired))));
    }
    let r = start::submit(&env, &visitor("192.0.2.7"), form(), None, |_| true, None).await;
    assert!(matches!(
        r,
        Err(SignInError::TooMany {
            limit: Limit::Login,
            retry_after: 1..=60
        })
    ));
    // The bucket is the issuer's: `login:` and the address key.
    let n = ratelimit::hit(&store.db, &clock, "login:192.0.2.7", 60)
        .await
        .unwrap();
    assert_eq!(n, start::LOGIN_PER_MINUTE + 2);
    // Another network has its own budget.
    let r = start::submit(&env, &visitor("198.51.100.1"), form(), None, |_| true, None).await;
    assert!(matches!(r, Err(SignInError::Restart(Restart::LinkExpired))));
}

#[tokio::test]
async fn unknown_saml_connection_and_forged_switch_are_refused() {
    let (store, clock, key, rp) = (
        testkit::store().await,
        testkit::clock(),
        testkit::master_key(),
        rp(),
    );
    let env = Env {
        store: &store,
        clock: &clock,
        master_key: &key,
        issuer: "https://gh.test",
        rp: &rp,
        public_rp: &rp,
    };
    let form = saml::AcsForm::Malformed;
    let r = saml::acs(&env, &visitor("192.0.2.7"), "nope", form).await;
    assert!(matches!(r, Err(SignInError::UnknownConnection)));
    for (secret, verified) in [(None, true), (Some("s"), false), (Some("s"), true)] {
        let r = switch::decide(&env, secret, |_| verified, true).await;
        assert!(matches!(r, Err(SignInError::SwitchRefused)));
    }
}
