use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::json;

use super::auth::claims_hold;
use crate::jose::Jws;

fn jws(header: serde_json::Value, claims: serde_json::Value) -> Jws {
    let e = |v: &serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
    Jws::parse(&format!("{}.{}.c2ln", e(&header), e(&claims))).unwrap()
}

const AUD: [&str; 2] = ["https://gh.test/oauth/token", "https://gh.test"];

fn claims(now: i64) -> serde_json::Value {
    json!({"iss": "svc_1", "sub": "svc_1", "aud": "https://gh.test", "exp": now + 300, "iat": now, "jti": "j1"})
}

#[test]
fn a_well_formed_assertion_passes_the_claim_checks() {
    let now = 1_000_000;
    let h = json!({"alg": "ES256", "typ": "JWT"});
    assert_eq!(
        claims_hold(&jws(h.clone(), claims(now)), "svc_1", now, &AUD),
        Ok(())
    );
    let mut c = claims(now);
    c["aud"] = json!(["https://other", "https://gh.test/oauth/token"]);
    assert_eq!(claims_hold(&jws(h, c), "svc_1", now, &AUD), Ok(()));
}

#[test]
fn assertions_breaking_rfc_7523_section_3_are_refused() {
    let now = 1_000_000;
    let h = json!({"alg": "ES256"});
    let bad = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut c = claims(now);
        f(&mut c);
        claims_hold(&jws(h.clone(), c), "svc_1", now, &AUD).unwrap_err()
    };
    assert!(bad(&|c| c["aud"] = json!("https://elsewhere")).contains("aud"));
    assert!(bad(&|c| c["iss"] = json!("svc_2")).contains("iss"));
    assert!(bad(&|c| c["sub"] = json!("svc_2")).contains("sub"));
    assert!(bad(&|c| c["exp"] = json!(now - 120)).contains("expired"));
    assert!(bad(&|c| c["exp"] = json!(now + 7200)).contains("too long"));
    assert!(bad(&|c| c["iat"] = json!(now + 600)).contains("future"));
    assert!(bad(&|c| {
        c.as_object_mut().unwrap().remove("jti");
    })
    .contains("jti"));
    assert!(bad(&|c| {
        c.as_object_mut().unwrap().remove("exp");
    })
    .contains("exp"));
    let dpop = jws(json!({"alg": "ES256", "typ": "dpop+jwt"}), claims(now));
    assert!(claims_hold(&dpop, "svc_1", now, &AUD).is_err());
}

#[test]
fn keys_must_be_public_and_urls_https() {
    use super::Keys;
    assert!(Keys::parse("http://keys.example/jwks").is_err());
    assert!(Keys::parse("https://keys.example/jwks").is_ok());
    assert!(
        Keys::parse(r#"{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b","d":"secret"}]}"#)
            .is_err()
    );
    assert!(Keys::parse(r#"{"kty":"oct","k":"c2VjcmV0"}"#).is_err());
    assert!(Keys::parse(r#"{"kty":"EC","crv":"P-256","x":"a","y":"b"}"#).is_ok());
    assert!(Keys::parse("not json").is_err());
}
