//! The end-user account page (`/account`): who is signed in, the applications they allowed, and
//! how to withdraw one or sign out. Every use case takes the [`SignedInUser`](crate::SignedInUser)
//! of the browser's live session.
pub mod overview;
pub mod revoke;
pub mod sign_out;
