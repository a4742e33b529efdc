//! The two rumor dissemination strategies behind one interface, chosen by
//! [`Config::dissemination`](crate::Config::dissemination):
//!
//! * **habitat** — Butterfly's per-destination heat: a rumor is hot for a member until it has
//!   been sent to that member [`SHARE_LIMIT`] times; every gossip interval, up to
//!   `gossip_fanout` members with hot rumors get all of them, one rumor per frame. A change
//!   makes the rumor hot again for everyone. O(N) state per rumor, O(N²) per member: kept as
//!   two bits per (rumor, destination), indexed by a dense slot number per destination.
//! * **bounded** — the membership broadcast queue ([`Broadcasts`]) keyed by rumor: each
//!   rumor is pushed `retransmit_mult · ⌈log10(n + 1)⌉` times in all, least-sent and newest
//!   first, batched into one frame per destination; periodic anti-entropy (see
//!   `engine/src/engine/rumor_sync.rs`) repairs what pushes missed. No per-destination state.

use std::collections::BTreeMap;

use crate::broadcast::Broadcasts;
use crate::config::Dissemination;
use crate::id::MemberId;
use crate::rumor::RumorKey;

/// Butterfly's `RUMOR_COOL_DOWN_LIMIT`: a rumor is sent to each member this many times.
pub(crate) const SHARE_LIMIT: u8 = 2;

/// The dissemination state of one engine.
#[derive(Clone, Debug)]
pub(crate) enum Disseminator {
    /// Butterfly's heat.
    Habitat(Heat),
    /// Bounded retransmission (plus anti-entropy, driven by the engine).
    Bounded(Broadcasts<RumorKey>),
}

impl Disseminator {
    pub(crate) fn new(strategy: Dissemination) -> Self {
        match strategy {
            Dissemination::Habitat => Disseminator::Habitat(Heat::default()),
            Dissemination::Bounded => Disseminator::Bounded(Broadcasts::default()),
        }
    }

    /// A rumor changed in our store: hot again for everyone, or queued with a fresh count.
    pub(crate) fn on_changed(&mut self, key: &RumorKey) {
        match self {
            Disseminator::Habitat(heat) => heat.start_hot(key),
            Disseminator::Bounded(queue) => queue.enqueue(key.clone()),
        }
    }

    /// The rumors to push to `target` now, counted as sent. `limit` is the bounded strategy's
    /// total transmit count; `fits` is asked about each rumor in turn (bounded: whether it
    /// still fits the frame) and ends the selection when it says no.
    pub(crate) fn take_for(
        &mut self,
        target: MemberId,
        limit: u32,
        fits: impl FnMut(RumorKey) -> bool,
    ) -> Vec<RumorKey> {
        match self {
            Disseminator::Habitat(heat) => heat.take_hot(target),
            Disseminator::Bounded(queue) => queue.select(usize::MAX, limit, None, fits),
        }
    }

    /// Whether `target` has anything to receive (cheap for bounded: the queue is shared).
    pub(crate) fn has_work_for(&mut self, target: MemberId) -> bool {
        match self {
            Disseminator::Habitat(heat) => heat.is_hot_for(target),
            Disseminator::Bounded(queue) => !queue.is_empty(),
        }
    }

    /// Whether several rumors share a frame (bounded) or each has its own (habitat, as
    /// Butterfly).
    pub(crate) fn batches(&self) -> bool {
        matches!(self, Disseminator::Bounded(_))
    }

    /// Whether this strategy runs periodic anti-entropy (Butterfly has none).
    pub(crate) fn anti_entropy(&self) -> bool {
        matches!(self, Disseminator::Bounded(_))
    }

    pub(crate) fn clear(&mut self) {
        match self {
            Disseminator::Habitat(heat) => *heat = Heat::default(),
            Disseminator::Bounded(queue) => *queue = Broadcasts::default(),
        }
    }
}

/// Butterfly's per-destination heat, compactly: each destination member gets a dense slot
/// number on first use; each rumor a row of two-bit counters, one per slot (a missing counter
/// is 0, hot).
#[derive(Clone, Debug, Default)]
pub(crate) struct Heat {
    slots: BTreeMap<MemberId, u32>,
    rows: BTreeMap<RumorKey, HeatRow>,
}

