//! Opening hours of a flow: usual week, summer week, French holidays, exceptional closures and openings.
//!
//! A flow writer puts a `[schedule]` table in the flow's TOML file:
//!
//! ```toml
//! [schedule]
//! timezone = "Europe/Paris"        # IANA name; default "Europe/Paris"
//! holidays = "fr"                  # "fr" (default: French public holidays) or "none"
//! calendar = "closures-2026.toml"  # optional: more [[closed]] / [[open]], relative to this file
//!
//! [schedule.hours]                 # the usual week; a missing day is closed
//! mon = ["07:00-12:00", "13:00-19:00"]
//! tue = ["07:00-19:00"]
//! wed = ["07:00-19:00"]
//! thu = ["07:00-19:00"]
//! fri = ["07:00-19:00", "20:00-01:00"]   # crosses midnight: belongs to Friday
//! sat = ["08:00-18:00"]
//!
//! [schedule.hours_summer]          # optional: replaces [schedule.hours] during summer time
//! mon = ["08:00-19:00"]
//! sun = ["00:00-24:00"]
//!
//! [[schedule.closed]]              # exceptional closure, the whole day or part of it
//! date = "2026-12-24"
//! from = "12:00"                   # optional; "to" likewise (default 00:00 and 24:00)
//! reason = "Christmas Eve afternoon"
//!
//! [[schedule.open]]                # exceptional opening: beats holidays, closures and hours
//! date = "2026-05-14"
//! from = "09:00"
//! to = "12:00"
//! reason = "Ascension morning, by contract"
//! ```
//!
//! A calendar file holds the same `[[closed]]` and `[[open]]` entries at top level.
//!
//! How a moment is judged, in the schedule's time zone (`at` converted to local
//! time, so DST is right on both sides of a change):
//! 1. an `open` rule covering the local date and time: open;
//! 2. a `closed` rule with `from`/`to` covering the local time: closed;
//! 3. the usual week (`hours_summer` instead of `hours` while the zone is on
//!    summer time at `at`, that is while its UTC offset is above the lower of
//!    its 1 January and 1 July offsets): a range is half-open, `[start, end)`.
//!    A range that crosses midnight belongs to the day it starts on: its
//!    hours after midnight are open when that first day is, even if the new
//!    day is a holiday or closed, and closed when that first day is a holiday
//!    or closed all day. A day is closed all day by a `closed` rule without
//!    `from`/`to` or by a holiday, unless an `open` rule without `from`/`to`
//!    names it. Outside every range the reason is the day's closure or
//!    holiday if it has one, else "outside hours".

mod calendar;
mod holidays;
mod weekly;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, NaiveDate, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

pub use holidays::french_holiday;

use calendar::Rules;
use weekly::Week;

/// The time zone used when a schedule names none.
pub const DEFAULT_TIMEZONE: &str = "Europe/Paris";

/// How a flow's opening hours are written in its TOML file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// IANA time zone name; default "Europe/Paris".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// The usual week.
    pub hours: WeekHours,
    /// Replaces `hours` while the zone is on summer time (DST).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours_summer: Option<WeekHours>,
    /// "fr" (the default: French public holidays) or "none".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holidays: Option<String>,
    /// Exceptional closures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub closed: Vec<DateRule>,
    /// Exceptional openings; they override holidays, closures and usual hours.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub open: Vec<DateRule>,
    /// Path of a calendar TOML file with more `[[closed]]`/`[[open]]`
    /// entries, relative to the flow file's directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar: Option<String>,
}

/// A week of "HH:MM-HH:MM" ranges per day. "24:00" is allowed as an end; an
/// end before the start crosses midnight into the next day ("19:00-01:00");
/// a missing day is closed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WeekHours {
    pub mon: Vec<String>,
    pub tue: Vec<String>,
    pub wed: Vec<String>,
    pub thu: Vec<String>,
    pub fri: Vec<String>,
    pub sat: Vec<String>,
    pub sun: Vec<String>,
}

