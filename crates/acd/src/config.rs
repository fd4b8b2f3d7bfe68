//! ACD configuration (queues and agents) as read from TOML, and its validation.
//!
//! ```toml
//! [[queues]]
//! name = "general"
//! strategy = "longest_idle"          # fewest_calls, round_robin, skill_weighted, ring_all
//! skills = { general = 1 }           # or a list: skills = ["general"] (level 1)
//! wrap_up_s = 10
//! overflow = { after_s = 120, queue = "backup" }
//! widen = { after_s = 60, skills = { general = 1 } }
//! max_wait = { after_s = 900, destination = "voicemail" }
//! dispositions = ["info", "claim"]
//!
//! [[agents]]
//! id = "alice"
//! skills = { general = 5, billing = 3 }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

pub use crate::strategy::Strategy;

/// Lowest skill level, for agents and requirements.
pub const MIN_LEVEL: u8 = 1;
/// Highest skill level, for agents and requirements.
pub const MAX_LEVEL: u8 = 10;
/// Longest duration any `*_s` field accepts: 7 days.
pub const MAX_SECONDS: u64 = 7 * 24 * 3600;

/// The whole ACD configuration: queues and agents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcdConfig {
    /// Queues, in display order.
    #[serde(default)]
    pub queues: Vec<QueueConfig>,
    /// Agents, in config order (the order `round_robin` rotates over).
    #[serde(default)]
    pub agents: Vec<AgentConfig>,
}

/// One queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// Unique name, used by `Input::Enqueue` and overflow targets.
    pub name: String,
    /// Which eligible agent gets a call.
    #[serde(default)]
    pub strategy: Strategy,
    /// Required skills: an agent must have each at `min_level` or above.
    /// Written as a table (`{ general = 2 }`) or a list (`["general"]`, level 1).
    #[serde(default, with = "skill_table")]
    pub skills: Vec<SkillReq>,
    /// How long an offer rings before it counts as no answer (RONA).
    #[serde(default = "default_ring_timeout")]
    pub ring_timeout_s: u64,
    /// Wrap-up after each call of this queue, before the agent gets another.
    #[serde(default = "default_wrap_up")]
    pub wrap_up_s: u64,
    /// `Output::LongWait` once a call has waited this long (total wait).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_wait_s: Option<u64>,
    /// Move waiting calls to another queue after a while in this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overflow: Option<Overflow>,
    /// Relax the requirement of calls after a while in this queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub widen: Option<Widen>,
    /// Take calls out of the router after this much total wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_wait: Option<MaxWait>,
    /// Allowed disposition ("qualification") codes; empty allows any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dispositions: Vec<String>,
    /// After declining, an agent is not offered any call for this long.
    #[serde(default = "default_reject_delay")]
    pub reject_delay_s: u64,
    /// Record the conversations of this queue (stereo WAV under
    /// `var/recordings/`). The router ignores it; the call layer records.
    #[serde(default)]
    pub record: bool,
    /// Days a recording of this queue is kept before it is purged.
    #[serde(default = "default_retention_days")]
    pub recording_retention_days: u32,
    /// Agents of this queue may transfer (REFER) a call to a number out
    /// through this trunk. The router ignores it; the call layer acts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_trunk: Option<String>,
    /// ... but only to numbers that start with one of these (controlled
    /// transfers; empty: no number at all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transfer_prefixes: Vec<String>,
}

fn default_retention_days() -> u32 {
    60
}

/// One required skill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkillReq {
    /// Skill name.
    pub skill: String,
    /// Lowest accepted level, 1..=10.
    #[serde(default = "default_min_level")]
    pub min_level: u8,
}

/// `overflow = { after_s, queue }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overflow {
    /// Seconds spent in this queue before the call moves.
    pub after_s: u64,
    /// Target queue; the call keeps its place by enqueue time and priority.
    pub queue: String,
}

/// `widen = { after_s, skills }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Widen {
    /// Seconds spent in this queue before the requirement widens.
    pub after_s: u64,
    /// The requirement from then on (the call's own extra skills still apply).
    #[serde(default, with = "skill_table")]
    pub skills: Vec<SkillReq>,
}

/// `max_wait = { after_s, destination }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaxWait {
    /// Total wait (since `Enqueue`) after which the call leaves.
    pub after_s: u64,
    /// Where the edge sends the caller (a flow, a message, a number).
    pub destination: String,
}

