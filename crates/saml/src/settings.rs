//! What a SAML connection stores (its `settings` column).
/// What a SAML connection stores in `settings`.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct SamlSettings {
    pub idp_metadata: String,
    pub sp_certificate: String,
    pub mapping: crate::mapping::Mapping,
    #[serde(default = "default_skew")]
    pub skew_secs: i64,
    /// IdP-initiated SSO: an unsolicited response starts a Gatehouse session and lands on
    /// `/account`; it never issues an authorization code (no client request, PKCE or state to
    /// bind it to). Off unless enabled per connection.
    #[serde(default)]
    pub allow_idp_initiated: bool,
}

fn default_skew() -> i64 {
    180
}
