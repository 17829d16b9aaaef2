//! The ACS path end to end: the bytes are the HTTP-POST binding's `SAMLResponse` form value
//! (base64 text, read as lossy UTF-8), decoded with `decode_post`, then validated against the
//! fixed test world. Any panic is a finding; errors are the expected outcome.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let b64 = String::from_utf8_lossy(data);
    if let Ok(xml) = saml::validate::decode_post(&b64) {
        let _ = saml_fuzz::validate(&xml);
    }
});
