//! Dialogs (RFC 3261 section 12): the identifiers and route set of one
//! dialog ([`Dialog`]), and the sans-IO machine every call leg drives
//! ([`DialogMachine`]), the same for both sides of the INVITE, with RFC 4028
//! session timers (`session_timer`).

mod ids;
mod machine;
mod session_timer;
#[cfg(test)]
mod tests;

pub use ids::Dialog;
pub use machine::{DialogConfig, DialogError, DialogEvent, DialogMachine, DialogOutput, EndReason};
