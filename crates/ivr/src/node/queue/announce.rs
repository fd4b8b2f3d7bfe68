//! What a waiting caller hears about its place in the queue: the router's
//! position and estimated wait (EWT) turned into prompt names, never wrong
//! and never going backwards. Pure functions; the `queue` node plays them.
//!
//! Rules (REQUIREMENTS G: "position announcements wrong or going backwards"):
//! - position 0 (an agent's phone rings for the call) or no position: say
//!   nothing at all (the EWT is zero then, and would be wrong);
//! - a position higher than the last one said to this caller (a
//!   higher-priority call went ahead): the position is not said (repeating
//!   the old one would be false); the same or a lower one is said;
//! - the EWT is rounded up to whole minutes, "moins d'une minute" under
//!   60 s, "plus de MAX minutes" above `announce_max_wait_min`; a wait
//!   longer than the last one said is not said either;
//! - positions above 99: "De nombreux appels sont en attente avant le
//!   vôtre." (`position_many`).

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use crate::node::PromptRef;

/// Highest position and minute count said with a number prompt (`n1`..`n99`).
pub const MAX_NUMBER: u32 = 99;

/// What to announce (the node's options).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Announce {
    /// Say the caller's position.
    pub position: bool,
    /// Say the estimated wait.
    pub wait: bool,
    /// Above this many minutes: "plus de MAX minutes" (1 to 99).
    pub max_wait_min: u32,
}

/// An estimated wait as said; ordered from the shortest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Wait {
    /// Under 60 s.
    LessThanMinute,
    /// Whole minutes, rounded up (1 to max).
    Minutes(u32),
    /// More than the configured maximum (minutes).
    MoreThan(u32),
}

/// The EWT as said: rounded up to whole minutes, capped at `max_min`.
pub fn wait_phrase(ewt: Duration, max_min: u32) -> Wait {
    if ewt < Duration::from_secs(60) {
        return Wait::LessThanMinute;
    }
    // Whole seconds rounded up, then whole minutes rounded up.
    let secs = ewt
        .as_secs()
        .saturating_add(u64::from(ewt.subsec_nanos() > 0));
    let minutes = secs.div_ceil(60);
    match u32::try_from(minutes) {
        Ok(m) if m <= max_min => Wait::Minutes(m),
        _ => Wait::MoreThan(max_min),
    }
}

/// A number as a position is said ("vingt et un"): `n1`..`n99`.
pub fn number(n: u32) -> String {
    format!("n{n}")
}

/// A number of minutes ("vingt et une minutes": feminine where French
/// says so): `n1f`, `n21f`... else as [`number`].
pub fn minutes_number(n: u32) -> String {
    if n % 10 == 1 && n != 11 && n != 71 && n != 91 {
        format!("n{n}f")
    } else {
        number(n)
    }
}

/// "Vous êtes en position N", or "many calls ahead" above 99.
pub fn position_prompts(position: usize) -> Vec<String> {
    match u32::try_from(position) {
        Ok(p @ 1..=MAX_NUMBER) => vec!["position".into(), number(p)],
        _ => vec!["position_many".into()],
    }
}

/// "Le temps d'attente estimé est de ..." for a wait as said.
pub fn wait_prompts(wait: Wait) -> Vec<String> {
    let mut p = vec!["ewt".to_string()];
    match wait {
        Wait::LessThanMinute => p.push("less_than_minute".into()),
        Wait::Minutes(m) => {
            p.push(minutes_number(m));
            p.push(if m == 1 { "minute" } else { "minutes" }.into());
        }
        Wait::MoreThan(m) => {
            p.push("more_than".into());
            p.push(minutes_number(m));
            p.push(if m == 1 { "minute" } else { "minutes" }.into());
        }
    }
    p
}

/// What was last said to one caller: announcements only go forward.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Said {
    position: Option<usize>,
    wait: Option<Wait>,
}

impl Said {
    /// The prompts of the announcement for this position and EWT (empty:
    /// say nothing now), remembering what is said.
    pub fn next(&mut self, a: &Announce, position: usize, ewt: Duration) -> Vec<String> {
        if position == 0 {
            return Vec::new(); // ringing an agent: EWT 0 would be wrong
        }
        let mut out = Vec::new();
        if a.position && self.position.is_none_or(|last| position <= last) {
            self.position = Some(position);
            out.extend(position_prompts(position));
        }
        let wait = wait_phrase(ewt, a.max_wait_min);
        if a.wait && self.wait.is_none_or(|last| wait <= last) {
            self.wait = Some(wait);
            out.extend(wait_prompts(wait));
        }
        out
    }
}

