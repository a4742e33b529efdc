//! The queue of membership updates waiting to be piggybacked (SWIM's infection-style
//! dissemination, with memberlist's transmit limit).
//!
//! The queue holds member ids only; the record sent is always the one held at send time, so a
//! newer update about the same member simply resets its transmit count.
//!
//! The same queue, keyed by [`RumorKey`](crate::rumor::RumorKey), is the bounded rumor
//! dissemination strategy: each rumor is pushed a bounded number of times, least-sent and
//! newest first.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::hash::Hash;

use crate::id::MemberId;
use crate::timer::{give_back, push_lean};

#[derive(Clone, Debug)]
pub(crate) struct Broadcasts<K = MemberId> {
    /// id → the sequence number of its current update: the queue's truth. Only ever looked
    /// up, never iterated, so the hash map's order cannot leak into what is sent (and its
    /// keyed hasher keeps ids a peer picks from colliding on purpose).
    current: HashMap<K, u64>,
    /// Least-sent, then newest, on top. An entry is current only while `current` holds its
    /// sequence number for its id; a re-queued id leaves its old entry behind, skipped when
    /// it surfaces (and swept out once such entries pass a quarter of the current ones). A
    /// heap rather than an ordered set: every transmission moves an id one place down the
    /// order, and in a ring of a thousand after a partition that is tens of millions of moves.
    heap: BinaryHeap<Queued<K>>,
    seq: u64,
}

/// One queued update: `rank` packs the complemented transmit count (high 24 bits) and the
/// sequence number (low 40 bits), so the heap's greatest is the least-sent, then newest. Eight
/// bytes of rank next to the id keep a membership entry at 24 bytes: in a ring of 10,000 cut
/// in two, each engine queues thousands.
#[derive(Clone, Debug)]
struct Queued<K> {
    rank: u64,
    id: K,
}

/// Transmit counts fit in the rank's 24 bits: [`retransmit_limit`] stays below this.
const MAX_TRANSMITS: u32 = (1 << 24) - 1;
/// Sequence numbers are compared in their low 40 bits (a million updates a second would
/// take twelve days to wrap them, and a superseded entry lives only until the next sweep).
const SEQ_BITS: u32 = 40;
const SEQ_MASK: u64 = (1 << SEQ_BITS) - 1;

// A membership queue entry: the rank and the id, no padding.
const _: () = assert!(std::mem::size_of::<Queued<MemberId>>() == 24);

impl<K> Queued<K> {
    fn new(transmits: u32, seq: u64, id: K) -> Self {
        let level = u64::from(MAX_TRANSMITS - transmits.min(MAX_TRANSMITS));
        Queued {
            rank: (level << SEQ_BITS) | (seq & SEQ_MASK),
            id,
        }
    }

    fn transmits(&self) -> u32 {
        MAX_TRANSMITS - (self.rank >> SEQ_BITS) as u32
    }

    fn seq(&self) -> u64 {
        self.rank & SEQ_MASK
    }
}

// Sequence numbers are unique, so the rank alone orders entries totally.
impl<K> PartialEq for Queued<K> {
    fn eq(&self, other: &Self) -> bool {
        self.rank == other.rank
    }
}

impl<K> Eq for Queued<K> {}

impl<K> PartialOrd for Queued<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<K> Ord for Queued<K> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank.cmp(&other.rank)
    }
}

impl<K> Default for Broadcasts<K> {
    fn default() -> Self {
        Broadcasts {
            current: HashMap::new(),
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }
}

impl<K: Hash + Eq + Clone> Broadcasts<K> {
    /// Queues (or re-queues, with a fresh count) an update about `id`.
    pub(crate) fn enqueue(&mut self, id: K) {
        self.enqueue_spent(id, 0);
    }

