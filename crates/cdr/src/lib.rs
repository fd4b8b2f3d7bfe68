//! Call detail records: events from the call layer, folded into one record
//! per call and appended to a durable JSONL journal.

pub mod agents;
pub mod event;
mod eventlog;
pub mod export;
pub mod journal;
mod jsonl;
pub mod push;
pub mod record;
pub mod uptime;
pub mod xlsx;

pub use event::{new_record_id, CallEvent, DigitSource, EventKind, Party};
pub use journal::{read_records, CdrSink, FsyncPolicy, Journal, JournalConfig, RecordHook};
pub use record::{classify_caller, dissuasion_of, CallRecord, CallerClass, FoldOptions, Outcome};
