//! Exceptional openings and closures by date, inline or from a calendar TOML file.

use std::collections::HashMap;
use std::path::Path;

use chrono::NaiveDate;
use serde::Deserialize;
use toml::Spanned;

use super::weekly::{parse_hhmm, DAY};
use super::{DateRule, ScheduleError};

/// Parses a strict "YYYY-MM-DD" date.
fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// One compiled rule of a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rule {
    /// Local minutes [from, to) of the date; `None` for the whole day.
    window: Option<(u16, u16)>,
    reason: Option<String>,
}

impl Rule {
    /// Compiles `rule`; `field` is its path for errors ("closed[2]").
    fn compile(rule: &DateRule, field: &str) -> Result<(NaiveDate, Rule), ScheduleError> {
        let date = parse_date(rule.date.trim()).ok_or_else(|| ScheduleError::BadDate {
            field: format!("{field}.date"),
            value: rule.date.clone(),
        })?;
        let time = |value: &Option<String>, name: &str, allow_24: bool| {
            value
                .as_deref()
                .map(|v| {
                    parse_hhmm(v.trim(), allow_24).ok_or_else(|| ScheduleError::BadTime {
                        field: format!("{field}.{name}"),
                        value: v.to_owned(),
                    })
                })
                .transpose()
        };
        let from = time(&rule.from, "from", false)?;
        let to = time(&rule.to, "to", true)?;
        let window = match (from, to) {
            (None, None) => None,
            (from, to) => {
                let (from, to) = (from.unwrap_or(0), to.unwrap_or(DAY));
                if from >= to {
                    return Err(ScheduleError::EmptyWindow {
                        field: field.to_owned(),
                        from: rule.from.clone().unwrap_or_else(|| "00:00".into()),
                        to: rule.to.clone().unwrap_or_else(|| "24:00".into()),
                    });
                }
                Some((from, to))
            }
        };
        let reason = rule
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned);
        Ok((date, Rule { window, reason }))
    }

    /// Whether the rule covers the whole day.
    pub(crate) fn whole_day(&self) -> bool {
        self.window.is_none()
    }

    /// Whether local minute `m` of the rule's date is covered.
    pub(crate) fn covers(&self, m: u16) -> bool {
        match self.window {
            None => true,
            Some((from, to)) => from <= m && m < to,
        }
    }

    /// The reason given, if any.
    pub(crate) fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }
}

/// Rules by local date.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Rules {
    by_date: HashMap<NaiveDate, Vec<Rule>>,
}

impl Rules {
    /// Compiles `rules`, named `field[i]` in errors.
    pub(crate) fn add(&mut self, rules: &[DateRule], field: &str) -> Result<(), ScheduleError> {
        for (i, rule) in rules.iter().enumerate() {
            let (date, rule) = Rule::compile(rule, &format!("{field}[{i}]"))?;
            self.by_date.entry(date).or_default().push(rule);
        }
        Ok(())
    }

    /// The rules of `date`.
    pub(crate) fn on(&self, date: NaiveDate) -> &[Rule] {
        self.by_date.get(&date).map_or(&[], Vec::as_slice)
    }
}

/// A calendar file: `[[closed]]` and `[[open]]` entries, like a flow's inline ones.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarFile {
    #[serde(default)]
    closed: Vec<FileRule>,
    #[serde(default)]
    open: Vec<FileRule>,
}

/// A [`DateRule`] as read from a calendar file, with the position of each value.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRule {
    date: Spanned<String>,
    #[serde(default)]
    from: Option<Spanned<String>>,
    #[serde(default)]
    to: Option<Spanned<String>>,
    #[serde(default)]
    reason: Option<String>,
}

impl FileRule {
    fn rule(&self) -> DateRule {
        DateRule {
            date: self.date.get_ref().clone(),
            from: self.from.as_ref().map(|s| s.get_ref().clone()),
            to: self.to.as_ref().map(|s| s.get_ref().clone()),
            reason: self.reason.clone(),
        }
    }

