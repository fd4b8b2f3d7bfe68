//! Call control for softswitch: trunks and admission, the call registry, the
//! inbound call leg (B2BUA UAS side) and the handle scripts drive it with.
#![warn(missing_docs)]

pub mod acd;
mod dialer;
mod digest;
mod handle;
mod leg;
mod manager;
mod offer;
mod rate;
pub mod registrar;
mod registry;
mod shed;
mod trunk;

pub use dialer::{Destination, DialError, Dialer, Outbound};
pub use digest::SipAuth;
pub use handle::{CallHandle, CallInfo, CallPort, CallScript, HungUp, PlayResult, ScriptFuture};
pub use leg::outbound::{DialRequest, LegCmd, LegControl, LegEvent, LegFailure, OutboundRequest};
pub use leg::CallContext;
pub use manager::{CallLimits, CallManager};
pub use registrar::{Binding, RegEvent, Registrar, StaticUri};
pub use registry::CallRegistry;
pub use trunk::{InbandDtmf, OutboundTransport, TrunkConfig, TrunkError, Trunks};
