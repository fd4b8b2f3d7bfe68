//! Skill requirements: building them, interning them, matching agents.

use std::collections::{BTreeMap, HashMap};

use crate::config::SkillReq;

/// skill -> lowest accepted level.
pub(crate) type Requirement = BTreeMap<String, u8>;

/// Index of an interned requirement.
pub(crate) type ReqId = usize;

/// A config requirement list as a map.
pub(crate) fn from_config(skills: &[SkillReq]) -> Requirement {
    skills
        .iter()
        .map(|s| (s.skill.clone(), s.min_level))
        .collect()
}

/// `base` plus `extra`, keeping the higher level where both name a skill.
pub(crate) fn merge(base: &Requirement, extra: &Requirement) -> Requirement {
    let mut out = base.clone();
    for (skill, &level) in extra {
        let e = out.entry(skill.clone()).or_insert(level);
        *e = (*e).max(level);
    }
    out
}

/// The agent has every required skill at the required level or above.
pub(crate) fn satisfies(agent: &BTreeMap<String, u8>, req: &Requirement) -> bool {
    req.iter()
        .all(|(skill, &level)| agent.get(skill).is_some_and(|&a| a >= level))
}

/// Sum of the agent's levels on the required skills.
pub(crate) fn skill_sum(agent: &BTreeMap<String, u8>, req: &Requirement) -> u32 {
    req.keys()
        .map(|s| u32::from(agent.get(s).copied().unwrap_or(0)))
        .sum()
}

/// Distinct requirements get small ids, so a queue can keep one ordered
/// list per requirement and an agent only looks at lists it can serve.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    reqs: Vec<Requirement>,
    ids: HashMap<Requirement, ReqId>,
}

impl Interner {
    pub(crate) fn intern(&mut self, req: Requirement) -> ReqId {
        if let Some(&id) = self.ids.get(&req) {
            return id;
        }
        let id = self.reqs.len();
        self.reqs.push(req.clone());
        self.ids.insert(req, id);
        id
    }

    pub(crate) fn get(&self, id: ReqId) -> &Requirement {
        &self.reqs[id]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(pairs: &[(&str, u8)]) -> Requirement {
        pairs.iter().map(|(s, l)| (s.to_string(), *l)).collect()
    }

    #[test]
    fn matching_and_merging() {
        let agent = req(&[("general", 5), ("billing", 2)]);
        assert!(satisfies(&agent, &req(&[])));
        assert!(satisfies(&agent, &req(&[("general", 5)])));
        assert!(!satisfies(&agent, &req(&[("general", 6)])));
        assert!(!satisfies(&agent, &req(&[("expert", 1)])));
        assert_eq!(
            skill_sum(&agent, &req(&[("general", 1), ("billing", 1), ("x", 1)])),
            7
        );
        let m = merge(
            &req(&[("general", 3)]),
            &req(&[("general", 5), ("english", 1)]),
        );
        assert_eq!(m, req(&[("general", 5), ("english", 1)]));
    }

    #[test]
    fn interning_is_stable() {
        let mut i = Interner::default();
        let a = i.intern(req(&[("x", 1)]));
        let b = i.intern(req(&[("y", 1)]));
        assert_ne!(a, b);
        assert_eq!(i.intern(req(&[("x", 1)])), a);
        assert_eq!(i.get(b), &req(&[("y", 1)]));
    }
}