/// One agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Unique id (the SIP user, usually).
    pub id: String,
    /// Skill levels, 1..=10.
    #[serde(default)]
    pub skills: BTreeMap<String, u8>,
    /// Logged in at start (still only offered once registered).
    #[serde(default = "default_true")]
    pub logged_in: bool,
}

fn default_ring_timeout() -> u64 {
    15
}
fn default_wrap_up() -> u64 {
    10
}
fn default_reject_delay() -> u64 {
    5
}
fn default_min_level() -> u8 {
    MIN_LEVEL
}
fn default_true() -> bool {
    true
}

impl QueueConfig {
    /// A queue with every default: longest idle, no skills, 15 s ring,
    /// 10 s wrap-up, 5 s reject delay, no overflow, widening or limits.
    pub fn new(name: impl Into<String>) -> Self {
        QueueConfig {
            name: name.into(),
            strategy: Strategy::default(),
            skills: Vec::new(),
            ring_timeout_s: default_ring_timeout(),
            wrap_up_s: default_wrap_up(),
            long_wait_s: None,
            overflow: None,
            widen: None,
            max_wait: None,
            dispositions: Vec::new(),
            reject_delay_s: default_reject_delay(),
            record: false,
            recording_retention_days: default_retention_days(),
            transfer_trunk: None,
            transfer_prefixes: Vec::new(),
        }
    }
}

impl SkillReq {
    /// `skill` at `min_level` or above.
    pub fn new(skill: impl Into<String>, min_level: u8) -> Self {
        SkillReq {
            skill: skill.into(),
            min_level,
        }
    }
}

impl AgentConfig {
    /// A logged-in agent with these skills.
    pub fn new<'a>(id: impl Into<String>, skills: impl IntoIterator<Item = (&'a str, u8)>) -> Self {
        AgentConfig {
            id: id.into(),
            skills: skills.into_iter().map(|(s, l)| (s.to_owned(), l)).collect(),
            logged_in: true,
        }
    }
}

/// Why a configuration was refused. Names the queue or agent at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `queues[index].name` is empty.
    #[error("queues[{index}]: the name is empty")]
    EmptyQueueName {
        /// Position in `queues`.
        index: usize,
    },
    /// `agents[index].id` is empty.
    #[error("agents[{index}]: the id is empty")]
    EmptyAgentId {
        /// Position in `agents`.
        index: usize,
    },
    /// Two queues share a name.
    #[error("queue {0:?} is defined twice")]
    DuplicateQueue(String),
    /// Two agents share an id.
    #[error("agent {0:?} is defined twice")]
    DuplicateAgent(String),
    /// A skill level outside 1..=10.
    #[error("{owner}: skill {skill:?} has level {level}, expected {MIN_LEVEL}..={MAX_LEVEL}")]
    SkillLevel {
        /// Where: `queue "x" skills`, `agent "y"`...
        owner: String,
        /// The skill.
        skill: String,
        /// The level found.
        level: u8,
    },
    /// A skill with an empty name.
    #[error("{owner}: a skill name is empty")]
    EmptySkill {
        /// Where.
        owner: String,
    },
    /// The same skill twice in one requirement list.
    #[error("{owner}: skill {skill:?} is listed twice")]
    DuplicateSkill {
        /// Where.
        owner: String,
        /// The skill.
        skill: String,
    },
    /// `overflow.queue` names no queue.
    #[error("queue {queue:?}: overflow target {target:?} is not a queue")]
    UnknownOverflow {
        /// The queue whose overflow is wrong.
        queue: String,
        /// The missing target.
        target: String,
    },
    /// `overflow.queue` is the queue itself.
    #[error("queue {queue:?}: overflow into itself")]
    OverflowToSelf {
        /// The queue.
        queue: String,
    },
    /// Overflow targets form a loop (calls would bounce for ever).
    #[error("overflow loop: {}", arrows(.0))]
    OverflowLoop(Vec<String>),
    /// `ring_timeout_s = 0`.
    #[error("queue {queue:?}: ring_timeout_s must be at least 1")]
    ZeroRingTimeout {
        /// The queue.
        queue: String,
    },
    /// A `*_s` field above 7 days.
    #[error("{owner}: {field} = {value} is too long, expected at most {MAX_SECONDS} (7 days)")]
    TooLong {
        /// Where.
        owner: String,
        /// Which field.
        field: &'static str,
        /// The value found.
        value: u64,
    },
    /// `max_wait.destination` is empty.
    #[error("queue {queue:?}: max_wait.destination is empty")]
    EmptyDestination {
        /// The queue.
        queue: String,
    },
    /// An empty disposition code.
    #[error("queue {queue:?}: dispositions[{index}] is empty")]
    EmptyDisposition {
        /// The queue.
        queue: String,
        /// Position in `dispositions`.
        index: usize,
    },
}

