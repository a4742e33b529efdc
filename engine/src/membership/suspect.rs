//! Suspicion: a member whose probe fails (no Ack directly nor through PingReq helpers) becomes
//! Suspect, and stays so until it refutes, speaks to us, or its deadline confirms it
//! (`confirm.rs`).
//!
//! Plain SWIM gives every suspicion `suspicion_timeout`. Under Lifeguard's dynamic timeout a
//! suspicion starts long (`suspicion_max_multiplier` times that, scaled with log10 of the ring
//! size) and shortens with each independent accuser, down to `suspicion_timeout` once
//! `suspicion_confirmations` members agree: a lone observer that may be the slow one waits
//! longer, a suspicion the ring agrees on ends as fast as plain SWIM's.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::time::Duration;

use crate::engine::Engine;
use crate::id::MemberId;
use crate::lifeguard;
use crate::member::{Health, Membership};
use crate::membership::Change;
use crate::network::Network;
use crate::time::{Clock, Instant};
use crate::timer::{give_back, push_lean};

/// Every suspicion we hold: its deadline, and under the dynamic timeout its accusers.
///
/// The deadlines are a heap of their own, kept as small as possible (at a partition every
/// member may hold thousands of suspects at once). A deadline is not removed when the
/// suspicion ends or moves; a stale one is recognised when it fires (`confirm.rs`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Suspicions {
    deadlines: BinaryHeap<Reverse<(Instant, MemberId)>>,
    /// Lifeguard's state per suspicion (empty when the dynamic timeout is off).
    dynamic: BTreeMap<MemberId, Suspicion>,
}

impl Suspicions {
    /// The earliest deadline, fired or not.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.peek().map(|Reverse((at, _))| *at)
    }

    /// Pops the earliest deadline if it is due at `now`: (the instant it was set for, member).
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, MemberId)> {
        match self.deadlines.peek() {
            Some(Reverse((at, _))) if *at <= now => {
                let due = self.deadlines.pop().map(|Reverse(x)| x);
                give_back(&mut self.deadlines);
                due
            }
            _ => None,
        }
    }

    /// Lifeguard's state of the suspicion of `id`, if it runs under the dynamic timeout.
    #[cfg(test)]
    pub(crate) fn get(&self, id: MemberId) -> Option<&Suspicion> {
        self.dynamic.get(&id)
    }

    pub(super) fn get_mut(&mut self, id: MemberId) -> Option<&mut Suspicion> {
        self.dynamic.get_mut(&id)
    }

    /// The accuser to name when the Suspect record of `id` goes on the wire.
    pub(super) fn last_accuser(&self, id: MemberId) -> Option<MemberId> {
        self.dynamic.get(&id).and_then(|s| s.last_accuser)
    }

    fn schedule(&mut self, at: Instant, id: MemberId) {
        push_lean(&mut self.deadlines, Reverse((at, id)));
    }

    pub(crate) fn clear(&mut self) {
        self.deadlines.clear();
        self.dynamic.clear();
    }
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

impl<C: Clock, N: Network> Engine<C, N> {
    /// Our probe of `probed` (the member at the incarnation we probed) went unanswered: an
    /// Alive member becomes Suspect with us as its accuser; a member we already suspect gets
    /// our failed probe as an independent confirmation.
    pub(super) fn on_probe_failed(&mut self, probed: Membership) -> Change {
        let id = probed.member.id;
        let Some(held) = self.view.members.get(id) else {
            return Change::Unchanged;
        };
        if held.member.incarnation > probed.member.incarnation {
            // It refuted or restarted while we waited: that is news from a live member, and
            // suspecting its new incarnation would start a false alarm.
            return Change::Unchanged;
        }
        match held.health {
            Health::Alive => self.set_health(id, Health::Suspect, Some(self.me.id)),
            Health::Suspect => self.corroborate(id, self.me.id),
            _ => Change::Unchanged,
        }
    }

    /// A second-hand Suspect record naming its accuser, about a member we suspect at the same
    /// incarnation, corroborates our suspicion instead of merging (`None`: not such a record).
    pub(super) fn corroborate_if_suspected(
        &mut self,
        update: Membership,
        held: Membership,
        accuser: Option<MemberId>,
    ) -> Option<Change> {
        if update.health != Health::Suspect {
            return None;
        }
        let accuser = accuser?;
        if held.health == Health::Suspect && held.member.incarnation == update.member.incarnation {
            return Some(self.corroborate(update.member.id, accuser));
        }
        None
    }

    /// Another member independently suspects `id`: under the dynamic timeout, the suspicion
    /// gets shorter, and the corroborated record is passed on.
    fn corroborate(&mut self, id: MemberId, accuser: MemberId) -> Change {
        if !self.config.dynamic_suspicion_on() {
            return Change::Unchanged;
        }
        let (min, max) = self.suspicion_bounds();
        let k = self.config.suspicion_confirmations;
        let Some(s) = self.view.suspicions.get_mut(id) else {
            return Change::Unchanged;
        };
        if !s.confirm(accuser) {
            return Change::Unchanged;
        }
        let deadline = s.start + lifeguard::suspicion_timeout(s.confirmations(), k, min, max);
        if deadline < s.deadline {
            s.deadline = deadline;
            self.view.suspicions.schedule(deadline, id);
        }
        self.view.broadcasts.enqueue(id);
        Change::Corroborated
    }

    /// Starts or ends the suspicion of `update.member` after its record changed (from `from`).
    ///
    /// A Suspect record replacing a Suspect one is a newer incarnation: the member refuted and
    /// was suspected again. Under Lifeguard that is a new suspicion with its own timeout (the
    /// member has not had the chance to refute this one), so lossy links do not confirm live
    /// members on the first suspicion's timer; plain SWIM keeps the first deadline, as
    /// Butterfly does.
    pub(super) fn track_suspicion(
        &mut self,
        update: Membership,
        from: Option<Health>,
        accuser: Option<MemberId>,
    ) {
        let id = update.member.id;
        let new_suspicion = from != Some(Health::Suspect) || self.config.dynamic_suspicion_on();
        if update.health == Health::Suspect && new_suspicion {
            let now = self.now();
            if self.config.dynamic_suspicion_on() {
                let (min, max) = self.suspicion_bounds();
                let k = self.config.suspicion_confirmations;
                let timeout = lifeguard::suspicion_timeout(0, k, min, max);
                let s = Suspicion::new(now, accuser, timeout);
                self.view.suspicions.schedule(s.deadline, id);
                self.view.suspicions.dynamic.insert(id, s);
            } else {
                self.view
                    .suspicions
                    .schedule(now + self.config.suspicion_timeout, id);
            }
        }
        if update.health != Health::Suspect {
            self.view.suspicions.dynamic.remove(&id);
        }
    }

    fn suspicion_bounds(&self) -> (Duration, Duration) {
        lifeguard::suspicion_bounds(
            self.config.suspicion_timeout,
            self.config.suspicion_max_multiplier,
            self.view.members.len() + 1,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_drained_burst_gives_its_room_back() {
        let mut d = Suspicions::default();
        for i in 0..10_000u64 {
            d.schedule(Instant::from_millis(i), MemberId::from_u128(u128::from(i)));
        }
        let t = Instant::from_millis(9_990);
        let mut popped = 0;
        while d.pop_due(t).is_some() {
            popped += 1;
        }
        assert_eq!(popped, 9_991);
        assert!(d.deadlines.capacity() < 1_000, "{}", d.deadlines.capacity());
        assert_eq!(
            d.pop_due(Instant::from_secs(10))
                .map(|(_, id)| id.as_u128()),
            Some(9_991)
        );
    }
}
