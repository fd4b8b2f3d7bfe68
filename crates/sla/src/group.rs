//! Grouping calls by arrival time slot (half-hour, hour, day, ISO week,
//! month, in a time zone, DST-correct), by queue, flow or DID, and by
//! business hours (HO / HNO) through a closure the caller supplies.

use std::collections::BTreeMap;
use std::str::FromStr;

use cdr::CallRecord;
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use crate::error::Error;
use crate::facts;

/// A time slot size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// Half-hour slots.
    HalfHour,
    /// Hour slots.
    Hour,
    /// Local days.
    Day,
    /// ISO week, Monday to Sunday.
    Week,
    /// Calendar months.
    Month,
}

impl FromStr for Period {
    type Err = Error;
    fn from_str(s: &str) -> Result<Period, Error> {
        match s {
            "halfhour" | "half-hour" => Ok(Period::HalfHour),
            "hour" => Ok(Period::Hour),
            "day" => Ok(Period::Day),
            "week" => Ok(Period::Week),
            "month" => Ok(Period::Month),
            _ => Err(Error::UnknownPeriod(s.to_string())),
        }
    }
}

/// One time slot: its start and end instants, and its local label
/// (`2026-10-25T02:30+01:00` for sub-day slots, whose local times may
/// repeat at a DST change; `2026-10-25`, `2026-W43`, `2026-10` otherwise).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Slot {
    /// First instant of the slot.
    pub start: DateTime<Utc>,
    /// First instant after the slot.
    pub end: DateTime<Utc>,
    /// The slot's local label.
    pub label: String,
}

/// The first instant of a local date (midnight, or the first minute after
/// a DST gap that swallows midnight).
pub fn local_midnight(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    let midnight = date.and_time(chrono::NaiveTime::MIN);
    (0..=24 * 60)
        .find_map(|m| {
            tz.from_local_datetime(&(midnight + Duration::minutes(m)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&midnight))
}

impl Period {
    /// The slot holding instant `at`, in zone `tz`.
    pub fn slot(self, at: DateTime<Utc>, tz: Tz) -> Slot {
        let local = at.with_timezone(&tz);
        let date = local.date_naive();
        let day_slot = |from: NaiveDate, to: NaiveDate, label: String| Slot {
            start: local_midnight(tz, from),
            end: local_midnight(tz, to),
            label,
        };
        match self {
            Period::HalfHour | Period::Hour => {
                let size = if self == Period::Hour { 60 } else { 30 };
                let into = Duration::minutes(i64::from(local.minute() % size))
                    + Duration::seconds(i64::from(local.second()))
                    + Duration::nanoseconds(i64::from(local.nanosecond()));
                let start = at - into;
                Slot {
                    start,
                    end: start + Duration::minutes(i64::from(size)),
                    label: start
                        .with_timezone(&tz)
                        .format("%Y-%m-%dT%H:%M%:z")
                        .to_string(),
                }
            }
            Period::Day => day_slot(date, date + Duration::days(1), date.to_string()),
            Period::Week => {
                let monday =
                    date - Duration::days(i64::from(date.weekday().num_days_from_monday()));
                let week = date.iso_week();
                let label = format!("{}-W{:02}", week.year(), week.week());
                day_slot(monday, monday + Duration::days(7), label)
            }
            Period::Month => {
                let first = date.with_day(1).unwrap_or(date);
                let next = first
                    .checked_add_months(chrono::Months::new(1))
                    .unwrap_or(first);
                day_slot(first, next, first.format("%Y-%m").to_string())
            }
        }
    }

    /// Whether a slot is a day or longer.
    pub fn whole_days(self) -> bool {
        !matches!(self, Period::HalfHour | Period::Hour)
    }
}

/// A call attribute to group by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dimension {
    /// Every queue the call waited in (it overflowed out of all but the
    /// last); see [`crate::Scope`].
    Queue,
    /// The flow the call ran.
    Flow,
    /// The number the caller dialled.
    Did,
}

impl FromStr for Dimension {
    type Err = Error;
    fn from_str(s: &str) -> Result<Dimension, Error> {
        match s {
            "queue" => Ok(Dimension::Queue),
            "flow" => Ok(Dimension::Flow),
            "did" => Ok(Dimension::Did),
            _ => Err(Error::UnknownDimension(s.to_string())),
        }
    }
}

impl Dimension {
    /// The dimension's name (`queue`, `flow`, `did`).
    pub fn name(self) -> &'static str {
        match self {
            Dimension::Queue => "queue",
            Dimension::Flow => "flow",
            Dimension::Did => "did",
        }
    }

    /// The values of a call (several queues after overflows; none: `None`).
    fn values(self, r: &CallRecord) -> Vec<Option<String>> {
        match self {
            Dimension::Queue => {
                let mut qs: Vec<Option<String>> = Vec::new();
                for q in facts::hops(r) {
                    if !qs.iter().any(|x| x.as_deref() == Some(q)) {
                        qs.push(Some(q.to_string()));
                    }
                }
                if qs.is_empty() {
                    qs.push(None);
                }
                qs
            }
            Dimension::Flow => vec![r.flow.clone()],
            Dimension::Did => vec![r.did.clone()],
        }
    }
}