impl AcdConfig {
    /// The first problem, if any: what `Router::new` and `reconfigure` check.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self.problems().into_iter().next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Every problem, for `check-config` style reports.
    pub fn problems(&self) -> Vec<ConfigError> {
        let mut errs = Vec::new();
        let mut names = BTreeSet::new();
        for (index, q) in self.queues.iter().enumerate() {
            if q.name.is_empty() {
                errs.push(ConfigError::EmptyQueueName { index });
            } else if !names.insert(q.name.as_str()) {
                errs.push(ConfigError::DuplicateQueue(q.name.clone()));
            }
            check_queue(q, &mut errs);
        }
        for q in &self.queues {
            check_overflow_target(q, &names, &mut errs);
        }
        errs.extend(
            overflow_loops(&self.queues)
                .into_iter()
                .map(ConfigError::OverflowLoop),
        );
        let mut ids = BTreeSet::new();
        for (index, a) in self.agents.iter().enumerate() {
            if a.id.is_empty() {
                errs.push(ConfigError::EmptyAgentId { index });
            } else if !ids.insert(a.id.as_str()) {
                errs.push(ConfigError::DuplicateAgent(a.id.clone()));
            }
            let owner = format!("agent {:?}", a.id);
            for (skill, &level) in &a.skills {
                check_skill(&owner, skill, level, &mut errs);
            }
        }
        errs
    }
}

/// `"a" -> "b" -> "a"`.
fn arrows(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
    quoted.join(" -> ")
}

fn check_queue(q: &QueueConfig, errs: &mut Vec<ConfigError>) {
    let owner = format!("queue {:?}", q.name);
    check_skills(&format!("{owner} skills"), &q.skills, errs);
    if let Some(w) = &q.widen {
        check_skills(&format!("{owner} widen.skills"), &w.skills, errs);
    }
    if q.ring_timeout_s == 0 {
        errs.push(ConfigError::ZeroRingTimeout {
            queue: q.name.clone(),
        });
    }
    let durations = [
        ("ring_timeout_s", Some(q.ring_timeout_s)),
        ("wrap_up_s", Some(q.wrap_up_s)),
        ("reject_delay_s", Some(q.reject_delay_s)),
        ("long_wait_s", q.long_wait_s),
        ("overflow.after_s", q.overflow.as_ref().map(|o| o.after_s)),
        ("widen.after_s", q.widen.as_ref().map(|w| w.after_s)),
        ("max_wait.after_s", q.max_wait.as_ref().map(|m| m.after_s)),
    ];
    for (field, value) in durations {
        if let Some(value) = value.filter(|&v| v > MAX_SECONDS) {
            errs.push(ConfigError::TooLong {
                owner: owner.clone(),
                field,
                value,
            });
        }
    }
    if q.max_wait
        .as_ref()
        .is_some_and(|m| m.destination.is_empty())
    {
        errs.push(ConfigError::EmptyDestination {
            queue: q.name.clone(),
        });
    }
    for (index, d) in q.dispositions.iter().enumerate() {
        if d.is_empty() {
            errs.push(ConfigError::EmptyDisposition {
                queue: q.name.clone(),
                index,
            });
        }
    }
}

fn check_skills(owner: &str, skills: &[SkillReq], errs: &mut Vec<ConfigError>) {
    let mut seen = BTreeSet::new();
    for s in skills {
        check_skill(owner, &s.skill, s.min_level, errs);
        if !seen.insert(s.skill.as_str()) {
            errs.push(ConfigError::DuplicateSkill {
                owner: owner.to_owned(),
                skill: s.skill.clone(),
            });
        }
    }
}

fn check_skill(owner: &str, skill: &str, level: u8, errs: &mut Vec<ConfigError>) {
    if skill.is_empty() {
        errs.push(ConfigError::EmptySkill {
            owner: owner.to_owned(),
        });
    }
    if !(MIN_LEVEL..=MAX_LEVEL).contains(&level) {
        errs.push(ConfigError::SkillLevel {
            owner: owner.to_owned(),
            skill: skill.to_owned(),
            level,
        });
    }
}

