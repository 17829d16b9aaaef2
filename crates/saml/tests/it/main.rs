//! The SAML crate's integration tests, one binary: the attack corpus, the IdP guides and the
//! attribute mapping.
mod corpus;
mod guides;
mod mapping;
