//! Timers as data: what is due when, popped in (instant, priority, insertion) order.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::id::MemberId;
use crate::time::Instant;

/// Something the engine must do at an instant. Stale timers are recognised when they fire (by
/// the probe number they carry, or by checking the state they refer to) and ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Timer {
    /// The direct Ack of probe `probe` is overdue: ask helpers.
    PingTimeout { probe: u64 },
    /// No Ack came through helpers either: suspect the target.
    PingReqTimeout { probe: u64 },
    /// A ProbePing to `id` (sent to check a Confirmed rumor) is overdue.
    ProbePingTimeout { id: MemberId, attempt: u8 },
    /// As a PingReq helper asked for a Nack: if `target` has not answered, Nack `asker`.
    RelayTimeout { target: MemberId, asker: MemberId },
    /// Start the next probe.
    ProbeTick,
    /// Exchange full membership with a random member.
    PushPull,
    /// Push rumors (the dissemination strategy's round).
    GossipTick,
    /// Push rumors that just became new to us (bounded strategy, `fresh_push`).
    FreshPush,
    /// Exchange a rumor digest with a random member (bounded strategy).
    AntiEntropy,
    /// Ping the bootstrap peers again if we still know nobody.
    JoinRetry,
    /// Look for Confirmed members old enough to count as Departed.
    DepartSweep,
}

impl Timer {
    /// Timeouts run before periodic ticks due at the same instant, so a probe is judged before
    /// the next one starts.
    fn priority(self) -> u8 {
        match self {
            Timer::PingTimeout { .. }
            | Timer::PingReqTimeout { .. }
            | Timer::ProbePingTimeout { .. }
            | Timer::RelayTimeout { .. } => 0,
            _ => 1,
        }
    }
}

/// A min-queue of timers.
#[derive(Clone, Debug, Default)]
pub(crate) struct TimerQueue {
    /// (instant, priority in the top bit above the insertion number, timer): the packing keeps
    /// an entry at 56 bytes; in a ring of thousands cut in two, every member holds hundreds of
    /// ProbePing timeouts at once.
    heap: BinaryHeap<Reverse<(Instant, u64, Timer)>>,
    seq: u64,
}

const _: () = assert!(std::mem::size_of::<Reverse<(Instant, u64, Timer)>>() == 56);

impl TimerQueue {
    pub(crate) fn schedule(&mut self, at: Instant, timer: Timer) {
        // Insertion numbers stay below 2⁶³: a million timers a second would take 290,000
        // years to reach it.
        self.seq += 1;
        let order = (u64::from(timer.priority()) << 63) | self.seq;
        push_lean(&mut self.heap, Reverse((at, order, timer)));
    }

    /// The earliest deadline.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, ..))| *at)
    }

    /// Pops the earliest timer if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        match self.heap.peek() {
            Some(Reverse((at, ..))) if *at <= now => {
                let due = self.heap.pop().map(|Reverse((.., t))| t);
                give_back(&mut self.heap);
                due
            }
            _ => None,
        }
    }

    pub(crate) fn clear(&mut self) {
        self.heap.clear();
    }
}

/// Pushes onto a heap that grows by a quarter when full instead of doubling: during a burst
/// (thousands of suspicions or ProbePing checks in each of thousands of engines after a
/// partition) doubling leaves up to half of every heap unused at the peak. The copies cost
/// a few more moves per entry over the burst. The timer heaps and the broadcast queue's
/// heap share it, with [`give_back`].
pub(crate) fn push_lean<T: Ord>(heap: &mut BinaryHeap<T>, item: T) {
    if heap.len() == heap.capacity() {
        heap.reserve_exact(heap.len() / 4 + 16);
    }
    heap.push(item);
}

/// Returns the room a burst left behind (thousands of suspicions or queued updates after a
/// partition, a handful a minute later), keeping a quarter more than is held once more than
/// twice that is free: thousands of engines in the simulator would otherwise each keep their
/// high-water mark.
pub(crate) fn give_back<T: Ord>(heap: &mut BinaryHeap<T>) {
    let keep = heap.len() + heap.len() / 4 + 64;
    if heap.capacity() > 2 * keep {
        heap.shrink_to(keep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_time_then_priority_then_insertion_order() {
        let mut q = TimerQueue::default();
        let t = Instant::from_secs(1);
        q.schedule(t, Timer::ProbeTick);
        q.schedule(t, Timer::PingReqTimeout { probe: 1 });
        q.schedule(Instant::from_millis(500), Timer::PushPull);
        assert_eq!(q.next_deadline(), Some(Instant::from_millis(500)));
        assert_eq!(q.pop_due(Instant::from_millis(400)), None);
        assert_eq!(q.pop_due(t), Some(Timer::PushPull));
        assert_eq!(q.pop_due(t), Some(Timer::PingReqTimeout { probe: 1 }));
        assert_eq!(q.pop_due(t), Some(Timer::ProbeTick));
        assert_eq!(q.pop_due(t), None);
    }

    #[test]
    fn heaps_grow_by_a_quarter_and_give_back_down_to_a_quarter_above_their_length() {
        let mut heap = BinaryHeap::new();
        let mut grown = Vec::new();
        for i in 0..10_000u32 {
            let before = heap.capacity();
            push_lean(&mut heap, i);
            if heap.capacity() != before {
                grown.push((before, heap.capacity()));
            }
        }
        // Past the first steps, each growth adds about a quarter, not a doubling.
        for &(before, after) in grown.iter().filter(|(b, _)| *b >= 1000) {
            assert!(
                after >= before + before / 4 && after < before * 3 / 2,
                "{before} → {after}"
            );
        }
        assert!(heap.capacity() < 10_000 + 10_000 / 4 + 16);
        while heap.len() > 1_000 {
            heap.pop();
            give_back(&mut heap);
            assert!(heap.capacity() <= 2 * (heap.len() + heap.len() / 4 + 64));
        }
        assert!(heap.capacity() >= heap.len());
    }
}
