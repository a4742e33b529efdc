//! Replay protection for sealed datagrams. With a ring key every datagram a member authors
//! carries a sequence number inside the sealed envelope ([`wire::Swim::seq`](crate::wire::Swim)):
//! its incarnation in the high 32 bits and a counter in the low ones, so the number only grows,
//! across restarts too (a restart raises the incarnation). A receiver keeps, per author, the
//! highest number seen and which of the 64 below it it has seen (as IPsec's anti-replay window
//! does), and drops a datagram it has seen or that is older than the window. Without it, a
//! recorded Ping or Ack of a killed member, replayed, would keep it Alive forever.

use std::collections::BTreeMap;

use crate::id::{Incarnation, MemberId};

/// How far below the highest number seen a datagram may still arrive (reordering).
pub const WINDOW: u64 = 64;

/// The sequence number for the `counter`-th datagram authored at `incarnation`.
pub fn seq(incarnation: Incarnation, counter: u64) -> u64 {
    let high = incarnation.0.min(u64::from(u32::MAX));
    (high << 32) | (counter & u64::from(u32::MAX))
}

/// The highest number seen from one author, and a bit for each of the [`WINDOW`] below it.
#[derive(Clone, Copy, Debug, Default)]
struct Window {
    top: u64,
    seen: u64,
}

impl Window {
    /// Records `seq`; false if it was seen already or is too old to tell.
    fn admit(&mut self, seq: u64) -> bool {
        if seq > self.top {
            let shift = seq - self.top;
            self.seen = if shift >= WINDOW {
                0
            } else {
                self.seen << shift
            };
            self.seen |= 1;
            self.top = seq;
            return true;
        }
        let back = self.top - seq;
        if back >= WINDOW || self.seen & (1 << back) != 0 {
            return false;
        }
        self.seen |= 1 << back;
        true
    }
}

/// The windows of every author heard from, at most `limit` of them.
#[derive(Debug, Default)]
pub(crate) struct Replays {
    windows: BTreeMap<MemberId, Window>,
}

impl Replays {
    /// Whether a datagram numbered `seq` by `author` is new. Past `limit` authors the oldest
    /// state is forgotten wholesale (only holders of the ring key can create authors).
    pub(crate) fn admit(&mut self, author: MemberId, seq: u64, limit: usize) -> bool {
        if !self.windows.contains_key(&author) && self.windows.len() >= limit {
            self.windows.clear();
        }
        self.windows.entry(author).or_default().admit(seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_is_taken_once_and_reordering_within_the_window_is_allowed() {
        let mut w = Window::default();
        assert!(w.admit(10));
        assert!(!w.admit(10), "a replay");
        assert!(w.admit(8), "late but new");
        assert!(!w.admit(8));
        assert!(w.admit(100));
        assert!(!w.admit(10), "older than the window");
        assert!(w.admit(100 - WINDOW + 1));
        assert!(!w.admit(100 - WINDOW));
        assert!(w.admit(u64::MAX));
        assert!(!w.admit(u64::MAX));
    }

    #[test]
    fn numbers_grow_across_incarnations() {
        assert!(seq(Incarnation(2), 0) > seq(Incarnation(1), 5_000_000));
        assert!(seq(Incarnation(1), 7) > seq(Incarnation(1), 6));
        assert!(seq(Incarnation(u64::MAX), 0) >= seq(Incarnation(1 << 40), 0));
    }

    #[test]
    fn authors_are_kept_apart() {
        let mut r = Replays::default();
        let (a, b) = (MemberId::from_u128(1), MemberId::from_u128(2));
        assert!(r.admit(a, 5, 10));
        assert!(r.admit(b, 5, 10));
        assert!(!r.admit(a, 5, 10));
    }
}
