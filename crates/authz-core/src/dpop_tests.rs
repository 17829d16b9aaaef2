//! Every rule of RFC 9449 §4.3, each failing on its own.
use super::*;
use crate::testkit::dpop::DpopKey;
use serde_json::json;

const NOW_US: i64 = crate::testkit::T0_US;
const NOW: i64 = NOW_US / MICROS;
const URL: &str = "https://as.example.com/oauth/token";

fn nonces() -> NonceKey {
    NonceKey::derive(&[9u8; 32])
}

fn expect(n: &NonceKey) -> Expect<'_> {
    Expect {
        method: "POST",
        url: URL,
        access_token: None,
        now_us: NOW_US,
        nonces: n,
    }
}

fn nonce() -> String {
    nonces().current(NOW_US)
}

fn invalid(r: Result<Proof, DpopError>) -> String {
    match r {
        Err(DpopError::Invalid(m)) => m,
        other => panic!("expected invalid_dpop_proof, got {other:?}"),
    }
}

#[test]
fn a_valid_proof_yields_the_key_thumbprint() {
    let k = DpopKey::new(1);
    let n = nonces();
    let p = k.proof("POST", URL, NOW, Some(&nonce()), None);
    let proof = check(&[&p], &expect(&n)).unwrap();
    assert_eq!(proof.jkt, k.jkt());
    assert_eq!(proof.iat, NOW);
}

#[test]
fn one_header_holding_one_jws() {
    let k = DpopKey::new(1);
    let n = nonces();
    let p = k.proof("POST", URL, NOW, Some(&nonce()), None);
    assert!(invalid(check(&[], &expect(&n))).contains("exactly one"));
    assert!(invalid(check(&[&p, &p], &expect(&n))).contains("exactly one"));
    let joined = format!("{p}, {p}");
    assert!(invalid(check(&[&joined], &expect(&n))).contains("compact JWS"));
}

#[test]
fn typ_alg_and_jwk_are_checked() {
    let k = DpopKey::new(1);
    let n = nonces();
    let with_header = |name: &str, v: Value| {
        let mut s = k.claims("POST", URL, NOW, Some(&nonce()), None);
        if v.is_null() {
            s.header.as_object_mut().unwrap().remove(name);
        } else {
            s.header[name] = v;
        }
        k.sign(&s)
    };
    assert!(invalid(check(&[&with_header("typ", json!("JWT"))], &expect(&n))).contains("typ"));
    assert!(invalid(check(&[&with_header("typ", Value::Null)], &expect(&n))).contains("typ"));
    for alg in ["none", "HS256"] {
        assert!(invalid(check(&[&with_header("alg", json!(alg))], &expect(&n))).contains(alg));
    }
    assert!(invalid(check(&[&with_header("jwk", Value::Null)], &expect(&n))).contains("jwk"));
    let mut private = k.jwk();
    private["d"] = json!("AAAA");
    assert!(invalid(check(&[&with_header("jwk", private)], &expect(&n))).contains("private"));
    // Another key in the header than the one that signed.
    let other = DpopKey::new(2).jwk();
    assert!(invalid(check(&[&with_header("jwk", other)], &expect(&n))).contains("verify"));
}

#[test]
fn a_tampered_proof_does_not_verify() {
    let k = DpopKey::new(1);
    let n = nonces();
    let p = k.proof("POST", URL, NOW, Some(&nonce()), None);
    let other = k.proof("GET", URL, NOW, Some(&nonce()), None);
    let parts: Vec<&str> = p.split('.').collect();
    let o: Vec<&str> = other.split('.').collect();
    let forged = format!("{}.{}.{}", parts[0], o[1], parts[2]);
    assert!(invalid(check(&[&forged], &expect(&n))).contains("verify"));
}

#[test]
fn required_claims() {
    let k = DpopKey::new(1);
    let n = nonces();
    for claim in ["jti", "iat", "htm", "htu"] {
        let mut s = k.claims("POST", URL, NOW, Some(&nonce()), None);
        s.claims.as_object_mut().unwrap().remove(claim);
        assert!(
            invalid(check(&[&k.sign(&s)], &expect(&n))).contains(claim),
            "{claim}"
        );
    }
    let mut s = k.claims("POST", URL, NOW, Some(&nonce()), None);
    s.claims["jti"] = json!("x".repeat(300));
    assert!(invalid(check(&[&k.sign(&s)], &expect(&n))).contains("jti"));
}

