//! What can go wrong in this crate: words from a command line or a config
//! file that name nothing known, and JSON output.

/// An error of the KPI engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `--period` is none of the slot sizes.
    #[error("unknown period {0:?}: expected halfhour, hour, day, week or month")]
    UnknownPeriod(String),
    /// `--by` is none of the dimensions.
    #[error("unknown grouping {0:?}: expected queue, flow or did")]
    UnknownDimension(String),
    /// `--format` is none of the formats.
    #[error("unknown format {0:?}: expected table, csv or json")]
    UnknownFormat(String),
    /// A target names no KPI of the catalogue.
    #[error("unknown KPI {name:?} in [sla.targets]: expected one of {known}")]
    UnknownKpi {
        /// The name given.
        name: String,
        /// The catalogue's names.
        known: String,
    },
    /// `timezone` is not an IANA zone name.
    #[error("unknown time zone {0:?}: expected an IANA name such as \"Europe/Paris\"")]
    UnknownTimeZone(String),
    /// A CSV separator that would break the file.
    #[error("{0:?} cannot separate CSV fields: use one character other than '\"', '.', CR or LF")]
    BadSeparator(char),
    /// The report could not be written as JSON.
    #[error("JSON output: {0}")]
    Json(#[from] serde_json::Error),
}
