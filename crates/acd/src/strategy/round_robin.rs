//! `round_robin`: rotate over the agents in config order, per queue.

use super::Candidate;

/// The first candidate after `last` (a config position) in config order,
/// wrapping around to the first one.
pub(super) fn pick(cands: &[Candidate], last: Option<usize>) -> Option<usize> {
    let after = cands
        .iter()
        .filter(|c| last.is_none_or(|l| c.order > l))
        .min_by_key(|c| c.order);
    after
        .or_else(|| cands.iter().min_by_key(|c| c.order))
        .map(|c| c.agent)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::cand;
    use super::*;
    use std::time::Instant;

    #[test]
    fn rotates_and_wraps() {
        let t0 = Instant::now();
        let all = [
            cand(t0, 0, 0, 0, 0),
            cand(t0, 1, 0, 0, 0),
            cand(t0, 3, 0, 0, 0),
        ];
        assert_eq!(pick(&all, None), Some(0));
        assert_eq!(pick(&all, Some(0)), Some(1));
        assert_eq!(pick(&all, Some(1)), Some(3));
        assert_eq!(pick(&all, Some(2)), Some(3));
        assert_eq!(pick(&all, Some(3)), Some(0));
    }
}
