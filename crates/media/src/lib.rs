//! Media for softswitch: G.711, SDP offer/answer, RTP sessions, DTMF (RFC 4733,
//! SIP INFO, in-band), shared prompts and the batched, paced media engine.

#![warn(missing_docs)]

mod bridge;
pub mod clean;
pub mod codec;
pub mod dtmf;
pub mod engine;
pub mod g711;
pub mod load;
pub mod mmsg;
mod pacer;
mod peer;
mod ports;
pub mod priority;
pub mod prompt;
pub mod record;
pub mod rtp;
pub mod sdp;
pub mod stats;

pub use codec::{Codec, FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE};
pub use dtmf::{DtmfError, DtmfEvent, DtmfSource};
pub use prompt::{Prompt, PromptError, PromptLibrary};
pub use sdp::{Direction, Negotiated, SdpError, SessionDescription};