#[derive(Clone, Debug, Default)]
struct HeatRow {
    /// Four two-bit counters per byte.
    bits: Vec<u8>,
    /// How many slots have reached [`SHARE_LIMIT`].
    cold: u32,
}

impl HeatRow {
    fn get(&self, slot: u32) -> u8 {
        let (byte, shift) = ((slot / 4) as usize, (slot % 4) * 2);
        self.bits.get(byte).map_or(0, |b| (b >> shift) & 0b11)
    }

    fn cool(&mut self, slot: u32) {
        let (byte, shift) = ((slot / 4) as usize, (slot % 4) * 2);
        if self.bits.len() <= byte {
            self.bits.resize(byte + 1, 0);
        }
        let v = (self.bits[byte] >> shift) & 0b11;
        if v < SHARE_LIMIT {
            self.bits[byte] = (self.bits[byte] & !(0b11 << shift)) | ((v + 1) << shift);
            if v + 1 == SHARE_LIMIT {
                self.cold += 1;
            }
        }
    }
}

impl Heat {
    fn slot(&mut self, member: MemberId) -> u32 {
        let next = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
        *self.slots.entry(member).or_insert(next)
    }

    /// Butterfly's `start_hot_rumor`: every destination's counter back to zero.
    fn start_hot(&mut self, key: &RumorKey) {
        match self.rows.get_mut(key) {
            Some(row) => *row = HeatRow::default(),
            None => {
                self.rows.insert(key.clone(), HeatRow::default());
            }
        }
    }

    fn hot(row: &HeatRow, slot: u32, slots: usize) -> bool {
        (row.cold as usize) < slots && row.get(slot) < SHARE_LIMIT
    }

    fn is_hot_for(&mut self, member: MemberId) -> bool {
        let slot = self.slot(member);
        let n = self.slots.len();
        self.rows.values().any(|row| Self::hot(row, slot, n))
    }

    /// Butterfly's `currently_hot_rumors` followed by `cool_rumors`.
    fn take_hot(&mut self, member: MemberId) -> Vec<RumorKey> {
        let slot = self.slot(member);
        let n = self.slots.len();
        let mut out = Vec::new();
        for (key, row) in self.rows.iter_mut() {
            if Self::hot(row, slot, n) {
                row.cool(slot);
                out.push(key.clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rumor::ServiceGroup;

    fn key(n: u128) -> RumorKey {
        RumorKey::Departure {
            member: MemberId::from_u128(n),
        }
    }

    #[test]
    fn habitat_heat_sends_each_rumor_twice_per_destination_until_it_changes() {
        let mut d = Disseminator::new(Dissemination::Habitat);
        let (a, b) = (MemberId::from_u128(1), MemberId::from_u128(2));
        d.on_changed(&key(7));
        assert_eq!(d.take_for(a, 0, |_| true), vec![key(7)]);
        assert_eq!(d.take_for(a, 0, |_| true), vec![key(7)]);
        assert!(
            d.take_for(a, 0, |_| true).is_empty(),
            "cold for a after two sends"
        );
        assert!(!d.has_work_for(a));
        assert!(d.has_work_for(b), "still hot for b");
        assert_eq!(d.take_for(b, 0, |_| true).len(), 1);
        d.on_changed(&key(7));
        assert_eq!(
            d.take_for(a, 0, |_| true),
            vec![key(7)],
            "a change makes it hot again"
        );
    }

    #[test]
    fn heat_rows_stay_compact() {
        let mut heat = Heat::default();
        let g: ServiceGroup = "a.b".parse().expect("group");
        let k = RumorKey::ServiceConfig { group: g };
        heat.start_hot(&k);
        for m in 0..1000u128 {
            heat.take_hot(MemberId::from_u128(m));
        }
        assert_eq!(
            heat.rows.get(&k).map(|r| r.bits.len()),
            Some(250),
            "two bits a member"
        );
    }

    #[test]
    fn bounded_sends_each_rumor_a_bounded_number_of_times_in_all() {
        let mut d = Disseminator::new(Dissemination::Bounded);
        d.on_changed(&key(1));
        let mut sent = 0;
        for m in 0..20u128 {
            sent += d.take_for(MemberId::from_u128(m), 3, |_| true).len();
        }
        assert_eq!(sent, 3);
        assert!(!d.has_work_for(MemberId::from_u128(99)));
    }
}
