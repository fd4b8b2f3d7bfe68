//! KPI engine over call records: pure functions from `cdr::CallRecord`s to
//! the figures of REQUIREMENTS.md section D, grouped by time slot, queue,
//! flow, DID and business hours, checked against the tenders' targets and
//! rendered as a table, CSV or JSON. No I/O: the caller loads the records.

#![warn(missing_docs)]

pub mod config;
mod error;
pub mod facts;
pub mod format;
pub mod group;
pub mod history;
pub mod kpi;
pub mod live;
pub mod report;
pub mod target;
pub mod today;

pub use config::SlaConfig;
pub use error::Error;
pub use format::Format;
pub use group::{Dimension, Grouping, HoursFn, Period};
pub use history::History;
pub use kpi::{Scope, Value};
pub use report::{report, ReportLine, Unit};
pub use target::{Direction, Status, Target, Targets};