    /// Queues an update about `id` as if it had been sent `spent` times already: it goes out
    /// after every less-sent update, and only until the limit (pull-first dissemination's
    /// short push of second-hand news).
    pub(crate) fn enqueue_spent(&mut self, id: K, spent: u32) {
        self.seq += 1;
        self.current.insert(id.clone(), self.seq & SEQ_MASK);
        push_lean(&mut self.heap, Queued::new(spent, self.seq, id));
        if self.heap.len() > self.current.len() + self.current.len() / 4 + 64 {
            let current = &self.current;
            self.heap.retain(|q| current.get(&q.id) == Some(&q.seq()));
        }
    }

    /// Gives back the room a burst left behind (a queue of thousands after a partition,
    /// empty a minute later), keeping twice what is queued.
    fn shrink(&mut self) {
        give_back(&mut self.heap);
        let keep = 2 * self.current.len() + 64;
        if self.current.capacity() > 2 * keep {
            self.current.shrink_to(keep);
        }
    }

    /// How many updates are queued.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.current.len()
    }

    /// Picks up to `max` ids for one message: least transmitted first, newest first among
    /// equals, skipping `skip` and stopping when `fits` says no. Each pick counts as one
    /// transmission; ids transmitted `limit` times leave the queue.
    pub(crate) fn select(
        &mut self,
        max: usize,
        limit: u32,
        skip: Option<K>,
        mut fits: impl FnMut(K) -> bool,
    ) -> Vec<K> {
        let mut picked = Vec::new();
        let mut taken = Vec::new();
        let mut skipped = None;
        while picked.len() < max {
            let Some(top) = self.heap.peek() else {
                break;
            };
            if self.current.get(&top.id) != Some(&top.seq()) {
                self.heap.pop();
                continue;
            }
            if skip.as_ref() == Some(&top.id) {
                skipped = self.heap.pop();
                continue;
            }
            if !fits(top.id.clone()) {
                break;
            }
            let Some(top) = self.heap.pop() else {
                break;
            };
            picked.push(top.id.clone());
            taken.push(top);
        }
        self.heap.extend(skipped);
        for q in taken {
            let transmits = q.transmits() + 1;
            if transmits >= limit {
                self.current.remove(&q.id);
            } else {
                push_lean(&mut self.heap, Queued::new(transmits, q.seq(), q.id));
            }
        }
        self.shrink();
        picked
    }

    /// Whether nothing is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.current.is_empty()
    }

    pub(crate) fn clear(&mut self) {
        self.current.clear();
        self.heap.clear();
    }
}

