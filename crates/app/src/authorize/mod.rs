//! The authorization request (RFC 6749 §4.1, OAuth 2.1, DESIGN §4): [`start`] validates what
//! the client asked for and decides where the browser goes next; [`finish`] is the consent
//! step, which records the person's decision and issues the code.
pub mod finish;
pub mod start;
