//! The usual week: "HH:MM-HH:MM" ranges per weekday, parsed into minutes.

use chrono::Weekday;

use super::{ScheduleError, WeekHours};

/// Minutes in a day: "24:00".
pub(crate) const DAY: u16 = 24 * 60;

/// Parses "HH:MM" (two digits each, 00:00 to 23:59, and 24:00 when
/// `allow_24` is set) into minutes since midnight.
pub(crate) fn parse_hhmm(s: &str, allow_24: bool) -> Option<u16> {
    let b = s.as_bytes();
    if b.len() != 5 || b[2] != b':' {
        return None;
    }
    let digit = |i: usize| b[i].is_ascii_digit().then(|| u16::from(b[i] - b'0'));
    let h = digit(0)? * 10 + digit(1)?;
    let m = digit(3)? * 10 + digit(4)?;
    if m > 59 {
        return None;
    }
    match h {
        0..=23 => Some(h * 60 + m),
        24 if allow_24 && m == 0 => Some(DAY),
        _ => None,
    }
}

/// One range of a day, in minutes since that day's midnight. `end` is above
/// [`DAY`] when the range crosses midnight into the next day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Range {
    start: u16,
    end: u16,
}

impl Range {
    /// Parses "HH:MM-HH:MM". An end before the start crosses midnight
    /// ("19:00-01:00"); an end equal to the start is refused as ambiguous.
    pub(crate) fn parse(s: &str) -> Option<Range> {
        let (a, b) = s.split_once('-')?;
        let start = parse_hhmm(a.trim(), false)?;
        let end = parse_hhmm(b.trim(), true)?;
        match end.cmp(&start) {
            std::cmp::Ordering::Greater => Some(Range { start, end }),
            std::cmp::Ordering::Less => Some(Range {
                start,
                end: end + DAY,
            }),
            std::cmp::Ordering::Equal => None,
        }
    }

    /// Whether minute `m` of the range's own day is inside [start, end).
    fn contains_same_day(self, m: u16) -> bool {
        self.start <= m && m < self.end.min(DAY)
    }

    /// Whether minute `m` of the next day is inside the part after midnight.
    fn contains_next_day(self, m: u16) -> bool {
        self.end > DAY && m < self.end - DAY
    }
}

/// A compiled week: the ranges of each day, Monday first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Week {
    days: [Vec<Range>; 7],
}

impl Week {
    /// Compiles `hours`; `field` prefixes error paths ("hours" or "hours_summer").
    pub(crate) fn compile(hours: &WeekHours, field: &str) -> Result<Week, ScheduleError> {
        let mut week = Week::default();
        let named = [
            ("mon", &hours.mon),
            ("tue", &hours.tue),
            ("wed", &hours.wed),
            ("thu", &hours.thu),
            ("fri", &hours.fri),
            ("sat", &hours.sat),
            ("sun", &hours.sun),
        ];
        for (slot, (day, ranges)) in week.days.iter_mut().zip(named) {
            for (i, text) in ranges.iter().enumerate() {
                let range = Range::parse(text).ok_or_else(|| ScheduleError::BadTimeRange {
                    field: format!("{field}.{day}[{i}]"),
                    value: text.clone(),
                })?;
                slot.push(range);
            }
        }
        Ok(week)
    }

    /// A week open all the time.
    pub(crate) fn always() -> Week {
        let all = vec![Range { start: 0, end: DAY }];
        Week {
            days: std::array::from_fn(|_| all.clone()),
        }
    }

    fn day(&self, wd: Weekday) -> &[Range] {
        &self.days[wd.num_days_from_monday() as usize]
    }

    /// Whether minute `m` of a `wd` day is inside one of that day's own ranges.
    pub(crate) fn open_same_day(&self, wd: Weekday, m: u16) -> bool {
        self.day(wd).iter().any(|r| r.contains_same_day(m))
    }

    /// Whether minute `m` of a `wd` day is inside a range that started the
    /// day before and crosses midnight.
    pub(crate) fn open_from_previous_day(&self, wd: Weekday, m: u16) -> bool {
        self.day(wd.pred()).iter().any(|r| r.contains_next_day(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hhmm() {
        assert_eq!(parse_hhmm("00:00", false), Some(0));
        assert_eq!(parse_hhmm("09:30", false), Some(570));
        assert_eq!(parse_hhmm("23:59", false), Some(1439));
        assert_eq!(parse_hhmm("24:00", true), Some(1440));
        assert_eq!(parse_hhmm("24:00", false), None);
        assert_eq!(parse_hhmm("24:01", true), None);
        assert_eq!(parse_hhmm("25:00", true), None);
        assert_eq!(parse_hhmm("09:60", false), None);
        assert_eq!(parse_hhmm("9:00", false), None);
        assert_eq!(parse_hhmm("9h00", false), None);
        assert_eq!(parse_hhmm("+9:00", false), None);
        assert_eq!(parse_hhmm("", false), None);
    }

    #[test]
    fn ranges() {
        assert_eq!(
            Range::parse("09:00-16:30"),
            Some(Range {
                start: 540,
                end: 990
            })
        );
        assert_eq!(
            Range::parse(" 19:00 - 24:00 "),
            Some(Range {
                start: 1140,
                end: 1440
            })
        );
        assert_eq!(
            Range::parse("19:00-01:00"),
            Some(Range {
                start: 1140,
                end: 1500
            })
        );
        assert_eq!(Range::parse("09:00-09:00"), None);
        assert_eq!(Range::parse("24:00-01:00"), None);
        assert_eq!(Range::parse("25:00-26:00"), None);
        assert_eq!(Range::parse("9-17"), None);
        assert_eq!(Range::parse("09:00"), None);
        assert_eq!(Range::parse("09:00-12:00-13:00"), None);
    }

    #[test]
    fn half_open_and_cross_midnight() {
        let hours = WeekHours {
            mon: vec!["09:00-12:00".into(), "19:00-01:00".into()],
            ..WeekHours::default()
        };
        let week = Week::compile(&hours, "hours").unwrap();
        assert!(!week.open_same_day(Weekday::Mon, 539));
        assert!(week.open_same_day(Weekday::Mon, 540));
        assert!(week.open_same_day(Weekday::Mon, 719));
        assert!(!week.open_same_day(Weekday::Mon, 720));
        assert!(week.open_same_day(Weekday::Mon, 1439));
        // The part after midnight belongs to Monday, seen from Tuesday.
        assert!(!week.open_same_day(Weekday::Tue, 0));
        assert!(week.open_from_previous_day(Weekday::Tue, 0));
        assert!(week.open_from_previous_day(Weekday::Tue, 59));
        assert!(!week.open_from_previous_day(Weekday::Tue, 60));
        assert!(!week.open_from_previous_day(Weekday::Mon, 0));
    }

    #[test]
    fn bad_range_names_field_and_value() {
        let hours = WeekHours {
            tue: vec!["08:00-12:00".into(), "9h-12h".into()],
            ..WeekHours::default()
        };
        let err = Week::compile(&hours, "hours").unwrap_err();
        assert!(matches!(
            &err,
            ScheduleError::BadTimeRange { field, value } if field == "hours.tue[1]" && value == "9h-12h"
        ));
        assert!(
            err.to_string().starts_with("hours.tue[1]: \"9h-12h\""),
            "{err}"
        );
    }
}
