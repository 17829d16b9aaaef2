//! The tamper-evident audit log (DESIGN §8).
//!
//! Writers append a record in the same transaction as the change it describes (§6.5); a sealer
//! per tenant later assigns a gap-free sequence and `hash = SHA-256(prev_hash || canonical)` in
//! commit order — an `audit_seals` row per record, so a record is never updated (ADR 0026) —
//! and signs a checkpoint with an Ed25519 key that never enters the database.
//! `verify` recomputes the chain and checks every checkpoint, so an altered, removed or
//! truncated record is found even if the attacker recomputed the hashes.
mod canonical;
pub mod names;
pub mod origin;
mod page;
mod record;
pub mod retention;
mod seal;
pub mod sealed;
pub mod search;
mod verify;

pub use canonical::{canonical_into, canonical_record, chain_hash, chain_hash_bytes, GENESIS_HASH};
pub use ed25519_dalek::{SigningKey, VerifyingKey};
pub use origin::RequestOrigin;
pub(crate) use record::row_of;
pub use record::{
    record, record_all, sanitize_parameters, sanitize_parameters_within, AuditEvent, PLATFORM_CHAIN,
};
pub(crate) use seal::{custom_plans, Window};
pub use seal::{seal_all, signed_checkpoint_message};
pub use sealed::Sealed;
#[cfg(feature = "testkit")]
pub use verify::verify_chain_in_pages;
pub use verify::{verify_chain, verify_chain_with_keys, VerifyReport};
