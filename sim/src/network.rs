//! The network model: what happens to each message between two members.
//!
//! - **Delay**: one-way delay = `one_way_delay_min + Exp(one_way_delay_mean − one_way_delay_min)`,
//!   so `one_way_delay_mean` is the true mean. Every message draws its own delay, so messages
//!   (stream frames too) can be reordered.
//! - **Loss**: each datagram is lost independently with `loss_probability`; a stream message is
//!   lost whole with `stream_loss_probability` (default: the same).
//! - **Duplication**: a delivered message is delivered a second time, with its own delay, with
//!   `duplicate_probability`.
//! - **Partitions**: `partition` puts groups of members on different sides of a cut (no message
//!   crosses it either way); `partition_oneway` drops messages from its first group to its
//!   second only; `isolate` cuts members off from everyone. `heal` removes all of these.
//! - **Zones** ([`crate::zones`]): between zones, the path's delay and loss add to the above.
//!
//! All randomness comes from the model's own ChaCha stream, drawn in a fixed order per message
//! (loss, delay, duplication, duplicate's delay), so a run is reproducible.

use rand::Rng;
use rand_chacha::ChaCha20Rng;

use crate::zones::Zones;

/// Which kind of transport a message uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// SWIM over UDP.
    Datagram,
    /// Rumors / push-pull over TCP.
    Stream,
}

/// The global (or intra-zone) link parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Params {
    /// Least one-way delay, in nanoseconds.
    pub delay_min_ns: u64,
    /// Mean one-way delay, in nanoseconds (at least the minimum).
    pub delay_mean_ns: u64,
    /// Probability that a datagram is lost.
    pub loss_probability: f64,
    /// Probability that a stream message is lost whole.
    pub stream_loss_probability: f64,
    /// Probability that a message is delivered twice.
    pub duplicate_probability: f64,
}

/// What becomes of one message: delivered after these delays (zero, one or two copies).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Blocked by a partition, isolation or a cut between zones.
    Blocked,
    /// Lost to random loss.
    Lost,
    /// Delivered once after this many nanoseconds.
    Delivered(u64),
    /// Delivered twice.
    Duplicated(u64, u64),
}

/// A cut between groups of members.
#[derive(Clone, Debug)]
struct Cut {
    /// Side of each member: 0 for members the cut does not name, else group number + 1.
    side: Vec<u16>,
    /// One-way cuts drop only messages from side 1 to side 2.
    one_way: bool,
}

/// The network between all members; see the module documentation.
#[derive(Clone, Debug)]
pub struct NetworkModel {
    params: Params,
    cuts: Vec<Cut>,
    isolated: Vec<bool>,
    any_isolated: bool,
    zones: Option<Zones>,
    rng: ChaCha20Rng,
}

impl NetworkModel {
    /// A network of `members` members, fully connected, with `params`, drawing from `rng`.
    pub fn new(members: u32, params: Params, zones: Option<Zones>, rng: ChaCha20Rng) -> Self {
        NetworkModel {
            params,
            cuts: Vec::new(),
            isolated: vec![false; members as usize],
            any_isolated: false,
            zones,
            rng,
        }
    }

    /// The current global parameters.
    pub fn params(&self) -> Params {
        self.params
    }

    /// Replaces the global parameters.
    pub fn set_params(&mut self, params: Params) {
        self.params = params;
    }

    /// The zones, if the scenario has any.
    pub fn zones(&self) -> Option<&Zones> {
        self.zones.as_ref()
    }

    /// The zones, to change a link.
    pub fn zones_mut(&mut self) -> Option<&mut Zones> {
        self.zones.as_mut()
    }

    /// Members in different `groups` can no longer reach each other.
    pub fn partition(&mut self, groups: &[Vec<u32>]) {
        self.cut(groups, false);
    }

    /// Messages from `from` to `to` are dropped from now on; the reverse still passes.
    pub fn partition_one_way(&mut self, from: &[u32], to: &[u32]) {
        self.cut(&[from.to_vec(), to.to_vec()], true);
    }

    /// `members` can reach nobody and nobody can reach them.
    pub fn isolate(&mut self, members: &[u32]) {
        for &m in members {
            self.isolated[m as usize] = true;
        }
        self.any_isolated = self.isolated.iter().any(|&i| i);
    }

    /// Removes every partition and isolation.
    pub fn heal(&mut self) {
        self.cuts.clear();
        self.isolated.fill(false);
        self.any_isolated = false;
    }

    /// Whether a message from `from` to `to` is blocked outright (partition, isolation, or no
    /// path between their zones).
    pub fn blocked(&self, from: u32, to: u32) -> bool {
        if self.any_isolated && (self.isolated[from as usize] || self.isolated[to as usize]) {
            return true;
        }
        for cut in &self.cuts {
            let (a, b) = (cut.side[from as usize], cut.side[to as usize]);
            if a != 0 && b != 0 && a != b && (!cut.one_way || (a == 1 && b == 2)) {
                return true;
            }
        }
        matches!(&self.zones, Some(z) if z.path(from, to).is_none())
    }

    /// Whether `a` and `b` can exchange messages both ways (random loss aside).
    pub fn reachable(&self, a: u32, b: u32) -> bool {
        !self.blocked(a, b) && !self.blocked(b, a)
    }

