//! What can go wrong in this crate: words from a command line or a config
//! file that name nothing known, and JSON output.

/// An error of the KPI engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown period {0:?}: expected halfhour, hour, day, week or month")]
    UnknownPeriod(String),
    #[error("unknown grouping {0:?}: expected queue, flow or did")]
    UnknownDimension(String),
    #[error("unknown format {0:?}: expected table, csv or json")]
    UnknownFormat(String),
    #[error("unknown KPI {name:?} in [sla.targets]: expected one of {known}")]
    UnknownKpi { name: String, known: String },
    #[error("unknown time zone {0:?}: expected an IANA name such as \"Europe/Paris\"")]
    UnknownTimeZone(String),
    #[error("{0:?} cannot separate CSV fields: use one character other than '\"', '.', CR or LF")]
    BadSeparator(char),
    #[error("JSON output: {0}")]
    Json(#[from] serde_json::Error),
}
