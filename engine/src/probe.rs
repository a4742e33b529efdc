//! Probe target choice: a shuffled round-robin over the member list that needs no memory per
//! member.
//!
//! Each round visits every position of the list exactly once in the order
//! `start, start + step, start + 2·step, … (mod n)`, with `start` random and `step` a random
//! number coprime with `n`, drawn afresh for every round. Like SWIM's shuffled round-robin, a
//! failed member is probed within one round, whatever the randomness; unlike a shuffled copy of
//! the list, it costs four words instead of one index per member.

use rand::Rng;

use crate::id::MemberId;

#[derive(Clone, Debug, Default)]
pub(crate) struct RoundRobin {
    start: usize,
    step: usize,
    pos: usize,
    n: usize,
}

impl RoundRobin {
    /// The next position whose member `pingable` accepts, or `None` after a full round of
    /// refusals (at most the rest of this round and one whole new one). `n` is the current length of the list; a change of length starts a new round.
    pub(crate) fn next<R: Rng>(
        &mut self,
        n: usize,
        rng: &mut R,
        mut pingable: impl FnMut(usize) -> bool,
    ) -> Option<usize> {
        if n == 0 {
            return None;
        }
        // The rest of the current round, then one whole new round.
        for _ in 0..(2 * n) {
            if self.n != n || self.pos >= n {
                self.new_round(n, rng);
            }
            let i = (self.start + self.pos * self.step) % n;
            self.pos += 1;
            if pingable(i) {
                return Some(i);
            }
        }
        None
    }

    fn new_round<R: Rng>(&mut self, n: usize, rng: &mut R) {
        self.n = n;
        self.pos = 0;
        self.start = rng.gen_range(0..n);
        self.step = 1;
        if n > 2 {
            for _ in 0..16 {
                let s = rng.gen_range(1..n);
                if gcd(s, n) == 1 {
                    self.step = s;
                    break;
                }
            }
        }
    }
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The probe in progress.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Probe {
    /// Number of the current probe (stale timers carry an older one).
    pub(crate) seq: u64,
    /// Its target.
    pub(crate) target: Option<MemberId>,
    /// Whether an Ack from the target arrived (directly or relayed).
    pub(crate) acked: bool,
    /// Whether the PingReq phase began (the direct Ack was overdue).
    pub(crate) pingreqs_sent: bool,
    /// PingReqs sent that asked for a Nack.
    pub(crate) expected_nacks: u32,
    /// Nacks received for this probe.
    pub(crate) nacks: u32,
    /// The target's incarnation when the probe started: a higher one heard before the probe
    /// times out means the target is alive (it refuted or restarted meanwhile).
    pub(crate) incarnation: crate::id::Incarnation,
    /// Whether the direct Ping carried our view hash / rumor store hash (an anti-entropy check
    /// the target answers in its Ack).
    pub(crate) view_asked: bool,
    pub(crate) rumors_asked: bool,
    /// The last probe was of a member we never heard from directly, and it failed: the next
    /// one goes to a member we have heard from (`Config::fair_probing`).
    pub(crate) unheard_failed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn every_member_once_per_round() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut rr = RoundRobin::default();
        for n in [1usize, 2, 7, 10, 64] {
            for _round in 0..3 {
                let mut seen = vec![0; n];
                for _ in 0..n {
                    let i = rr.next(n, &mut rng, |_| true).expect("some member");
                    seen[i] += 1;
                }
                assert!(seen.iter().all(|&c| c == 1), "n={n}: {seen:?}");
            }
        }
    }

    #[test]
    fn skips_unpingable_and_gives_up_after_a_round() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut rr = RoundRobin::default();
        for _ in 0..20 {
            assert_eq!(rr.next(10, &mut rng, |i| i == 4), Some(4));
        }
        assert_eq!(rr.next(10, &mut rng, |_| false), None);
        assert_eq!(rr.next(0, &mut rng, |_| true), None);
    }
}