/// Every prompt name an announcement with these options may use.
pub fn prompt_names(a: &Announce) -> Vec<String> {
    let mut names = Vec::new();
    if a.position {
        for p in 1..=MAX_NUMBER as usize + 1 {
            names.extend(position_prompts(p));
        }
    }
    if a.wait {
        let max = a.max_wait_min.clamp(1, MAX_NUMBER);
        names.extend(wait_prompts(Wait::LessThanMinute));
        for m in 1..=max {
            names.extend(wait_prompts(Wait::Minutes(m)));
        }
        names.extend(wait_prompts(Wait::MoreThan(max)));
    }
    names.sort();
    names.dedup();
    names
}

/// Every piece any announcement may use, as flow prompt references (for
/// validation, which borrows them).
static PIECES: LazyLock<BTreeMap<String, PromptRef>> = LazyLock::new(|| {
    let all = Announce {
        position: true,
        wait: true,
        max_wait_min: MAX_NUMBER,
    };
    prompt_names(&all)
        .into_iter()
        .map(|n| (n.clone(), PromptRef::Name(n)))
        .collect()
});

/// [`prompt_names`] as prompt references.
pub fn prompt_refs(a: &Announce) -> Vec<&'static PromptRef> {
    prompt_names(a)
        .iter()
        .filter_map(|n| PIECES.get(n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: Announce = Announce {
        position: true,
        wait: true,
        max_wait_min: 30,
    };

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn the_wait_is_rounded_up_to_whole_minutes_and_capped() {
        assert_eq!(wait_phrase(Duration::ZERO, 30), Wait::LessThanMinute);
        assert_eq!(wait_phrase(secs(59), 30), Wait::LessThanMinute);
        assert_eq!(
            wait_phrase(Duration::from_millis(59_999), 30),
            Wait::LessThanMinute
        );
        assert_eq!(wait_phrase(secs(60), 30), Wait::Minutes(1));
        assert_eq!(
            wait_phrase(Duration::from_millis(60_001), 30),
            Wait::Minutes(2)
        );
        assert_eq!(wait_phrase(secs(61), 30), Wait::Minutes(2));
        assert_eq!(wait_phrase(secs(90), 30), Wait::Minutes(2));
        assert_eq!(wait_phrase(secs(120), 30), Wait::Minutes(2));
        assert_eq!(wait_phrase(secs(30 * 60), 30), Wait::Minutes(30));
        assert_eq!(wait_phrase(secs(30 * 60 + 1), 30), Wait::MoreThan(30));
        assert_eq!(wait_phrase(Duration::MAX, 30), Wait::MoreThan(30));
        assert_eq!(wait_phrase(secs(600), 5), Wait::MoreThan(5));
    }

    #[test]
    fn waits_are_ordered_from_the_shortest() {
        assert!(Wait::LessThanMinute < Wait::Minutes(1));
        assert!(Wait::Minutes(2) < Wait::Minutes(3));
        assert!(Wait::Minutes(30) < Wait::MoreThan(30));
    }

    #[test]
    fn positions_and_waits_to_prompt_names() {
        assert_eq!(position_prompts(1), ["position", "n1"]);
        assert_eq!(position_prompts(99), ["position", "n99"]);
        assert_eq!(position_prompts(100), ["position_many"]);
        assert_eq!(
            wait_prompts(Wait::LessThanMinute),
            ["ewt", "less_than_minute"]
        );
        assert_eq!(wait_prompts(Wait::Minutes(1)), ["ewt", "n1f", "minute"]);
        assert_eq!(wait_prompts(Wait::Minutes(2)), ["ewt", "n2", "minutes"]);
        assert_eq!(wait_prompts(Wait::Minutes(11)), ["ewt", "n11", "minutes"]);
        assert_eq!(wait_prompts(Wait::Minutes(21)), ["ewt", "n21f", "minutes"]);
        assert_eq!(wait_prompts(Wait::Minutes(71)), ["ewt", "n71", "minutes"]);
        assert_eq!(wait_prompts(Wait::Minutes(81)), ["ewt", "n81f", "minutes"]);
        assert_eq!(
            wait_prompts(Wait::MoreThan(30)),
            ["ewt", "more_than", "n30", "minutes"]
        );
    }

    #[test]
    fn an_announcement_says_position_then_wait() {
        let mut said = Said::default();
        assert_eq!(
            said.next(&ALL, 2, secs(90)),
            ["position", "n2", "ewt", "n2", "minutes"]
        );
        assert_eq!(
            said.next(&ALL, 1, secs(45)),
            ["position", "n1", "ewt", "less_than_minute"]
        );
        let mut said = Said::default();
        assert_eq!(
            said.next(&ALL, 250, secs(250 * 180)),
            ["position_many", "ewt", "more_than", "n30", "minutes"]
        );
        let only_wait = Announce {
            position: false,
            ..ALL
        };
        assert_eq!(
            Said::default().next(&only_wait, 3, secs(200)),
            ["ewt", "n4", "minutes"]
        );
        let only_position = Announce { wait: false, ..ALL };
        assert_eq!(
            Said::default().next(&only_position, 3, secs(200)),
            ["position", "n3"]
        );
    }

    #[test]
    fn announcements_never_go_backwards() {
        let mut said = Said::default();
        assert_eq!(said.next(&ALL, 3, secs(270)).len(), 5);
        // Ringing an agent: nothing, and nothing remembered.
        assert!(said.next(&ALL, 0, Duration::ZERO).is_empty());
        // A priority call went ahead: the position is not said, nor the
        // longer wait.
        assert!(said.next(&ALL, 4, secs(360)).is_empty());
        // Same place again: said again.
        assert_eq!(
            said.next(&ALL, 3, secs(270)),
            ["position", "n3", "ewt", "n5", "minutes"]
        );
        // Closer, but agents left so the wait grew: position only.
        assert_eq!(said.next(&ALL, 2, secs(400)), ["position", "n2"]);
        // Higher place but shorter wait (more agents): wait only.
        assert_eq!(said.next(&ALL, 3, secs(100)), ["ewt", "n2", "minutes"]);
        assert_eq!(
            said.next(&ALL, 1, secs(30)),
            ["position", "n1", "ewt", "less_than_minute"]
        );
        // Above 99 a lower count still says "many" until under 100.
        let mut said = Said::default();
        assert_eq!(said.next(&ALL, 150, secs(60 * 60))[0], "position_many");
        assert_eq!(said.next(&ALL, 120, secs(60 * 60))[0], "position_many");
        assert_eq!(
            said.next(&ALL, 130, secs(60 * 60)),
            ["ewt", "more_than", "n30", "minutes"],
            "further back: the position is not said, the same wait is"
        );
        assert_eq!(said.next(&ALL, 99, secs(60 * 60))[..2], ["position", "n99"]);
    }

    #[test]
    fn the_prompts_needed_follow_the_options() {
        let names = prompt_names(&ALL);
        for n in [
            "position",
            "position_many",
            "n1",
            "n99",
            "ewt",
            "less_than_minute",
        ] {
            assert!(names.contains(&n.to_string()), "{n}");
        }
        for n in ["more_than", "minute", "minutes", "n1f", "n21f", "n30"] {
            assert!(names.contains(&n.to_string()), "{n}");
        }
        assert!(!names.contains(&"n31f".to_string()), "above the cap of 30");
        let wait_only = prompt_names(&Announce {
            position: false,
            wait: true,
            max_wait_min: 10,
        });
        assert!(!wait_only.contains(&"position".to_string()));
        assert!(!wait_only.contains(&"n11".to_string()));
        assert!(wait_only.contains(&"n10".to_string()));
        assert_eq!(prompt_refs(&ALL).len(), names.len());
    }

    #[test]
    fn every_piece_is_a_shipped_prompt() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../prompts");
        let all = Announce {
            position: true,
            wait: true,
            max_wait_min: MAX_NUMBER,
        };
        for n in prompt_names(&all) {
            assert!(dir.join(format!("{n}.wav")).is_file(), "prompts/{n}.wav");
        }
    }
}
