//! Lifeguard's local health awareness and dynamic suspicion timeout (Dadgar, Phillips, Currey:
//! "Lifeguard: Local Health Awareness for More Accurate Failure Detection", 2018).
//!
//! Both are small pure pieces of state; the probe loop and the membership code decide when to
//! feed them.

use std::time::Duration;

use crate::id::MemberId;
use crate::time::Instant;

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

/// Up to this many distinct accusers are remembered per suspicion.
const MAX_ACCUSERS: usize = 4;

/// One suspicion under the dynamic timeout: when it started, who independently confirmed it,
/// and when it expires now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Suspicion {
    /// When we started suspecting.
    pub start: Instant,
    /// When it turns into Confirmed unless refuted.
    pub deadline: Instant,
    accusers: [Option<MemberId>; MAX_ACCUSERS],
    /// The most recent accuser (piggybacked with the suspicion, so it spreads).
    pub last_accuser: Option<MemberId>,
    /// Whether the member was asked directly (a ProbePing showing our claim) once the
    /// suspicion's deadline came.
    pub final_check: bool,
}

impl Suspicion {
    /// A suspicion raised at `start` by `accuser` (which does not count as a confirmation).
    pub fn new(start: Instant, accuser: Option<MemberId>, timeout: Duration) -> Self {
        let mut accusers = [None; MAX_ACCUSERS];
        accusers[0] = accuser;
        Suspicion {
            start,
            deadline: start + timeout,
            accusers,
            last_accuser: accuser,
            final_check: false,
        }
    }

    /// Independent confirmations so far (accusers beyond the first).
    pub fn confirmations(&self) -> u32 {
        let n = self.accusers.iter().filter(|a| a.is_some()).count() as u32;
        n.saturating_sub(1)
    }

    /// Records `accuser`; true if it is new (a fresh confirmation).
    pub fn confirm(&mut self, accuser: MemberId) -> bool {
        if self.accusers.contains(&Some(accuser)) {
            return false;
        }
        self.last_accuser = Some(accuser);
        match self.accusers.iter_mut().find(|a| a.is_none()) {
            Some(slot) => {
                *slot = Some(accuser);
                true
            }
            None => false, // enough remembered; more cannot shorten it further
        }
    }
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

    #[test]
    fn confirmations_count_distinct_accusers_beyond_the_first() {
        let id = MemberId::from_u128;
        let mut s = Suspicion::new(Instant::ZERO, Some(id(1)), Duration::from_secs(9));
        assert_eq!(s.confirmations(), 0);
        assert!(!s.confirm(id(1)));
        assert!(s.confirm(id(2)));
        assert!(!s.confirm(id(2)));
        assert!(s.confirm(id(3)));
        assert_eq!(s.confirmations(), 2);
        assert_eq!(s.last_accuser, Some(id(3)));
    }
}