/// memberlist's retransmit limit: `mult * ceil(log10(n + 1))` (at most 2²⁴ − 1, which no
/// ring reaches with a sane multiplier).
pub(crate) fn retransmit_limit(mult: u32, n: usize) -> u32 {
    let mut digits = 0u32;
    let mut x = n + 1;
    let mut exact_power = true;
    while x >= 10 {
        let rem = x % 10;
        if rem != 0 {
            exact_power = false;
        }
        x /= 10;
        digits += 1;
    }
    let ceil_log = if exact_power && x == 1 {
        digits
    } else {
        digits + 1
    };
    mult.saturating_mul(ceil_log.max(1)).min(MAX_TRANSMITS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> MemberId {
        MemberId::from_u128(n)
    }

    #[test]
    fn least_sent_newest_first_and_retired_at_limit() {
        let mut b = Broadcasts::default();
        b.enqueue(id(1));
        b.enqueue(id(2));
        assert_eq!(b.select(1, 2, None, |_| true), vec![id(2)]);
        assert_eq!(b.select(5, 2, None, |_| true), vec![id(1), id(2)]);
        assert_eq!(b.len(), 1, "id 2 was sent twice and retired");
        assert_eq!(b.select(5, 2, None, |_| true), vec![id(1)]);
        assert_eq!(b.len(), 0);
    }

    #[test]
    fn an_update_queued_as_spent_goes_last_and_leaves_at_the_limit() {
        let mut b = Broadcasts::default();
        b.enqueue_spent(id(1), 3);
        b.enqueue(id(2));
        assert_eq!(b.select(1, 4, None, |_| true), vec![id(2)], "fresh first");
        assert_eq!(b.select(5, 4, None, |_| true), vec![id(2), id(1)]);
        assert_eq!(b.len(), 1, "id 1 reached the limit after one send");
        assert_eq!(b.select(5, 4, None, |_| true), vec![id(2)]);
    }

    #[test]
    fn re_enqueue_resets_count_and_skip_and_fit_are_respected() {
        let mut b = Broadcasts::default();
        b.enqueue(id(1));
        b.enqueue(id(2));
        b.select(5, 3, None, |_| true);
        b.enqueue(id(1));
        assert_eq!(b.select(1, 3, None, |_| true), vec![id(1)]);
        assert_eq!(b.select(5, 3, Some(id(1)), |_| true), vec![id(2)]);
        assert_eq!(b.select(5, 3, None, |_| false), Vec::<MemberId>::new());
    }

    /// The queue's order stated plainly: every queued id with its (transmits, sequence),
    /// sorted least-sent then newest first.
    #[derive(Default)]
    struct Model {
        queued: Vec<(u32, u64, MemberId)>,
        seq: u64,
    }

    impl Model {
        fn enqueue(&mut self, id: MemberId) {
            self.seq += 1;
            self.queued.retain(|q| q.2 != id);
            self.queued.push((0, self.seq, id));
        }

        fn select(
            &mut self,
            max: usize,
            limit: u32,
            skip: Option<MemberId>,
            mut fits: impl FnMut(MemberId) -> bool,
        ) -> Vec<MemberId> {
            self.queued
                .sort_by_key(|&(tx, seq, _)| (tx, std::cmp::Reverse(seq)));
            let mut picked = Vec::new();
            for q in self.queued.iter_mut() {
                if picked.len() >= max {
                    break;
                }
                if Some(q.2) == skip {
                    continue;
                }
                if !fits(q.2) {
                    break;
                }
                picked.push(q.2);
                q.0 += 1;
            }
            self.queued.retain(|q| q.0 < limit);
            picked
        }
    }

    #[test]
    fn agrees_with_a_sorted_list_under_random_use() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(8);
        for _ in 0..20 {
            let mut b = Broadcasts::default();
            let mut m = Model::default();
            let ids = rng.gen_range(1..40u128);
            let limit = rng.gen_range(1..6);
            for _ in 0..2_000 {
                if rng.gen_bool(0.4) {
                    let x = id(rng.gen_range(0..ids));
                    b.enqueue(x);
                    m.enqueue(x);
                } else {
                    let max = rng.gen_range(0..8);
                    let skip = rng.gen_bool(0.3).then(|| id(rng.gen_range(0..ids)));
                    // Refuse one particular id, so the stop-on-misfit path runs too.
                    let refuse = rng.gen_bool(0.2).then(|| id(rng.gen_range(0..ids)));
                    let fits = |x: MemberId| Some(x) != refuse;
                    assert_eq!(
                        b.select(max, limit, skip, fits),
                        m.select(max, limit, skip, fits)
                    );
                    assert_eq!(b.len(), m.queued.len());
                }
                assert!(
                    b.heap.len() <= 2 * b.current.len() + 65,
                    "superseded entries swept"
                );
            }
        }
    }

    #[test]
    fn a_drained_burst_gives_its_room_back() {
        let mut b = Broadcasts::default();
        for i in 0..10_000 {
            b.enqueue(id(i));
        }
        let mut sent = 0;
        while !b.is_empty() {
            sent += b.select(64, 2, None, |_| true).len();
        }
        assert_eq!(sent, 20_000);
        assert!(b.heap.capacity() < 1_000, "{}", b.heap.capacity());
        assert!(b.current.capacity() < 1_000, "{}", b.current.capacity());
    }

    #[test]
    fn retransmit_limit_scales_with_log_n() {
        assert_eq!(retransmit_limit(4, 0), 4);
        assert_eq!(retransmit_limit(4, 9), 4);
        assert_eq!(retransmit_limit(4, 10), 8);
        assert_eq!(retransmit_limit(4, 99), 8);
        assert_eq!(retransmit_limit(4, 1000), 16);
        assert_eq!(retransmit_limit(u32::MAX, 1000), MAX_TRANSMITS);
    }
}
