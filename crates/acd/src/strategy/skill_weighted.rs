//! `skill_weighted`: the agent best skilled for the call's requirement.

use std::cmp::Reverse;

use super::Candidate;

/// Highest sum of levels on the required skills, then earliest
/// `idle_since`, then config order.
pub(super) fn pick(cands: &[Candidate]) -> Option<usize> {
    cands
        .iter()
        .min_by_key(|c| (Reverse(c.skill_sum), c.idle_since, c.order))
        .map(|c| c.agent)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::cand;
    use super::*;
    use std::time::Instant;

    #[test]
    fn best_skilled_wins_then_longest_idle() {
        let t0 = Instant::now();
        assert_eq!(
            pick(&[
                cand(t0, 0, 0, 0, 5),
                cand(t0, 1, 9, 0, 12),
                cand(t0, 2, 1, 0, 7)
            ]),
            Some(1)
        );
        assert_eq!(
            pick(&[cand(t0, 0, 9, 0, 12), cand(t0, 1, 3, 0, 12)]),
            Some(1)
        );
    }
}
