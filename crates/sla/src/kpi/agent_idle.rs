//! Agent idle share.
//!
//! REQUIREMENTS D: "available-but-idle time / logged-in time", target
//! under 10%. Computed from the agent-state journal (`var/cdr/agents/`),
//! not from call records.

use std::collections::BTreeMap;

use cdr::agents::AgentStateRecord;
use chrono::{DateTime, Utc};

use super::Value;

/// Idle share = time available with a registered phone (waiting for a
/// call) / time logged in (any state but `logged_out`), within
/// `[from, to)`. Each state lasts until the agent's next change; the last
/// one until `to`, else until the last change of anyone. Time before an
/// agent's first change in the journal is unknown and left out. The
/// platform figure sums every agent's times.
pub fn agent_idle_share(
    states: &[AgentStateRecord],
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> (Value, BTreeMap<String, Value>) {
    let Some(last) = states.iter().map(|s| s.at).max() else {
        return (Value::ratio(0.0, 0.0), BTreeMap::new());
    };
    let end = to.unwrap_or(last);
    let mut by_agent: BTreeMap<&str, Vec<&AgentStateRecord>> = BTreeMap::new();
    for s in states {
        by_agent.entry(s.agent.as_str()).or_default().push(s);
    }
    let (mut idle_all, mut logged_all) = (0i64, 0i64);
    let mut out = BTreeMap::new();
    for (agent, mut list) in by_agent {
        list.sort_by_key(|s| s.at);
        let (mut idle, mut logged) = (0i64, 0i64);
        for (i, s) in list.iter().enumerate() {
            let until = list.get(i + 1).map_or(end, |n| n.at);
            let start = from.map_or(s.at, |f| s.at.max(f));
            let stop = until.min(end);
            let ms = (stop - start).num_milliseconds().max(0);
            if s.state != "logged_out" {
                logged += ms;
                if s.state == "available" && s.registered {
                    idle += ms;
                }
            }
        }
        idle_all += idle;
        logged_all += logged;
        out.insert(agent.to_string(), Value::ratio(idle as f64, logged as f64));
    }
    (Value::ratio(idle_all as f64, logged_all as f64), out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn st(t: &str, agent: &str, state: &str, registered: bool) -> AgentStateRecord {
        AgentStateRecord {
            at: at(t),
            agent: agent.into(),
            state: state.into(),
            reason: None,
            registered,
        }
    }

    #[test]
    fn idle_over_logged_in_time() {
        // a: 09:00 available 10 min, on call 40 min, wrap-up 5, available
        // 5 until 10:00 -> idle 15 / logged 60 = 0.25.
        // b: available 09:00-09:30 but unregistered (not idle), paused
        // 30 min, then logged out at 10:00 -> idle 0 / logged 60.
        let states = vec![
            st("2026-03-02T09:00:00Z", "a", "available", true),
            st("2026-03-02T09:10:00Z", "a", "on_call", true),
            st("2026-03-02T09:50:00Z", "a", "wrap_up", true),
            st("2026-03-02T09:55:00Z", "a", "available", true),
            st("2026-03-02T09:00:00Z", "b", "available", false),
            st("2026-03-02T09:30:00Z", "b", "paused", true),
            st("2026-03-02T10:00:00Z", "b", "logged_out", true),
        ];
        let (all, per) = agent_idle_share(&states, None, Some(at("2026-03-02T10:00:00Z")));
        assert_eq!(per["a"].value, Some(0.25));
        assert_eq!(per["b"].value, Some(0.0));
        // (15 + 0) / (60 + 60)
        assert_eq!(all.value, Some(0.125));
        // From 09:30: a idle 5 of 30; b 0 of 30.
        let (all, per) = agent_idle_share(
            &states,
            Some(at("2026-03-02T09:30:00Z")),
            Some(at("2026-03-02T10:00:00Z")),
        );
        assert_eq!(per["a"].value, Some(5.0 / 30.0));
        assert_eq!(all.value, Some(5.0 / 60.0));
        assert_eq!(agent_idle_share(&[], None, None).0.value, None);
    }
}
