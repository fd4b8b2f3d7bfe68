//! Dates typed in the console's forms and the reports API (YYYY-MM-DD):
//! one parser and one range check, with a typed error worded in English
//! for the API and in French for the pages.

use chrono::NaiveDate;

/// What is wrong with a date or a range of days.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DateError {
    /// Not a YYYY-MM-DD date (the text as typed).
    #[error("date {0:?}: expected YYYY-MM-DD")]
    Malformed(String),
    /// The end comes before the start.
    #[error("the end date is before the start date")]
    Reversed,
    /// The range is longer than the page or route serves at once.
    #[error("at most {0} days at once here; `softswitch sla` reports any range")]
    TooLong(i64),
}

impl DateError {
    /// The same, for a French page.
    pub(crate) fn french(&self) -> String {
        match self {
            DateError::Malformed(v) => format!("date « {v} » : attendu AAAA-MM-JJ"),
            DateError::Reversed => "la date de fin précède la date de début".into(),
            DateError::TooLong(n) => format!(
                "au plus {n} jours à la fois (les exports et `softswitch sla` couvrent plus)"
            ),
        }
    }
}

/// A date typed in a form; `None` when left blank.
pub(crate) fn optional_day(v: &str) -> Result<Option<NaiveDate>, DateError> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| DateError::Malformed(v.to_string()))
}

/// A range of whole days from two fields: a blank start is `default_from`,
/// a blank end is the start; at most `max_days` apart.
pub(crate) fn range(
    from: &str,
    to: &str,
    default_from: NaiveDate,
    max_days: i64,
) -> Result<(NaiveDate, NaiveDate), DateError> {
    let from = optional_day(from)?.unwrap_or(default_from);
    let to = optional_day(to)?.unwrap_or(from);
    if to < from {
        return Err(DateError::Reversed);
    }
    if (to - from).num_days() > max_days {
        return Err(DateError::TooLong(max_days));
    }
    Ok((from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn blanks_take_the_defaults_and_the_checks_say_what_is_wrong() {
        let today = d("2026-12-05");
        assert_eq!(range("", "", today, 31), Ok((today, today)));
        assert_eq!(
            range(" 2026-12-01 ", "", today, 31),
            Ok((d("2026-12-01"), d("2026-12-01")))
        );
        assert_eq!(
            range("2026-12-01", "2026-11-30", today, 31),
            Err(DateError::Reversed)
        );
        assert_eq!(
            range("2026-01-01", "2026-03-01", today, 31),
            Err(DateError::TooLong(31))
        );
        let bad = range("01/12/2026", "", today, 31).unwrap_err();
        assert_eq!(bad, DateError::Malformed("01/12/2026".into()));
        assert_eq!(bad.to_string(), "date \"01/12/2026\": expected YYYY-MM-DD");
        assert_eq!(bad.french(), "date « 01/12/2026 » : attendu AAAA-MM-JJ");
        assert_eq!(optional_day("  "), Ok(None));
    }
}