#[test]
fn htm_must_be_the_method() {
    let k = DpopKey::new(1);
    let n = nonces();
    for htm in ["GET", "post"] {
        let p = k.proof(htm, URL, NOW, Some(&nonce()), None);
        assert!(invalid(check(&[&p], &expect(&n))).contains("htm"));
    }
}

#[test]
fn htu_is_compared_without_query_and_fragment_after_normalisation() {
    let k = DpopKey::new(1);
    let n = nonces();
    for ok in [
        URL,
        "https://AS.example.com:443/oauth/token",
        "HTTPS://as.example.com/oauth/./token?x=1#f",
    ] {
        let p = k.proof("POST", ok, NOW, Some(&nonce()), None);
        check(&[&p], &expect(&n)).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    for bad in [
        "https://as.example.com/oauth/token/",
        "http://as.example.com/oauth/token",
        "https://as.example.com:8443/oauth/token",
        "https://other.example.com/oauth/token",
        "/oauth/token",
        "urn:x:y",
    ] {
        let p = k.proof("POST", bad, NOW, Some(&nonce()), None);
        assert!(invalid(check(&[&p], &expect(&n))).contains("htu"), "{bad}");
    }
}

#[test]
fn ath_is_required_with_a_token_and_must_match_it() {
    let k = DpopKey::new(1);
    let n = nonces();
    let e = Expect {
        access_token: Some("tok"),
        ..expect(&n)
    };
    check(
        &[&k.proof("POST", URL, NOW, Some(&nonce()), Some("tok"))],
        &e,
    )
    .unwrap();
    assert!(invalid(check(
        &[&k.proof("POST", URL, NOW, Some(&nonce()), None)],
        &e
    ))
    .contains("ath"));
    assert!(invalid(check(
        &[&k.proof("POST", URL, NOW, Some(&nonce()), Some("other"))],
        &e
    ))
    .contains("ath"));
    // RFC 9449 §7.1 example: ath of "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU".
    assert_eq!(
        ath("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
        "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    );
}

#[test]
fn iat_must_be_within_the_window() {
    let k = DpopKey::new(1);
    let n = nonces();
    for iat in [NOW - IAT_WINDOW_SECS, NOW + IAT_WINDOW_SECS] {
        check(
            &[&k.proof("POST", URL, iat, Some(&nonce()), None)],
            &expect(&n),
        )
        .unwrap();
    }
    for iat in [NOW - IAT_WINDOW_SECS - 1, NOW + IAT_WINDOW_SECS + 1] {
        let p = k.proof("POST", URL, iat, Some(&nonce()), None);
        assert!(invalid(check(&[&p], &expect(&n))).contains("iat"));
    }
}

#[test]
fn a_current_server_nonce_is_required() {
    let k = DpopKey::new(1);
    let n = nonces();
    let without = k.proof("POST", URL, NOW, None, None);
    assert_eq!(check(&[&without], &expect(&n)), Err(DpopError::UseNonce));
    let forged = k.proof(
        "POST",
        URL,
        NOW,
        Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        None,
    );
    assert_eq!(check(&[&forged], &expect(&n)), Err(DpopError::UseNonce));
    // Another server's nonce (another key) is not ours.
    let theirs = NonceKey::derive(&[8u8; 32]).current(NOW_US);
    let p = k.proof("POST", URL, NOW, Some(&theirs), None);
    assert_eq!(check(&[&p], &expect(&n)), Err(DpopError::UseNonce));
    assert_eq!(DpopError::UseNonce.code(), "use_dpop_nonce");
}

#[test]
fn a_nonce_lives_for_its_slot_and_the_next() {
    let n = nonces();
    let slot = NONCE_SLOT_SECS * MICROS;
    let issued = n.current(NOW_US);
    assert!(n.accepts(&issued, NOW_US));
    assert!(n.accepts(&issued, NOW_US + slot));
    assert!(!n.accepts(&issued, NOW_US + 2 * slot));
    assert!(!n.accepts(&issued, NOW_US - slot));
    assert!(!n.accepts("not base64!", NOW_US));
    // Every node derives the same key from the same secret.
    assert_eq!(NonceKey::derive(&[9u8; 32]).current(NOW_US), issued);
}

#[tokio::test]
async fn a_jti_is_used_once_per_key() {
    let store = crate::testkit::store().await;
    let k = DpopKey::new(1);
    let n = nonces();
    let p = k.proof("POST", URL, NOW, Some(&nonce()), None);
    let proof = check(&[&p], &expect(&n)).unwrap();
    assert!(use_once(&store.db, &proof).await.unwrap());
    assert!(!use_once(&store.db, &proof).await.unwrap());
}
