//! Dialogs (RFC 3261 section 12): the identifiers and route set of one
//! dialog ([`Dialog`]), and the sans-IO machine every call leg drives
//! ([`DialogMachine`]), the same for both sides of the INVITE, with RFC 4028
//! session timers ([`SessionTimer`]).

mod ids;
mod machine;
mod session_timer;
#[cfg(test)]
mod tests;

pub use ids::{CSeqOrder, Dialog};
pub use machine::{
    DialogConfig, DialogError, DialogEvent, DialogMachine, DialogOutput, EndReason, Role,
};
pub use session_timer::{SessionTimer, TooSmall, MIN_SE};