fn check_overflow_target(q: &QueueConfig, names: &BTreeSet<&str>, errs: &mut Vec<ConfigError>) {
    let Some(o) = &q.overflow else { return };
    if o.queue == q.name {
        errs.push(ConfigError::OverflowToSelf {
            queue: q.name.clone(),
        });
    } else if !names.contains(o.queue.as_str()) {
        errs.push(ConfigError::UnknownOverflow {
            queue: q.name.clone(),
            target: o.queue.clone(),
        });
    }
}

/// Each overflow loop once, as the list of queue names around it (first
/// name repeated at the end). Self-loops and unknown targets are reported
/// elsewhere.
fn overflow_loops(queues: &[QueueConfig]) -> Vec<Vec<String>> {
    let index: BTreeMap<&str, usize> = queues
        .iter()
        .enumerate()
        .map(|(i, q)| (q.name.as_str(), i))
        .collect();
    let next = |i: usize| {
        let q = &queues[i];
        let o = q.overflow.as_ref()?;
        index.get(o.queue.as_str()).copied().filter(|&j| j != i)
    };
    // 0 = not seen, 1 = on the current path, 2 = done.
    let mut color = vec![0u8; queues.len()];
    let mut loops = Vec::new();
    for start in 0..queues.len() {
        let mut path = Vec::new();
        let mut node = Some(start);
        while let Some(i) = node.filter(|&i| color[i] == 0) {
            color[i] = 1;
            path.push(i);
            node = next(i);
        }
        if let Some(i) = node.filter(|&i| color[i] == 1) {
            let from = path.iter().position(|&p| p == i).unwrap_or(0);
            let mut names: Vec<String> = path[from..]
                .iter()
                .map(|&p| queues[p].name.clone())
                .collect();
            names.push(queues[i].name.clone());
            loops.push(names);
        }
        for p in path {
            color[p] = 2;
        }
    }
    loops
}

/// Serde form of a requirement list: a table `{ skill = level }` or a list
/// of names (level 1). Serialized as a table.
mod skill_table {
    use super::*;
    use serde::de::{MapAccess, SeqAccess, Visitor};
    use serde::ser::SerializeMap;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(skills: &[SkillReq], s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(skills.len()))?;
        for r in skills {
            map.serialize_entry(&r.skill, &r.min_level)?;
        }
        map.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SkillReq>, D::Error> {
        d.deserialize_any(SkillsVisitor)
    }

    struct SkillsVisitor;