    /// Byte offset of the value `err` is about.
    fn offset_of(&self, err: &ScheduleError) -> usize {
        let field = err.field().unwrap_or_default();
        let pick = |v: &Option<Spanned<String>>| v.as_ref().map(|s| s.span().start);
        let offset = if field.ends_with(".from") {
            pick(&self.from)
        } else if field.ends_with(".to") {
            pick(&self.to)
        } else if matches!(err, ScheduleError::EmptyWindow { .. }) {
            pick(&self.from).or_else(|| pick(&self.to))
        } else {
            None
        };
        offset.unwrap_or_else(|| self.date.span().start)
    }
}

/// 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&c| c == b'\n')
        .count()
        + 1
}

/// Reads the calendar at `path` and adds its entries to `closed` and `open`.
/// Errors carry the path and, when known, the line.
pub(crate) fn load(path: &Path, closed: &mut Rules, open: &mut Rules) -> Result<(), ScheduleError> {
    let fail = |line: Option<usize>, message: String| ScheduleError::Calendar {
        path: path.to_path_buf(),
        line,
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(None, e.to_string()))?;
    let file: CalendarFile = toml::from_str(&text).map_err(|e| {
        let line = e.span().map(|s| line_of(&text, s.start));
        fail(line, e.message().trim().to_owned())
    })?;
    for (name, entries, rules) in [("closed", &file.closed, closed), ("open", &file.open, open)] {
        for (i, entry) in entries.iter().enumerate() {
            let (date, rule) = Rule::compile(&entry.rule(), &format!("{name}[{i}]"))
                .map_err(|e| fail(Some(line_of(&text, entry.offset_of(&e))), e.to_string()))?;
            rules.by_date.entry(date).or_default().push(rule);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(date: &str, from: Option<&str>, to: Option<&str>) -> DateRule {
        DateRule {
            date: date.into(),
            from: from.map(Into::into),
            to: to.map(Into::into),
            reason: None,
        }
    }

    #[test]
    fn dates() {
        assert_eq!(
            parse_date("2026-12-24"),
            NaiveDate::from_ymd_opt(2026, 12, 24)
        );
        assert_eq!(
            parse_date("2028-02-29"),
            NaiveDate::from_ymd_opt(2028, 2, 29)
        );
        assert_eq!(parse_date("2026-02-29"), None);
        assert_eq!(parse_date("2026-13-01"), None);
        assert_eq!(parse_date("2026-1-05"), None);
        assert_eq!(parse_date("24/12/2026"), None);
        assert_eq!(parse_date("2026-12-24T00:00"), None);
    }

    #[test]
    fn windows() {
        let (_, whole) = Rule::compile(&rule("2026-12-24", None, None), "closed[0]").unwrap();
        assert!(whole.whole_day());
        assert!(whole.covers(0) && whole.covers(1439));
        let (_, part) =
            Rule::compile(&rule("2026-12-24", Some("12:00"), None), "closed[0]").unwrap();
        assert!(!part.whole_day());
        assert!(!part.covers(719) && part.covers(720) && part.covers(1439));
        let (_, part) =
            Rule::compile(&rule("2026-12-24", None, Some("10:00")), "closed[0]").unwrap();
        assert!(part.covers(0) && part.covers(599) && !part.covers(600));
    }

    #[test]
    fn bad_rules() {
        let err = Rule::compile(&rule("2026-13-01", None, None), "closed[3]").unwrap_err();
        assert!(
            matches!(&err, ScheduleError::BadDate { field, value } if field == "closed[3].date" && value == "2026-13-01"),
            "{err:?}"
        );
        let err = Rule::compile(&rule("2026-12-01", Some("8h"), None), "open[0]").unwrap_err();
        assert!(
            matches!(&err, ScheduleError::BadTime { field, value } if field == "open[0].from" && value == "8h"),
            "{err:?}"
        );
        let err = Rule::compile(&rule("2026-12-01", Some("14:00"), Some("12:00")), "open[0]")
            .unwrap_err();
        assert!(matches!(err, ScheduleError::EmptyWindow { .. }), "{err:?}");
    }

    #[test]
    fn line_numbers() {
        let text = "a\nb\nc";
        assert_eq!(line_of(text, 0), 1);
        assert_eq!(line_of(text, 2), 2);
        assert_eq!(line_of(text, 4), 3);
        assert_eq!(line_of(text, 99), 3);
    }
}
