//! IVR: call flows written in TOML (`ivr-flows/`), validated at load with
//! `file:line` errors, interpreted over a call handle; opening hours and
//! French public holidays.
#![warn(missing_docs)]

mod file0;
mod flow;
pub mod node;
mod prompt_files;
mod prompts;
mod run;
mod schedule;
pub mod script;

pub use file0::{Activation, File0, Mode};
pub use flow::{Flow, FlowError, FlowSet, Known};
pub use prompt_files::{Draft, PromptVersion};
pub use prompts::{PromptAudio, PromptInfo, PromptStore, UploadError};
pub use script::FlowScript;