/// An exceptional closure or opening on one local date, the whole day or,
/// with `from` and/or `to` ("HH:MM", default 00:00 and 24:00), part of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DateRule {
    /// "YYYY-MM-DD".
    pub date: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Whether a schedule is open at a moment, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Within the usual hours.
    Open,
    /// Open by an exceptional opening, with its reason.
    OpenException(String),
    Closed(ClosedReason),
}

impl Status {
    /// Whether callers are served.
    pub fn is_open(&self) -> bool {
        !matches!(self, Status::Closed(_))
    }
}

/// Why a schedule is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClosedReason {
    OutsideHours,
    /// A public holiday, by its name ("Lundi de Pâques").
    Holiday(String),
    /// An exceptional closure, by its reason ("exceptional closure" if none given).
    Closure(String),
}

/// What is wrong with a schedule, and where.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error(
        "{field}: \"{value}\" is not \"HH:MM-HH:MM\" (times 00:00 to 23:59, end up to 24:00 and different from the start)"
    )]
    BadTimeRange { field: String, value: String },
    #[error("{field}: \"{value}\" is not a time \"HH:MM\" (00:00 to 23:59, or 24:00 for \"to\")")]
    BadTime { field: String, value: String },
    #[error("{field}: \"{value}\" is not a date \"YYYY-MM-DD\"")]
    BadDate { field: String, value: String },
    #[error("{field}: from \"{from}\" is not before to \"{to}\"")]
    EmptyWindow {
        field: String,
        from: String,
        to: String,
    },
    #[error("timezone: \"{0}\" is not an IANA time zone name such as \"Europe/Paris\"")]
    UnknownTimezone(String),
    #[error("holidays: \"{0}\" is not a holiday set: expected \"fr\" or \"none\"")]
    UnknownHolidays(String),
    /// A calendar file that cannot be read, parsed or compiled.
    #[error("{}{}: {message}", .path.display(), line_suffix(.line))]
    Calendar {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
}

fn line_suffix(line: &Option<usize>) -> String {
    line.map(|l| format!(":{l}")).unwrap_or_default()
}

impl ScheduleError {
    /// The path of the offending field in the `[schedule]` table
    /// ("hours.mon[1]", "closed[0].date", "timezone"), to point at a line of
    /// the flow file; `None` for calendar file errors, which carry their own.
    pub fn field(&self) -> Option<&str> {
        match self {
            ScheduleError::BadTimeRange { field, .. }
            | ScheduleError::BadTime { field, .. }
            | ScheduleError::BadDate { field, .. }
            | ScheduleError::EmptyWindow { field, .. } => Some(field),
            ScheduleError::UnknownTimezone(_) => Some("timezone"),
            ScheduleError::UnknownHolidays(_) => Some("holidays"),
            ScheduleError::Calendar { .. } => None,
        }
    }
}

/// Which public holidays close a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holidays {
    None,
    French,
}

/// Compiled opening hours: immutable, `Send + Sync`, cheap to query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    tz: Tz,
    hours: Week,
    hours_summer: Option<Week>,
    holidays: Holidays,
    closed: Rules,
    open: Rules,
}

const _: fn() = || {
    fn shareable<T: Send + Sync>() {}
    shareable::<Schedule>();
};

impl Schedule {
    /// Compiles `cfg`; `base_dir` (the flow file's directory) resolves
    /// `calendar`. Errors name the field and the offending value.
    pub fn compile(cfg: &ScheduleConfig, base_dir: &Path) -> Result<Schedule, ScheduleError> {
        let name = cfg.timezone.as_deref().unwrap_or(DEFAULT_TIMEZONE);
        let tz: Tz = name
            .trim()
            .parse()
            .map_err(|_| ScheduleError::UnknownTimezone(name.to_owned()))?;
        let hours = Week::compile(&cfg.hours, "hours")?;
        let hours_summer = cfg
            .hours_summer
            .as_ref()
            .map(|h| Week::compile(h, "hours_summer"))
            .transpose()?;
        let holidays = match cfg.holidays.as_deref().map(str::trim) {
            None => Holidays::French,
            Some(h) if h.eq_ignore_ascii_case("fr") => Holidays::French,
            Some(h) if h.eq_ignore_ascii_case("none") => Holidays::None,
            Some(h) => return Err(ScheduleError::UnknownHolidays(h.to_owned())),
        };
        let mut closed = Rules::default();
        closed.add(&cfg.closed, "closed")?;
        let mut open = Rules::default();
        open.add(&cfg.open, "open")?;
        if let Some(file) = &cfg.calendar {
            calendar::load(&base_dir.join(file), &mut closed, &mut open)?;
        }
        Ok(Schedule {
            tz,
            hours,
            hours_summer,
            holidays,
            closed,
            open,
        })
    }

