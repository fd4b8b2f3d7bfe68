//! SIP for softswitch: the rsip shim, a sans-IO transaction layer, dialogs,
//! digest auth and its failure limits, and the tokio transport edge (UDP,
//! TCP, TLS and WebSocket) that drives them.
#![warn(missing_docs)]

pub mod auth;
mod dialog;
pub mod endpoint;
pub mod guard;
pub mod message;
pub mod parse;
mod stream;
pub mod throttle;
pub mod tls;
pub mod transaction;
mod ws;

pub use dialog::{
    Dialog, DialogConfig, DialogError, DialogEvent, DialogMachine, DialogOutput, EndReason,
};
pub use endpoint::{Endpoint, EndpointConfig, SipEvent};
pub use message::Essentials;
pub use parse::{parse, split_list as parse_list, ParseError};
pub use rsip;
pub use stream::StreamLimits;
pub use transaction::{
    cancel_for, ClientTxId, Peer, ServerTxId, TimerConfig, Transactions, Transport, TxEvent,
};
