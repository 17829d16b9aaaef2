//! A login transaction as the browser carries it: the `?tx=` handle of the login and consent
//! pages, and where a completed sign-in continues.

#[derive(serde::Deserialize)]
pub struct TxQuery {
    pub tx: Option<String>,
}

/// The consent step of transaction `tx`.
pub fn consent_url(issuer: &str, tx: &str) -> String {
    format!("{issuer}/consent?tx={tx}")
}