    /// Always open (for flows without a schedule); its time zone is
    /// [`DEFAULT_TIMEZONE`].
    pub fn always() -> Schedule {
        Schedule {
            tz: chrono_tz::Europe::Paris,
            hours: Week::always(),
            hours_summer: None,
            holidays: Holidays::None,
            closed: Rules::default(),
            open: Rules::default(),
        }
    }

    /// Whether callers are served at `at`.
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        self.status(at).is_open()
    }

    /// Whether the schedule is open at `at`, and why (see the module doc).
    pub fn status(&self, at: DateTime<Utc>) -> Status {
        let local = at.with_timezone(&self.tz);
        let date = local.date_naive();
        let minute = (local.hour() * 60 + local.minute()) as u16;

        if let Some(rule) = self.open.on(date).iter().find(|r| r.covers(minute)) {
            let reason = rule.reason().unwrap_or("exceptional opening");
            return Status::OpenException(reason.to_owned());
        }
        if let Some(rule) = self
            .closed
            .on(date)
            .iter()
            .find(|r| !r.whole_day() && r.covers(minute))
        {
            return Status::Closed(closure(rule.reason()));
        }

        let week = match &self.hours_summer {
            Some(summer) if self.is_summer(at) => summer,
            _ => &self.hours,
        };
        let weekday = date.weekday();
        let today = self.day_closed(date);
        if today.is_none() && week.open_same_day(weekday, minute) {
            return Status::Open;
        }
        let yesterday = if week.open_from_previous_day(weekday, minute) {
            match date.pred_opt().map(|d| self.day_closed(d)) {
                Some(None) | None => return Status::Open,
                Some(Some(reason)) => Some(reason),
            }
        } else {
            None
        };
        Status::Closed(today.or(yesterday).unwrap_or(ClosedReason::OutsideHours))
    }

    /// The zone the schedule is evaluated in.
    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// Whether `date` is closed all day, and why: a whole-day closure, else
    /// a holiday; an `open` rule without `from`/`to` cancels both.
    fn day_closed(&self, date: NaiveDate) -> Option<ClosedReason> {
        if self.open.on(date).iter().any(|r| r.whole_day()) {
            return None;
        }
        if let Some(rule) = self.closed.on(date).iter().find(|r| r.whole_day()) {
            return Some(closure(rule.reason()));
        }
        match self.holidays {
            Holidays::French => {
                french_holiday(date).map(|name| ClosedReason::Holiday(name.to_owned()))
            }
            Holidays::None => None,
        }
    }

    /// Whether the zone is on summer time at `at`: its UTC offset is above
    /// the lower of its offsets on 1 January and 1 July of that year (which
    /// is its standard time in either hemisphere).
    fn is_summer(&self, at: DateTime<Utc>) -> bool {
        let offset = |t: DateTime<Utc>| {
            self.tz
                .offset_from_utc_datetime(&t.naive_utc())
                .fix()
                .local_minus_utc()
        };
        let year = at.year();
        let standard = [(1, 1), (7, 1)]
            .into_iter()
            .filter_map(|(m, d)| Utc.with_ymd_and_hms(year, m, d, 0, 0, 0).single())
            .map(offset)
            .min();
        standard.is_some_and(|s| offset(at) > s)
    }
}

fn closure(reason: Option<&str>) -> ClosedReason {
    ClosedReason::Closure(reason.unwrap_or("exceptional closure").to_owned())
}

#[cfg(test)]
mod tests;
