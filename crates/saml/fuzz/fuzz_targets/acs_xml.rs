//! The decoded response XML straight into `validate` (precheck, samael/xmlsec signature
//! reduction, the SAML condition checks), so that libFuzzer mutates the XML itself rather than
//! its base64. Any panic is a finding; errors are the expected outcome.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The ACS only ever sees UTF-8 (decode_post refuses anything else).
    if let Ok(xml) = std::str::from_utf8(data) {
        let _ = saml_fuzz::validate(xml);
    }
});
