pub mod common;
mod endpoints;
mod sequences;