    impl<'de> Visitor<'de> for SkillsVisitor {
        type Value = Vec<SkillReq>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a table of skill = level (1..=10), or a list of skill names")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some((skill, min_level)) = map.next_entry::<String, u8>()? {
                out.push(SkillReq { skill, min_level });
            }
            Ok(out)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(skill) = seq.next_element::<String>()? {
                out.push(SkillReq::new(skill, MIN_LEVEL));
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<AcdConfig, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn defaults_and_skill_table() {
        let cfg = parse(
            r#"
            [[queues]]
            name = "general"
            skills = { general = 2, french = 1 }

            [[agents]]
            id = "alice"
            skills = { general = 5 }
            "#,
        )
        .unwrap();
        let q = &cfg.queues[0];
        assert_eq!(q.strategy, Strategy::LongestIdle);
        assert_eq!(
            (q.ring_timeout_s, q.wrap_up_s, q.reject_delay_s),
            (15, 10, 5)
        );
        assert_eq!(
            q.skills,
            vec![SkillReq::new("general", 2), SkillReq::new("french", 1)]
        );
        assert!(cfg.agents[0].logged_in);
        cfg.validate().unwrap();
    }

    #[test]
    fn skill_list_means_level_one() {
        let cfg = parse(
            r#"
            [[queues]]
            name = "q"
            strategy = "ring_all"
            skills = ["general"]
            widen = { after_s = 30, skills = ["any"] }
            "#,
        )
        .unwrap();
        assert_eq!(cfg.queues[0].skills, vec![SkillReq::new("general", 1)]);
        assert_eq!(cfg.queues[0].strategy, Strategy::RingAll);
        assert_eq!(
            cfg.queues[0].widen.as_ref().unwrap().skills,
            vec![SkillReq::new("any", 1)]
        );
    }

    #[test]
    fn all_strategies_parse() {
        for s in [
            "longest_idle",
            "fewest_calls",
            "round_robin",
            "skill_weighted",
            "ring_all",
        ] {
            let cfg = parse(&format!("[[queues]]\nname = \"q\"\nstrategy = \"{s}\"\n")).unwrap();
            assert_eq!(cfg.queues[0].strategy.as_str(), s);
        }
        assert!(parse("[[queues]]\nname = \"q\"\nstrategy = \"random\"\n").is_err());
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = parse("[[queues]]\nname = \"q\"\nwrapup_s = 3\n").unwrap_err();
        assert!(err.to_string().contains("wrapup_s"), "{err}");
        assert!(parse("[[agents]]\nid = \"a\"\nlevel = 3\n").is_err());
        assert!(parse(
            "[[queues]]\nname = \"q\"\noverflow = { after_s = 1, queue = \"x\", y = 1 }\n"
        )
        .is_err());
    }

    #[test]
    fn round_trips_through_toml() {
        let mut q = QueueConfig::new("a");
        q.skills = vec![SkillReq::new("general", 3)];
        q.overflow = Some(Overflow {
            after_s: 60,
            queue: "b".into(),
        });
        q.max_wait = Some(MaxWait {
            after_s: 600,
            destination: "voicemail".into(),
        });
        let cfg = AcdConfig {
            queues: vec![q, QueueConfig::new("b")],
            agents: vec![AgentConfig::new("alice", [("general", 4)])],
        };
        let text = toml::to_string(&cfg).unwrap();
        assert_eq!(parse(&text).unwrap(), cfg);
    }

    #[test]
    fn validation_reports_each_problem() {
        let mut a = QueueConfig::new("a");
        a.skills = vec![SkillReq::new("general", 0), SkillReq::new("general", 3)];
        a.overflow = Some(Overflow {
            after_s: 10,
            queue: "nowhere".into(),
        });
        a.ring_timeout_s = 0;
        let mut b = QueueConfig::new("b");
        b.overflow = Some(Overflow {
            after_s: 10,
            queue: "b".into(),
        });
        b.wrap_up_s = MAX_SECONDS + 1;
        let cfg = AcdConfig {
            queues: vec![a, b, QueueConfig::new("a")],
            agents: vec![
                AgentConfig::new("x", [("general", 11)]),
                AgentConfig::new("x", []),
                AgentConfig::new("", []),
            ],
        };
        let errs = cfg.problems();
        let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        for want in [
            "queue \"a\" is defined twice",
            "queue \"a\" skills: skill \"general\" has level 0, expected 1..=10",
            "queue \"a\" skills: skill \"general\" is listed twice",
            "queue \"a\": ring_timeout_s must be at least 1",
            "queue \"a\": overflow target \"nowhere\" is not a queue",
            "queue \"b\": overflow into itself",
            "queue \"b\": wrap_up_s = 604801 is too long, expected at most 604800 (7 days)",
            "agent \"x\": skill \"general\" has level 11, expected 1..=10",
            "agent \"x\" is defined twice",
            "agents[2]: the id is empty",
        ] {
            assert!(
                text.iter().any(|t| t == want),
                "missing {want:?} in {text:#?}"
            );
        }
        assert_eq!(cfg.validate().unwrap_err(), errs[0]);
    }

    #[test]
    fn overflow_loops_are_refused_once() {
        let q = |name: &str, to: &str| {
            let mut q = QueueConfig::new(name);
            q.overflow = Some(Overflow {
                after_s: 5,
                queue: to.into(),
            });
            q
        };
        let cfg = AcdConfig {
            queues: vec![q("a", "b"), q("b", "c"), q("c", "a"), q("d", "a")],
            agents: vec![],
        };
        let errs = cfg.problems();
        assert_eq!(
            errs,
            vec![ConfigError::OverflowLoop(vec![
                "a".into(),
                "b".into(),
                "c".into(),
                "a".into()
            ])]
        );
        assert_eq!(
            errs[0].to_string(),
            r#"overflow loop: "a" -> "b" -> "c" -> "a""#
        );
        let chain = AcdConfig {
            queues: vec![q("a", "b"), q("b", "c"), QueueConfig::new("c")],
            agents: vec![],
        };
        chain.validate().unwrap();
    }
}
