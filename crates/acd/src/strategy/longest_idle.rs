//! `longest_idle`: the agent available since the earliest instant.

use super::Candidate;

/// Earliest `idle_since`, then config order.
pub(super) fn pick(cands: &[Candidate]) -> Option<usize> {
    cands
        .iter()
        .min_by_key(|c| (c.idle_since, c.order))
        .map(|c| c.agent)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::cand;
    use super::*;
    use std::time::Instant;

    #[test]
    fn earliest_idle_wins_then_config_order() {
        let t0 = Instant::now();
        assert_eq!(
            pick(&[
                cand(t0, 0, 30, 0, 0),
                cand(t0, 1, 10, 9, 0),
                cand(t0, 2, 20, 0, 0)
            ]),
            Some(1)
        );
        assert_eq!(
            pick(&[cand(t0, 2, 10, 0, 0), cand(t0, 1, 10, 0, 0)]),
            Some(1)
        );
        assert_eq!(pick(&[]), None);
    }
}