    /// Decides the fate of one message from `from` to `to`.
    pub fn transmit(&mut self, from: u32, to: u32, transport: Transport) -> Fate {
        if self.blocked(from, to) {
            return Fate::Blocked;
        }
        let p = self.params;
        let (mut min, mut mean, mut survival) = (p.delay_min_ns, p.delay_mean_ns, 1.0);
        if let Some(path) = self.zones.as_ref().and_then(|z| z.path(from, to)) {
            min += path.delay_min_ns;
            mean += path.delay_mean_ns;
            survival = path.survival;
        }
        let loss = match transport {
            Transport::Datagram => p.loss_probability,
            Transport::Stream => p.stream_loss_probability,
        };
        let loss = 1.0 - (1.0 - loss) * survival;
        if loss > 0.0 && self.rng.gen::<f64>() < loss {
            return Fate::Lost;
        }
        let first = self.delay(min, mean);
        if p.duplicate_probability > 0.0 && self.rng.gen::<f64>() < p.duplicate_probability {
            let second = self.delay(min, mean);
            return Fate::Duplicated(first, second);
        }
        Fate::Delivered(first)
    }

    /// `min + Exp(mean − min)`, in nanoseconds.
    fn delay(&mut self, min: u64, mean: u64) -> u64 {
        let spread = mean.saturating_sub(min);
        if spread == 0 {
            return min;
        }
        let u: f64 = self.rng.gen();
        let extra = -(spread as f64) * (1.0 - u).ln();
        min.saturating_add(extra.min(1e18) as u64)
    }

    fn cut(&mut self, groups: &[Vec<u32>], one_way: bool) {
        let mut side = vec![0u16; self.isolated.len()];
        for (g, members) in groups.iter().enumerate() {
            for &m in members {
                side[m as usize] = g as u16 + 1;
            }
        }
        self.cuts.push(Cut { side, one_way });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zones::Link;
    use rand::SeedableRng;

    fn params(loss: f64) -> Params {
        Params {
            delay_min_ns: 1_000_000,
            delay_mean_ns: 4_000_000,
            loss_probability: loss,
            stream_loss_probability: loss,
            duplicate_probability: 0.0,
        }
    }

    fn model(members: u32, loss: f64) -> NetworkModel {
        NetworkModel::new(members, params(loss), None, ChaCha20Rng::seed_from_u64(7))
    }

    #[test]
    fn partition_blocks_both_ways_and_heals() {
        let mut n = model(4, 0.0);
        n.partition(&[vec![0, 1], vec![2, 3]]);
        assert!(n.blocked(0, 2) && n.blocked(3, 1));
        assert!(!n.blocked(0, 1) && !n.blocked(2, 3));
        assert_eq!(n.transmit(1, 2, Transport::Datagram), Fate::Blocked);
        n.heal();
        assert!(!n.blocked(0, 2));
    }

    #[test]
    fn one_way_partition_blocks_one_direction() {
        let mut n = model(4, 0.0);
        n.partition_one_way(&[0], &[1, 2]);
        assert!(n.blocked(0, 1) && n.blocked(0, 2));
        assert!(!n.blocked(1, 0) && !n.blocked(2, 0) && !n.blocked(1, 2) && !n.blocked(3, 0));
        assert!(!n.reachable(0, 1) && !n.reachable(1, 0) && n.reachable(3, 0));
    }

    #[test]
    fn isolation_cuts_a_member_off() {
        let mut n = model(3, 0.0);
        n.isolate(&[1]);
        assert!(n.blocked(0, 1) && n.blocked(1, 2));
        assert!(!n.blocked(0, 2));
        n.heal();
        assert!(!n.blocked(0, 1));
    }

    #[test]
    fn loss_matches_probability_and_delay_mean() {
        let mut n = model(2, 0.1);
        let (mut lost, mut sum, mut delivered) = (0u32, 0u64, 0u64);
        for _ in 0..100_000 {
            match n.transmit(0, 1, Transport::Datagram) {
                Fate::Lost => lost += 1,
                Fate::Delivered(d) => {
                    assert!(d >= 1_000_000);
                    sum += d;
                    delivered += 1;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        let rate = f64::from(lost) / 100_000.0;
        assert!((rate - 0.1).abs() < 0.005, "loss rate {rate}");
        let mean = sum as f64 / delivered as f64;
        assert!((mean - 4e6).abs() < 0.05e6, "mean delay {mean}");
    }

    #[test]
    fn duplicates_happen_at_their_rate() {
        let mut p = params(0.0);
        p.duplicate_probability = 0.2;
        let mut n = NetworkModel::new(2, p, None, ChaCha20Rng::seed_from_u64(3));
        let dups = (0..10_000)
            .filter(|_| matches!(n.transmit(0, 1, Transport::Stream), Fate::Duplicated(..)))
            .count();
        assert!((1800..2200).contains(&dups), "{dups}");
    }

    #[test]
    fn same_seed_same_fates() {
        let run = || {
            let mut n = model(2, 0.3);
            (0..100)
                .map(|_| n.transmit(0, 1, Transport::Datagram))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn zones_add_path_delay_and_can_be_cut() {
        let mut zones = Zones::new(vec!["east".into(), "west".into()], vec![0, 0, 1]);
        let wan = Link {
            delay_min_ns: 30_000_000,
            delay_mean_ns: 30_000_000,
            loss_probability: 0.0,
        };
        zones.set_link(0, 1, wan);
        let mut n = NetworkModel::new(3, params(0.0), Some(zones), ChaCha20Rng::seed_from_u64(1));
        match n.transmit(0, 2, Transport::Datagram) {
            Fate::Delivered(d) => assert!(d >= 31_000_000, "{d}"),
            other => panic!("unexpected {other:?}"),
        }
        match n.transmit(0, 1, Transport::Datagram) {
            Fate::Delivered(d) => assert!(d < 30_000_000, "{d}"),
            other => panic!("unexpected {other:?}"),
        }
        let cut = Link {
            loss_probability: 1.0,
            ..wan
        };
        n.zones_mut().expect("zones").set_link(1, 0, cut);
        assert!(n.blocked(0, 2) && n.blocked(2, 1) && !n.blocked(0, 1));
    }
}
