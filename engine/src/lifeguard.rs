//! Lifeguard's local health awareness and dynamic suspicion timeout (Dadgar, Phillips, Currey:
//! "Lifeguard: Local Health Awareness for More Accurate Failure Detection", 2018).
//!
//! Both are small pure pieces of state; the probe loop and the membership rules
//! (`membership/suspect.rs`, which also holds each suspicion's accusers) decide when to feed
//! them.

use std::time::Duration;

// Each suspicion's accusers and deadline live with the suspicion rule.
pub use crate::membership::Suspicion;

/// The local health multiplier: how much slower than configured this member currently probes
/// and waits. It rises when the member seems to be the problem (it misses Nacks it should have
/// had, or has to refute suspicions about itself) and falls with every successful probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Awareness {
    score: u32,
    max: u32,
}

impl Awareness {
    /// A healthy member whose multiplier may reach `max_multiplier` (at least 1).
    pub fn new(max_multiplier: u32) -> Self {
        Awareness {
            score: 0,
            max: max_multiplier.max(1),
        }
    }

    /// Adds `delta` to the score, clamped to `0..max_multiplier`.
    pub fn apply(&mut self, delta: i32) {
        let s = i64::from(self.score) + i64::from(delta);
        self.score = s.clamp(0, i64::from(self.max - 1)) as u32;
    }

    /// The current multiplier, `1..=max_multiplier`.
    pub fn multiplier(&self) -> u32 {
        self.score + 1
    }

    /// `d` stretched by the multiplier.
    pub fn scale(&self, d: Duration) -> Duration {
        d * self.multiplier()
    }
}

/// Bounds of the dynamic suspicion timeout for a ring of `n` members: the minimum is the
/// configured `suspicion_timeout`; the maximum is `max_multiplier` times it, scaled by log10 of
/// the ring size (memberlist scales both bounds with log10 N; we keep the minimum fixed so that
/// a well-confirmed suspicion expires exactly as fast as plain SWIM's).
pub fn suspicion_bounds(min: Duration, max_multiplier: u32, n: usize) -> (Duration, Duration) {
    let scale = (n.max(1) as f64).log10().max(1.0);
    let max = min.mul_f64(f64::from(max_multiplier) * scale);
    (min, max.max(min))
}

/// memberlist's formula: with `c` independent confirmations of `k` expected, the suspicion
/// lasts `max − (max − min)·ln(c + 1)/ln(k + 1)`, never less than `min`.
pub fn suspicion_timeout(c: u32, k: u32, min: Duration, max: Duration) -> Duration {
    let k = k.max(1);
    let frac = (f64::from(c) + 1.0).ln() / (f64::from(k) + 1.0).ln();
    let raw = max.as_secs_f64() - frac * (max.as_secs_f64() - min.as_secs_f64());
    let ms = (raw * 1000.0).floor().max(0.0);
    Duration::from_millis(ms as u64).max(min)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiplier_is_bounded_and_relaxes() {
        let mut a = Awareness::new(8);
        assert_eq!(a.multiplier(), 1);
        a.apply(-3);
        assert_eq!(a.multiplier(), 1, "never below 1");
        a.apply(100);
        assert_eq!(a.multiplier(), 8, "never above the maximum");
        assert_eq!(a.scale(Duration::from_millis(500)), Duration::from_secs(4));
        a.apply(-1);
        assert_eq!(a.multiplier(), 7);
        let mut one = Awareness::new(1);
        one.apply(5);
        assert_eq!(one.multiplier(), 1);
    }

    #[test]
    fn suspicion_timeout_follows_memberlists_formula() {
        let min = Duration::from_secs(5);
        let max = Duration::from_secs(30);
        assert_eq!(suspicion_timeout(0, 3, min, max), max);
        // ln 2 / ln 4 = 0.5 → halfway.
        assert_eq!(
            suspicion_timeout(1, 3, min, max),
            Duration::from_millis(17_500)
        );
        assert_eq!(suspicion_timeout(3, 3, min, max), min);
        assert_eq!(
            suspicion_timeout(10, 3, min, max),
            min,
            "never below the minimum"
        );
        // Monotonically shrinking.
        let mut last = max;
        for c in 0..5 {
            let t = suspicion_timeout(c, 4, min, max);
            assert!(t <= last);
            last = t;
        }
    }

    #[test]
    fn bounds_scale_with_log_n() {
        let min = Duration::from_secs(2);
        assert_eq!(suspicion_bounds(min, 6, 5), (min, Duration::from_secs(12)));
        assert_eq!(
            suspicion_bounds(min, 6, 1000),
            (min, Duration::from_secs(36))
        );
    }
}
