//! The queue of membership updates waiting to be piggybacked (SWIM's infection-style
//! dissemination, with memberlist's transmit limit).
//!
//! The queue holds member ids only; the record sent is always the one held at send time, so a
//! newer update about the same member simply resets its transmit count.
//!
//! The same queue, keyed by [`RumorKey`](crate::rumor::RumorKey), is the bounded rumor
//! dissemination strategy: each rumor is pushed a bounded number of times, least-sent and
//! newest first.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use crate::id::MemberId;

#[derive(Clone, Debug)]
pub(crate) struct Broadcasts<K = MemberId> {
    /// id → (transmits so far, insertion sequence)
    by_id: BTreeMap<K, (u32, u64)>,
    /// Sorted so that the least-sent, then newest, come first.
    order: BTreeSet<(u32, Reverse<u64>, K)>,
    seq: u64,
}

impl<K> Default for Broadcasts<K> {
    fn default() -> Self {
        Broadcasts {
            by_id: BTreeMap::new(),
            order: BTreeSet::new(),
            seq: 0,
        }
    }
}

impl<K: Ord + Clone> Broadcasts<K> {
    /// Queues (or re-queues, with a fresh count) an update about `id`.
    pub(crate) fn enqueue(&mut self, id: K) {
        self.seq += 1;
        if let Some((tx, seq)) = self.by_id.insert(id.clone(), (0, self.seq)) {
            self.order.remove(&(tx, Reverse(seq), id.clone()));
        }
        self.order.insert((0, Reverse(self.seq), id));
    }

    /// How many updates are queued.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
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
        for (tx, seq, id) in self.order.iter() {
            if picked.len() >= max {
                break;
            }
            if skip.as_ref() == Some(id) {
                continue;
            }
            if !fits(id.clone()) {
                break;
            }
            picked.push(id.clone());
            taken.push((*tx, *seq, id.clone()));
        }
        for (tx, seq, id) in taken {
            self.order.remove(&(tx, seq, id.clone()));
            if tx + 1 >= limit {
                self.by_id.remove(&id);
            } else {
                self.by_id.insert(id.clone(), (tx + 1, seq.0));
                self.order.insert((tx + 1, seq, id));
            }
        }
        picked
    }

    /// Whether nothing is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    pub(crate) fn clear(&mut self) {
        self.by_id.clear();
        self.order.clear();
    }
}

/// memberlist's retransmit limit: `mult * ceil(log10(n + 1))`.
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
    mult.saturating_mul(ceil_log.max(1))
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

    #[test]
    fn retransmit_limit_scales_with_log_n() {
        assert_eq!(retransmit_limit(4, 0), 4);
        assert_eq!(retransmit_limit(4, 9), 4);
        assert_eq!(retransmit_limit(4, 10), 8);
        assert_eq!(retransmit_limit(4, 99), 8);
        assert_eq!(retransmit_limit(4, 1000), 16);
    }
}
