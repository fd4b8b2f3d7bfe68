//! `[sla]` of the configuration: time zone, test numbers, the ambiguous
//! choices of the tenders as switches with documented defaults, and the
//! targets. Every field has a default.

use chrono_tz::Tz;
use serde::{Deserialize, Deserializer};

use crate::error::Error;
use crate::kpi::callbot::CallbotOptions;
use crate::kpi::first_contact::FcrOptions;
use crate::kpi::lost::LostOptions;
use crate::kpi::pickup::PickupOptions;
use crate::kpi::productive::ProductiveOptions;
use crate::kpi::self_service::SelfServiceOptions;
use crate::kpi::service_level::SlDenominator;
use crate::kpi::survey::SurveyOptions;
use crate::kpi::wait::WaitOptions;
use crate::target::Targets;

/// KPI settings and targets (`[sla]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlaConfig {
    /// Zone of the time slots and of dates on the command line. Default
    /// Europe/Paris.
    #[serde(deserialize_with = "time_zone")]
    pub timezone: Tz,
    /// Count calls from test numbers. Default false.
    pub include_test_numbers: bool,
    /// Service level: answered within this many seconds (Y). Default 60.
    pub service_level_s: u64,
    /// Service level of the calls `offered` (default) or `answered`.
    pub service_level_denominator: SlDenominator,
    /// Pickup-rate options (`[sla.pickup]`).
    pub pickup: PickupOptions,
    /// Lost-call options (`[sla.lost]`).
    pub lost: LostOptions,
    /// Which waits count (`[sla.wait]`).
    pub wait: WaitOptions,
    /// First-contact resolution options (`[sla.fcr]`).
    pub fcr: FcrOptions,
    /// Productive-hours options (`[sla.productive_hours]`).
    pub productive_hours: ProductiveOptions,
    /// Callbot statuses options (`[sla.callbot]`).
    pub callbot: CallbotOptions,
    /// Self-service options (`[sla.self_service]`).
    pub self_service: SelfServiceOptions,
    /// Satisfaction survey options (`[sla.survey]`).
    pub survey: SurveyOptions,
    /// Targets per KPI (`[sla.targets]`), over the tenders' defaults.
    pub targets: Targets,
}

impl Default for SlaConfig {
    fn default() -> Self {
        SlaConfig {
            timezone: chrono_tz::Europe::Paris,
            include_test_numbers: false,
            service_level_s: 60,
            service_level_denominator: SlDenominator::Offered,
            pickup: PickupOptions::default(),
            lost: LostOptions::default(),
            wait: WaitOptions::default(),
            fcr: FcrOptions::default(),
            productive_hours: ProductiveOptions::default(),
            callbot: CallbotOptions::default(),
            self_service: SelfServiceOptions::default(),
            survey: SurveyOptions::default(),
            targets: Targets::default(),
        }
    }
}

/// Parse an IANA zone name.
pub fn parse_time_zone(name: &str) -> Result<Tz, Error> {
    name.trim()
        .parse()
        .map_err(|_| Error::UnknownTimeZone(name.to_string()))
}

fn time_zone<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
    let name = String::deserialize(d)?;
    parse_time_zone(&name).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::Target;

    #[test]
    fn empty_section_is_the_defaults() {
        let c: SlaConfig = toml::from_str("").unwrap();
        assert_eq!(c, SlaConfig::default());
        assert_eq!(c.timezone, chrono_tz::Europe::Paris);
        assert_eq!(c.service_level_s, 60);
        assert!(c.pickup.exclude_telecom && c.pickup.exclude_closure);
        assert!(!c.lost.informed && !c.lost.short_abandons);
    }

    #[test]
    fn switches_and_targets_are_read() {
        let c: SlaConfig = toml::from_str(
            r#"
            timezone = "America/Cayenne"
            service_level_s = 20
            service_level_denominator = "answered"
            [lost]
            informed = true
            [productive_hours]
            ordered_per_day = 300.0
            days = ["mon", "tue", "sat"]
            [targets.average_wait]
            target = 120.0
            penalty = 240.0
            "#,
        )
        .unwrap();
        assert_eq!(c.timezone, chrono_tz::America::Cayenne);
        assert_eq!(c.service_level_denominator, SlDenominator::Answered);
        assert!(c.lost.informed && c.lost.cancelled);
        assert_eq!(c.productive_hours.days.len(), 3);
        assert_eq!(
            c.targets.get("average_wait"),
            Some(&Target::at(120.0).penalty(240.0))
        );
        assert_eq!(c.targets.get("pickup_rate").map(|t| t.target), Some(0.90));
    }

    #[test]
    fn unknown_names_are_refused() {
        for (text, word) in [
            ("bogus = 1", "bogus"),
            ("[lost]\ninformd = true", "informd"),
            ("timezone = \"Mars/Olympus\"", "Mars/Olympus"),
            ("[targets.pickup]\ntarget = 0.9", "pickup"),
            ("[targets.dmc]\ntarget = 1\nmax = 2", "max"),
        ] {
            let e = toml::from_str::<SlaConfig>(text).unwrap_err().to_string();
            assert!(e.contains(word), "{text}: {e}");
        }
    }
}
