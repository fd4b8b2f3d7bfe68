//! Tests of compiled schedules: hours, holidays, exceptions, DST, calendar files, errors.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

use super::*;

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).single().unwrap()
}

fn local(tz: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    tz.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

/// Local time in Paris.
fn paris(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    local(chrono_tz::Europe::Paris, y, mo, d, h, mi)
}

fn ranges(r: &[&str]) -> Vec<String> {
    r.iter().map(|s| s.to_string()).collect()
}

fn weekdays(r: &[&str]) -> WeekHours {
    WeekHours {
        mon: ranges(r),
        tue: ranges(r),
        wed: ranges(r),
        thu: ranges(r),
        fri: ranges(r),
        ..WeekHours::default()
    }
}

fn rule(date: &str, from: Option<&str>, to: Option<&str>, reason: Option<&str>) -> DateRule {
    DateRule {
        date: date.into(),
        from: from.map(Into::into),
        to: to.map(Into::into),
        reason: reason.map(Into::into),
    }
}

/// 09:00-16:30 Mon-Fri, Europe/Paris, French holidays (all defaults).
fn office_config() -> ScheduleConfig {
    ScheduleConfig {
        hours: weekdays(&["09:00-16:30"]),
        ..ScheduleConfig::default()
    }
}

fn compile(cfg: &ScheduleConfig) -> Schedule {
    Schedule::compile(cfg, Path::new(".")).unwrap()
}

fn compile_err(cfg: &ScheduleConfig) -> ScheduleError {
    Schedule::compile(cfg, Path::new(".")).unwrap_err()
}

fn holiday(name: &str) -> Status {
    Status::Closed(ClosedReason::Holiday(name.into()))
}

fn closure(reason: &str) -> Status {
    Status::Closed(ClosedReason::Closure(reason.into()))
}

const OUTSIDE: Status = Status::Closed(ClosedReason::OutsideHours);

#[test]
fn office_hours_half_open() {
    let s = compile(&office_config());
    assert_eq!(s.timezone(), chrono_tz::Europe::Paris);
    assert_eq!(
        chrono::NaiveDate::from_ymd_opt(2026, 11, 24)
            .unwrap()
            .weekday(),
        Weekday::Tue
    );
    assert_eq!(s.status(paris(2026, 11, 24, 8, 59)), OUTSIDE);
    assert_eq!(s.status(paris(2026, 11, 24, 9, 0)), Status::Open);
    assert!(s.is_open(paris(2026, 11, 24, 9, 0)));
    assert_eq!(s.status(paris(2026, 11, 24, 16, 29)), Status::Open);
    assert_eq!(s.status(paris(2026, 11, 24, 16, 30)), OUTSIDE);
    assert!(!s.is_open(paris(2026, 11, 24, 16, 30)));
    // 16:29:59 is still inside [09:00, 16:30).
    let last_second = paris(2026, 11, 24, 16, 29) + chrono::Duration::seconds(59);
    assert!(s.is_open(last_second));
    // Saturday and Sunday.
    assert_eq!(s.status(paris(2026, 11, 28, 10, 0)), OUTSIDE);
    assert_eq!(s.status(paris(2026, 11, 29, 10, 0)), OUTSIDE);
}

#[test]
fn office_closed_on_holidays() {
    let s = compile(&office_config());
    // Christmas 2026 is a Friday.
    assert_eq!(s.status(paris(2026, 12, 25, 10, 0)), holiday("Noël"));
    // Armistice 2026 is a Wednesday.
    assert_eq!(
        chrono::NaiveDate::from_ymd_opt(2026, 11, 11)
            .unwrap()
            .weekday(),
        Weekday::Wed
    );
    assert_eq!(
        s.status(paris(2026, 11, 11, 10, 0)),
        holiday("Armistice 1918")
    );
    assert_eq!(
        s.status(paris(2026, 11, 11, 20, 0)),
        holiday("Armistice 1918")
    );
    assert_eq!(
        s.status(paris(2026, 4, 6, 10, 0)),
        holiday("Lundi de Pâques")
    );
    assert_eq!(s.status(paris(2026, 5, 14, 10, 0)), holiday("Ascension"));
    assert_eq!(
        s.status(paris(2026, 5, 25, 10, 0)),
        holiday("Lundi de Pentecôte")
    );
    // The days around are ordinary.
    assert_eq!(s.status(paris(2026, 11, 10, 10, 0)), Status::Open);
    assert_eq!(s.status(paris(2026, 11, 12, 10, 0)), Status::Open);
}

#[test]
fn holidays_none_and_case() {
    let mut cfg = office_config();
    cfg.holidays = Some("none".into());
    assert_eq!(
        compile(&cfg).status(paris(2026, 11, 11, 10, 0)),
        Status::Open
    );
    cfg.holidays = Some("FR".into());
    assert_eq!(
        compile(&cfg).status(paris(2026, 11, 11, 10, 0)),
        holiday("Armistice 1918")
    );
}

#[test]
fn open_rule_beats_holiday() {
    let mut cfg = office_config();
    cfg.open = vec![rule(
        "2026-11-11",
        None,
        None,
        Some("Armistice: open by contract"),
    )];
    let s = compile(&cfg);
    let open = Status::OpenException("Armistice: open by contract".into());
    assert_eq!(s.status(paris(2026, 11, 11, 10, 0)), open);
    // A whole-day opening is the whole calendar day, outside usual hours too.
    assert_eq!(s.status(paris(2026, 11, 11, 0, 0)), open);
    assert_eq!(s.status(paris(2026, 11, 11, 23, 59)), open);
    assert_eq!(s.status(paris(2026, 11, 12, 0, 0)), OUTSIDE);
}

#[test]
fn open_rule_with_window() {
    let mut cfg = office_config();
    cfg.open = vec![
        rule("2026-12-25", Some("10:00"), Some("12:00"), None),
        rule("2026-11-28", Some("09:00"), None, Some("Saturday drive")),
    ];
    let s = compile(&cfg);
    let default = Status::OpenException("exceptional opening".into());
    assert_eq!(s.status(paris(2026, 12, 25, 9, 59)), holiday("Noël"));
    assert_eq!(s.status(paris(2026, 12, 25, 10, 0)), default);
    assert_eq!(s.status(paris(2026, 12, 25, 11, 59)), default);
    assert_eq!(s.status(paris(2026, 12, 25, 12, 0)), holiday("Noël"));
    // A Saturday, from 09:00 to the end of the day.
    assert_eq!(s.status(paris(2026, 11, 28, 8, 59)), OUTSIDE);
    let sat = Status::OpenException("Saturday drive".into());
    assert_eq!(s.status(paris(2026, 11, 28, 9, 0)), sat);
    assert_eq!(s.status(paris(2026, 11, 28, 23, 59)), sat);
}

#[test]
fn closure_part_of_day() {
    let mut cfg = office_config();
    cfg.closed = vec![rule(
        "2026-12-24",
        Some("12:00"),
        None,
        Some("Christmas Eve"),
    )];
    let s = compile(&cfg);
    assert_eq!(s.status(paris(2026, 12, 24, 11, 59)), Status::Open);
    assert_eq!(
        s.status(paris(2026, 12, 24, 12, 0)),
        closure("Christmas Eve")
    );
    assert_eq!(
        s.status(paris(2026, 12, 24, 16, 0)),
        closure("Christmas Eve")
    );
    // Outside both the closure window and the hours, still closed by the window.
    assert_eq!(
        s.status(paris(2026, 12, 24, 20, 0)),
        closure("Christmas Eve")
    );
    assert_eq!(s.status(paris(2026, 12, 24, 8, 0)), OUTSIDE);
    assert_eq!(s.status(paris(2026, 12, 23, 14, 0)), Status::Open);

    // A window with both ends, default reason.
    cfg.closed = vec![rule("2026-11-24", Some("10:00"), Some("11:30"), None)];
    let s = compile(&cfg);
    assert_eq!(s.status(paris(2026, 11, 24, 9, 59)), Status::Open);
    assert_eq!(
        s.status(paris(2026, 11, 24, 10, 0)),
        closure("exceptional closure")
    );
    assert_eq!(
        s.status(paris(2026, 11, 24, 11, 29)),
        closure("exceptional closure")
    );
    assert_eq!(s.status(paris(2026, 11, 24, 11, 30)), Status::Open);
}

#[test]
fn closure_whole_day_and_precedence() {
    let mut cfg = office_config();
    cfg.closed = vec![
        rule("2026-11-24", None, None, Some("Inventory")),
        rule("2026-12-25", None, None, Some("Site closed")),
    ];
    cfg.open = vec![rule(
        "2026-11-24",
        Some("14:00"),
        Some("15:00"),
        Some("Hotline"),
    )];
    let s = compile(&cfg);
    assert_eq!(s.status(paris(2026, 11, 24, 10, 0)), closure("Inventory"));
    assert_eq!(s.status(paris(2026, 11, 24, 20, 0)), closure("Inventory"));
    // An opening beats the closure within its window only.
    assert_eq!(
        s.status(paris(2026, 11, 24, 14, 30)),
        Status::OpenException("Hotline".into())
    );
    assert_eq!(s.status(paris(2026, 11, 24, 15, 0)), closure("Inventory"));
    // A closure beats a holiday.
    assert_eq!(s.status(paris(2026, 12, 25, 10, 0)), closure("Site closed"));
}

#[test]
fn dst_spring_2026() {
    // Clocks go forward on Sunday 2026-03-29: CET (+01:00) before, CEST (+02:00) after.
    let s = compile(&office_config());
    // Friday 27 March, winter: 09:00 local is 08:00 UTC, 16:30 local is 15:30 UTC.
    assert!(!s.is_open(utc(2026, 3, 27, 7, 59)));
    assert!(s.is_open(utc(2026, 3, 27, 8, 0)));
    assert!(s.is_open(utc(2026, 3, 27, 15, 29)));
    assert!(!s.is_open(utc(2026, 3, 27, 15, 30)));
    // Monday 30 March, summer: 09:00 local is 07:00 UTC, 16:30 local is 14:30 UTC.
    assert!(!s.is_open(utc(2026, 3, 30, 6, 59)));
    assert!(s.is_open(utc(2026, 3, 30, 7, 0)));
    assert!(s.is_open(utc(2026, 3, 30, 14, 29)));
    assert!(!s.is_open(utc(2026, 3, 30, 14, 30)));
}

#[test]
fn dst_autumn_2026() {
    // Clocks go back on Sunday 2026-10-25.
    let s = compile(&office_config());
    // Friday 23 October, summer: 09:00 local is 07:00 UTC.
    assert!(!s.is_open(utc(2026, 10, 23, 6, 59)));
    assert!(s.is_open(utc(2026, 10, 23, 7, 0)));
    // Monday 26 October, winter: 09:00 local is 08:00 UTC.
    assert!(!s.is_open(utc(2026, 10, 26, 7, 0)));
    assert!(!s.is_open(utc(2026, 10, 26, 7, 59)));
    assert!(s.is_open(utc(2026, 10, 26, 8, 0)));
}

#[test]
fn summer_detection() {
    let s = compile(&office_config());
    // Paris changes at 01:00 UTC on the last Sundays of March and October.
    assert!(!s.is_summer(utc(2026, 3, 29, 0, 59)));
    assert!(s.is_summer(utc(2026, 3, 29, 1, 0)));
    assert!(s.is_summer(utc(2026, 10, 25, 0, 59)));
    assert!(!s.is_summer(utc(2026, 10, 25, 1, 0)));
    assert!(!s.is_summer(utc(2026, 1, 15, 12, 0)));
    // Southern hemisphere: January is summer in Sydney.
    let mut cfg = office_config();
    cfg.timezone = Some("Australia/Sydney".into());
    let sydney = compile(&cfg);
    assert!(sydney.is_summer(utc(2026, 1, 15, 12, 0)));
    assert!(!sydney.is_summer(utc(2026, 7, 15, 12, 0)));
    // No DST at all.
    cfg.timezone = Some("Asia/Tokyo".into());
    let tokyo = compile(&cfg);
    assert!(!tokyo.is_summer(utc(2026, 1, 15, 12, 0)));
    assert!(!tokyo.is_summer(utc(2026, 7, 15, 12, 0)));
}

#[test]
fn other_timezone() {
    let mut cfg = office_config();
    cfg.timezone = Some("America/New_York".into());
    cfg.holidays = Some("none".into());
    let s = compile(&cfg);
    assert_eq!(s.timezone(), chrono_tz::America::New_York);
    // Tuesday 2026-11-24 09:00 in New York (EST, -05:00) is 14:00 UTC.
    assert!(!s.is_open(utc(2026, 11, 24, 13, 59)));
    assert!(s.is_open(utc(2026, 11, 24, 14, 0)));
}

/// Service desk business hours (HO): 07:00-19:00 Mon-Fri.
#[test]
fn service_desk_ho() {
    let cfg = ScheduleConfig {
        hours: weekdays(&["07:00-19:00"]),
        ..ScheduleConfig::default()
    };
    let s = compile(&cfg);
    assert_eq!(s.status(paris(2026, 1, 12, 6, 59)), OUTSIDE);
    assert_eq!(s.status(paris(2026, 1, 12, 7, 0)), Status::Open);
    assert_eq!(s.status(paris(2026, 1, 12, 18, 59)), Status::Open);
    assert_eq!(s.status(paris(2026, 1, 12, 19, 0)), OUTSIDE);
    assert_eq!(s.status(paris(2026, 1, 17, 10, 0)), OUTSIDE);
}

/// Service desk non-business hours (HNO): 04:00-07:00 (05:00 in summer) and
/// 19:00-24:00 (01:00 in summer) Mon-Fri.
fn hno() -> Schedule {
    let cfg = ScheduleConfig {
        hours: weekdays(&["04:00-07:00", "19:00-24:00"]),
        hours_summer: Some(weekdays(&["05:00-07:00", "19:00-01:00"])),
        ..ScheduleConfig::default()
    };
    compile(&cfg)
}

#[test]
fn service_desk_hno_winter() {
    let s = hno();
    // Tuesday 2026-01-13.
    assert_eq!(s.status(paris(2026, 1, 13, 3, 59)), OUTSIDE);
    assert_eq!(s.status(paris(2026, 1, 13, 4, 0)), Status::Open);
    assert_eq!(utc(2026, 1, 13, 3, 0), paris(2026, 1, 13, 4, 0));
    assert_eq!(s.status(paris(2026, 1, 13, 6, 59)), Status::Open);
    assert_eq!(s.status(paris(2026, 1, 13, 7, 0)), OUTSIDE);
    assert_eq!(s.status(paris(2026, 1, 13, 18, 59)), OUTSIDE);
    assert_eq!(s.status(paris(2026, 1, 13, 19, 0)), Status::Open);
    assert_eq!(s.status(paris(2026, 1, 13, 23, 59)), Status::Open);
    // Winter hours end at midnight.
    assert_eq!(s.status(paris(2026, 1, 14, 0, 30)), OUTSIDE);
    // Saturday after Friday evening.
    assert_eq!(s.status(paris(2026, 1, 17, 0, 30)), OUTSIDE);
}

#[test]
fn service_desk_hno_summer() {
    let s = hno();
    // Tuesday 2026-06-16.
    assert_eq!(s.status(paris(2026, 6, 16, 4, 30)), OUTSIDE);
    assert_eq!(s.status(paris(2026, 6, 16, 5, 0)), Status::Open);
    assert_eq!(s.status(paris(2026, 6, 16, 6, 59)), Status::Open);
    assert_eq!(s.status(paris(2026, 6, 16, 7, 0)), OUTSIDE);
    assert_eq!(s.status(paris(2026, 6, 16, 19, 0)), Status::Open);
    // Tuesday's range runs to 01:00 on Wednesday.
    assert_eq!(s.status(paris(2026, 6, 17, 0, 0)), Status::Open);
    assert_eq!(s.status(paris(2026, 6, 17, 0, 59)), Status::Open);
    assert_eq!(s.status(paris(2026, 6, 17, 1, 0)), OUTSIDE);
    // Friday's runs into Saturday; Sunday has none, so Monday 00:30 is closed.
    assert_eq!(s.status(paris(2026, 6, 20, 0, 30)), Status::Open);
    assert_eq!(s.status(paris(2026, 6, 21, 0, 30)), OUTSIDE);
    assert_eq!(s.status(paris(2026, 6, 15, 0, 30)), OUTSIDE);
}

#[test]
fn service_desk_hno_across_dst_change() {
    let s = hno();
    // Friday 27 March 2026, winter: 04:30 is open (03:30 UTC).
    assert!(s.is_open(utc(2026, 3, 27, 3, 30)));
    // Monday 30 March 2026, summer: 04:30 local (02:30 UTC) is closed, 05:00 (03:00 UTC) open.
    assert!(!s.is_open(utc(2026, 3, 30, 2, 30)));
    assert!(s.is_open(utc(2026, 3, 30, 3, 0)));
    // Friday 23 October 2026, summer: the evening runs to 01:00 Saturday (23:00 UTC).
    assert!(s.is_open(utc(2026, 10, 23, 22, 59)));
    assert!(!s.is_open(utc(2026, 10, 23, 23, 0)));
    // Monday 26 October 2026, winter: 04:00 local is 03:00 UTC.
    assert!(s.is_open(utc(2026, 10, 26, 3, 0)));
    assert!(!s.is_open(utc(2026, 10, 26, 2, 59)));
}

#[test]
fn cross_midnight_belongs_to_the_day_it_starts_on() {
    let s = hno();
    // Ascension, Thursday 2026-05-14 (summer time). Wednesday evening runs
    // into the holiday: open until 01:00.
    assert_eq!(s.status(paris(2026, 5, 14, 0, 30)), Status::Open);
    assert_eq!(s.status(paris(2026, 5, 14, 1, 0)), holiday("Ascension"));
    assert_eq!(s.status(paris(2026, 5, 14, 5, 30)), holiday("Ascension"));
    assert_eq!(s.status(paris(2026, 5, 14, 20, 0)), holiday("Ascension"));
    // The holiday's own evening range does not run into Friday.
    assert_eq!(s.status(paris(2026, 5, 15, 0, 30)), holiday("Ascension"));
    assert_eq!(s.status(paris(2026, 5, 15, 1, 0)), OUTSIDE);
    assert_eq!(s.status(paris(2026, 5, 15, 5, 30)), Status::Open);
}

#[test]
fn sunday_evening_runs_into_monday() {
    let cfg = ScheduleConfig {
        hours: WeekHours {
            sun: ranges(&["22:00-02:00"]),
            ..WeekHours::default()
        },
        holidays: Some("none".into()),
        ..ScheduleConfig::default()
    };
    let s = compile(&cfg);
    assert!(s.is_open(paris(2026, 11, 29, 23, 0)));
    assert!(s.is_open(paris(2026, 11, 30, 1, 59)));
    assert!(!s.is_open(paris(2026, 11, 30, 2, 0)));
    assert!(!s.is_open(paris(2026, 11, 28, 23, 0)));
}

#[test]
fn always_open() {
    let s = Schedule::always();
    assert_eq!(s.status(paris(2026, 12, 25, 3, 0)), Status::Open);
    assert_eq!(s.status(paris(2026, 11, 28, 23, 59)), Status::Open);
    assert!(s.is_open(utc(2026, 3, 29, 1, 30)));
    assert_eq!(s.timezone(), chrono_tz::Europe::Paris);
}

#[test]
fn full_day_range() {
    let cfg = ScheduleConfig {
        hours: WeekHours {
            sat: ranges(&["00:00-24:00"]),
            ..WeekHours::default()
        },
        ..ScheduleConfig::default()
    };
    let s = compile(&cfg);
    assert!(s.is_open(paris(2026, 11, 28, 0, 0)));
    assert!(s.is_open(paris(2026, 11, 28, 23, 59)));
    assert!(!s.is_open(paris(2026, 11, 29, 0, 0)));
    assert!(!s.is_open(paris(2026, 11, 27, 23, 59)));
}

#[test]
fn bad_inputs() {
    let mut cfg = office_config();
    cfg.hours.mon = ranges(&["25:00-26:00"]);
    let err = compile_err(&cfg);
    assert!(
        matches!(&err, ScheduleError::BadTimeRange { field, value } if field == "hours.mon[0]" && value == "25:00-26:00"),
        "{err:?}"
    );

    let mut cfg = office_config();
    cfg.hours.wed = ranges(&["08:00-12:00", "9-17"]);
    let err = compile_err(&cfg);
    assert_eq!(err.field(), Some("hours.wed[1]"));
    let text = err.to_string();
    assert!(
        text.starts_with("hours.wed[1]: \"9-17\" is not \"HH:MM-HH:MM\""),
        "{text}"
    );

    let mut cfg = office_config();
    cfg.hours_summer = Some(WeekHours {
        fri: ranges(&["10:00-10:00"]),
        ..WeekHours::default()
    });
    let err = compile_err(&cfg);
    assert!(
        matches!(&err, ScheduleError::BadTimeRange { field, .. } if field == "hours_summer.fri[0]"),
        "{err:?}"
    );

    let mut cfg = office_config();
    cfg.closed = vec![
        rule("2026-12-24", None, None, None),
        rule("2026-13-01", None, None, None),
    ];
    let err = compile_err(&cfg);
    assert!(
        matches!(&err, ScheduleError::BadDate { field, value } if field == "closed[1].date" && value == "2026-13-01"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "closed[1].date: \"2026-13-01\" is not a date \"YYYY-MM-DD\""
    );

    let mut cfg = office_config();
    cfg.open = vec![rule("2026-12-24", Some("noon"), None, None)];
    let err = compile_err(&cfg);
    assert!(
        matches!(&err, ScheduleError::BadTime { field, value } if field == "open[0].from" && value == "noon"),
        "{err:?}"
    );

    let mut cfg = office_config();
    cfg.closed = vec![rule("2026-12-24", Some("15:00"), Some("14:00"), None)];
    let err = compile_err(&cfg);
    assert!(
        matches!(&err, ScheduleError::EmptyWindow { field, from, to } if field == "closed[0]" && from == "15:00" && to == "14:00"),
        "{err:?}"
    );

    let mut cfg = office_config();
    cfg.timezone = Some("Mars/Olympus".into());
    let err = compile_err(&cfg);
    assert!(
        matches!(&err, ScheduleError::UnknownTimezone(tz) if tz == "Mars/Olympus"),
        "{err:?}"
    );
    assert!(err.to_string().contains("\"Mars/Olympus\""));

    let mut cfg = office_config();
    cfg.holidays = Some("us".into());
    let err = compile_err(&cfg);
    assert!(
        matches!(&err, ScheduleError::UnknownHolidays(h) if h == "us"),
        "{err:?}"
    );
}

#[derive(Debug, serde::Deserialize)]
struct Flow {
    schedule: ScheduleConfig,
}

/// The example in the module doc, without its calendar line.
const DOC_EXAMPLE: &str = r#"
[schedule]
timezone = "Europe/Paris"
holidays = "fr"

[schedule.hours]
mon = ["07:00-12:00", "13:00-19:00"]
tue = ["07:00-19:00"]
wed = ["07:00-19:00"]
thu = ["07:00-19:00"]
fri = ["07:00-19:00", "20:00-01:00"]
sat = ["08:00-18:00"]

[schedule.hours_summer]
mon = ["08:00-19:00"]
sun = ["00:00-24:00"]

[[schedule.closed]]
date = "2026-12-24"
from = "12:00"
reason = "Christmas Eve afternoon"

[[schedule.open]]
date = "2026-05-14"
from = "09:00"
to = "12:00"
reason = "Ascension morning, by contract"
"#;

#[test]
fn toml_example_parses_and_compiles() {
    let flow: Flow = toml::from_str(DOC_EXAMPLE).unwrap();
    let cfg = flow.schedule;
    assert_eq!(cfg.hours.mon, ranges(&["07:00-12:00", "13:00-19:00"]));
    assert!(cfg.hours.sun.is_empty());
    assert_eq!(cfg.closed[0].from.as_deref(), Some("12:00"));
    assert_eq!(cfg.closed[0].to, None);
    let s = compile(&cfg);
    // Monday 2026-01-12, winter: lunch break.
    assert!(s.is_open(paris(2026, 1, 12, 11, 59)));
    assert!(!s.is_open(paris(2026, 1, 12, 12, 30)));
    // Summer Monday uses hours_summer; summer Sunday is open all day.
    assert!(!s.is_open(paris(2026, 6, 15, 7, 30)));
    assert!(s.is_open(paris(2026, 6, 15, 12, 30)));
    assert!(s.is_open(paris(2026, 6, 14, 3, 0)));
    // Ascension morning open by contract, afternoon closed.
    assert_eq!(
        s.status(paris(2026, 5, 14, 10, 0)),
        Status::OpenException("Ascension morning, by contract".into())
    );
    assert_eq!(s.status(paris(2026, 5, 14, 14, 0)), holiday("Ascension"));
    assert_eq!(
        s.status(paris(2026, 12, 24, 12, 0)),
        closure("Christmas Eve afternoon")
    );
}

#[test]
fn toml_rejects_unknown_fields() {
    for bad in [
        "[schedule]\ntimezon = \"Europe/Paris\"\n[schedule.hours]\n",
        "[schedule.hours]\nmonday = [\"09:00-12:00\"]\n",
        "[schedule.hours]\n[[schedule.closed]]\ndate = \"2026-12-24\"\nwhy = \"x\"\n",
    ] {
        assert!(toml::from_str::<Flow>(bad).is_err(), "{bad}");
    }
    // hours is required.
    assert!(toml::from_str::<Flow>("[schedule]\ntimezone = \"UTC\"\n").is_err());
    // And a minimal one is fine.
    let flow: Flow = toml::from_str("[schedule.hours]\nmon = [\"09:00-12:00\"]\n").unwrap();
    assert_eq!(flow.schedule.timezone, None);
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("ivr-schedule-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn with_calendar(file: &str) -> ScheduleConfig {
    ScheduleConfig {
        calendar: Some(file.into()),
        ..office_config()
    }
}

#[test]
fn calendar_file_loaded_relative_to_base_dir() {
    let dir = TempDir::new("good");
    std::fs::create_dir_all(dir.0.join("cal")).unwrap();
    std::fs::write(
        dir.0.join("cal/2026.toml"),
        r#"
[[closed]]
date = "2026-11-24"
reason = "Inventaire"

[[closed]]
date = "2026-11-25"
from = "14:00"

[[open]]
date = "2026-11-28"
from = "10:00"
to = "12:00"
reason = "Journée portes ouvertes"
"#,
    )
    .unwrap();
    let mut cfg = with_calendar("cal/2026.toml");
    cfg.closed = vec![rule("2026-11-26", None, None, Some("inline"))];
    let s = Schedule::compile(&cfg, &dir.0).unwrap();
    assert_eq!(s.status(paris(2026, 11, 24, 10, 0)), closure("Inventaire"));
    assert_eq!(s.status(paris(2026, 11, 25, 13, 59)), Status::Open);
    assert_eq!(
        s.status(paris(2026, 11, 25, 14, 0)),
        closure("exceptional closure")
    );
    assert_eq!(s.status(paris(2026, 11, 26, 10, 0)), closure("inline"));
    assert_eq!(
        s.status(paris(2026, 11, 28, 11, 0)),
        Status::OpenException("Journée portes ouvertes".into())
    );
    assert_eq!(s.status(paris(2026, 11, 27, 10, 0)), Status::Open);

    // An absolute path ignores base_dir.
    let abs = dir.0.join("cal/2026.toml");
    let cfg = with_calendar(abs.to_str().unwrap());
    let s = Schedule::compile(&cfg, Path::new("/nonexistent")).unwrap();
    assert_eq!(s.status(paris(2026, 11, 24, 10, 0)), closure("Inventaire"));
}

fn calendar_error(name: &str, text: &str) -> (PathBuf, Option<usize>, String, String) {
    let dir = TempDir::new(name);
    std::fs::write(dir.0.join("cal.toml"), text).unwrap();
    let err = Schedule::compile(&with_calendar("cal.toml"), &dir.0).unwrap_err();
    let display = err.to_string();
    match err {
        ScheduleError::Calendar {
            path,
            line,
            message,
        } => (path, line, message, display),
        other => panic!("not a calendar error: {other:?}"),
    }
}

#[test]
fn calendar_bad_date_reports_line() {
    let text =
        "[[closed]]\ndate = \"2026-12-24\"\n\n[[closed]]\ndate = \"2026-13-01\"\nreason = \"x\"\n";
    let (path, line, message, display) = calendar_error("bad-date", text);
    assert!(path.ends_with("cal.toml"));
    assert_eq!(line, Some(5));
    assert!(message.contains("closed[1].date"), "{message}");
    assert!(message.contains("2026-13-01"), "{message}");
    assert_eq!(display, format!("{}:5: {message}", path.display()));
}

#[test]
fn calendar_bad_time_reports_its_line() {
    let text = "[[open]]\ndate = \"2026-12-24\"\nfrom = \"08:00\"\nto = \"25:00\"\n";
    let (_, line, message, _) = calendar_error("bad-time", text);
    assert_eq!(line, Some(4));
    assert!(message.contains("open[0].to"), "{message}");
}

#[test]
fn calendar_syntax_and_unknown_field_report_line() {
    let (path, line, _, display) =
        calendar_error("syntax", "[[closed]]\ndate = \"2026-12-24\"\nreason = \n");
    assert_eq!(line, Some(3));
    assert!(
        display.starts_with(&format!("{}:3: ", path.display())),
        "{display}"
    );

    let (_, line, message, _) = calendar_error(
        "unknown",
        "[[closed]]\ndate = \"2026-12-24\"\n\n[[closed]]\ndate = \"2026-12-31\"\nbecause = \"x\"\n",
    );
    assert_eq!(line, Some(6));
    assert!(message.contains("because"), "{message}");
}

#[test]
fn calendar_missing_file() {
    let dir = TempDir::new("missing");
    let err = Schedule::compile(&with_calendar("nope.toml"), &dir.0).unwrap_err();
    assert!(
        matches!(&err, ScheduleError::Calendar { path, line: None, .. } if path.ends_with("nope.toml")),
        "{err:?}"
    );
    assert_eq!(err.field(), None);
}
