//! Call detail records: events from the call layer, folded into one record
//! per call and appended to a durable JSONL journal.
#![warn(missing_docs)]

pub mod agents;
mod event;
mod eventlog;
pub mod export;
mod journal;
mod jsonl;
pub mod push;
pub mod record;
pub mod uptime;
pub mod xlsx;

pub use event::{new_record_id, CallEvent, DigitSource, EventKind, Party};
pub use journal::{read_records, CdrSink, FsyncPolicy, Journal, JournalConfig, RecordHook};
pub use record::{classify_caller, dissuasion_of, CallRecord, CallerClass, FoldOptions, Outcome};
