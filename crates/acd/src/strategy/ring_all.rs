//! `ring_all`: offer the call to every eligible agent at once; the router
//! cancels the other offers when the first one is answered.

use super::Candidate;

/// Every candidate, in config order.
pub(super) fn pick(cands: &[Candidate]) -> Vec<usize> {
    let mut all: Vec<&Candidate> = cands.iter().collect();
    all.sort_by_key(|c| c.order);
    all.into_iter().map(|c| c.agent).collect()
}

#[cfg(test)]
mod tests {
    use super::super::test_support::cand;
    use super::*;
    use std::time::Instant;

    #[test]
    fn everyone_in_config_order() {
        let t0 = Instant::now();
        assert_eq!(
            pick(&[cand(t0, 2, 0, 0, 0), cand(t0, 0, 5, 0, 0)]),
            vec![0, 2]
        );
        assert!(pick(&[]).is_empty());
    }
}
