//! `fewest_calls`: the agent with the fewest calls answered since login.

use super::Candidate;

/// Fewest answered, then earliest `idle_since`, then config order.
pub(super) fn pick(cands: &[Candidate]) -> Option<usize> {
    cands
        .iter()
        .min_by_key(|c| (c.answered, c.idle_since, c.order))
        .map(|c| c.agent)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::cand;
    use super::*;
    use std::time::Instant;

    #[test]
    fn fewest_answered_wins_then_longest_idle() {
        let t0 = Instant::now();
        assert_eq!(
            pick(&[
                cand(t0, 0, 0, 5, 0),
                cand(t0, 1, 50, 2, 0),
                cand(t0, 2, 60, 3, 0)
            ]),
            Some(1)
        );
        assert_eq!(
            pick(&[cand(t0, 0, 40, 2, 0), cand(t0, 1, 30, 2, 0)]),
            Some(1)
        );
    }
}