/// Business hours at a call's arrival: Some(true) open (HO), Some(false)
/// closed (HNO), None unknown. Supplied by the caller so that this crate
/// needs no IVR schedule.
pub type HoursFn<'f> = dyn Fn(&CallRecord) -> Option<bool> + 'f;

/// HO / HNO side of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Hours {
    /// Business hours (HO).
    Business,
    /// Outside business hours (HNO).
    NonBusiness,
    /// The call's time matched no schedule.
    Unknown,
}

impl Hours {
    /// The side's label in reports.
    pub fn label(self) -> &'static str {
        match self {
            Hours::Business => "HO",
            Hours::NonBusiness => "HNO",
            Hours::Unknown => "hours=unknown",
        }
    }
}

/// What identifies a group; unused parts are `None`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct GroupKey {
    /// The time slot, when grouping by period.
    pub slot: Option<Slot>,
    /// The grouped attribute and the call's value of it (`None`: the call
    /// has none, shown `-`).
    pub member: Option<(Dimension, Option<String>)>,
    /// The side, when grouping by business hours.
    pub hours: Option<Hours>,
}

impl GroupKey {
    /// `all`, or the parts joined by spaces: `2026-10-25 queue=general HO`.
    pub fn label(&self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = &self.slot {
            parts.push(s.label.clone());
        }
        if let Some((d, v)) = &self.member {
            parts.push(format!("{}={}", d.name(), v.as_deref().unwrap_or("-")));
        }
        if let Some(h) = self.hours {
            parts.push(h.label().to_string());
        }
        if parts.is_empty() {
            "all".to_string()
        } else {
            parts.join(" ")
        }
    }

    /// The queue whose scope the group's figures are computed in.
    pub fn queue(&self) -> Option<&str> {
        match &self.member {
            Some((Dimension::Queue, Some(q))) => Some(q),
            _ => None,
        }
    }
}

/// How to split calls into groups.
#[derive(Clone, Copy)]
pub struct Grouping<'f> {
    /// Slot size; `None`: one slot for the whole range.
    pub period: Option<Period>,
    /// Zone of the time slots.
    pub tz: Tz,
    /// Grouping attribute; `None`: all calls together.
    pub dimension: Option<Dimension>,
    /// Business-hours classifier; `None`: no HO/HNO split.
    pub hours: Option<&'f HoursFn<'f>>,
}

/// A group and its calls.
#[derive(Debug, Clone)]
pub struct Group<'a> {
    /// What identifies the group.
    pub key: GroupKey,
    /// Its calls.
    pub records: Vec<&'a CallRecord>,
}

impl<'f> Grouping<'f> {
    /// Everything in one group, time slots in `tz`.
    pub fn all(tz: Tz) -> Grouping<'f> {
        Grouping {
            period: None,
            tz,
            dimension: None,
            hours: None,
        }
    }

    /// The groups of `records`, in key order (slots by time). Without any
    /// grouping there is one group, `all`, even with no calls. A call is in
    /// one group, except by queue: then it is in the group of every queue
    /// it waited in.
    pub fn groups<'a>(&self, records: impl IntoIterator<Item = &'a CallRecord>) -> Vec<Group<'a>> {
        let mut map: BTreeMap<GroupKey, Vec<&'a CallRecord>> = BTreeMap::new();
        if self.period.is_none() && self.dimension.is_none() && self.hours.is_none() {
            map.insert(
                GroupKey {
                    slot: None,
                    member: None,
                    hours: None,
                },
                Vec::new(),
            );
        }
        for r in records {
            let slot = self.period.map(|p| p.slot(r.arrived_at, self.tz));
            let hours = self.hours.map(|f| match f(r) {
                Some(true) => Hours::Business,
                Some(false) => Hours::NonBusiness,
                None => Hours::Unknown,
            });
            let members = match self.dimension {
                Some(d) => d.values(r).into_iter().map(|v| Some((d, v))).collect(),
                None => vec![None],
            };
            for member in members {
                let key = GroupKey {
                    slot: slot.clone(),
                    member,
                    hours,
                };
                map.entry(key).or_default().push(r);
            }
        }
        map.into_iter()
            .map(|(key, records)| Group { key, records })
            .collect()
    }
}
