//! Standing and voting: starting an election or joining one heard of (at its term, or a
//! higher term than ours), the suitability we stand with, and our vote.

use crate::engine::Engine;
use crate::event::Event;
use crate::network::Network;
use crate::rumor::{Election, ElectionKind, ElectionStatus, ServiceGroup, Topology, Verdict};
use crate::time::Clock;

impl<C: Clock, N: Network> Engine<C, N> {
    /// A voter received `incoming`, an unfinished election of its group: it joins one it holds
    /// nothing of at that term, and a higher term than its own unless it holds a Finished
    /// election whose leader is still here and did not call the new term (someone else's
    /// mistaken restart: we keep our leader). The leader itself always joins, with maximal
    /// suitability, so it wins the new term. Whether the rumor is admitted.
    pub(super) fn join_incoming(
        &mut self,
        kind: ElectionKind,
        group: &ServiceGroup,
        incoming: &Election,
    ) -> bool {
        let held = self.election(kind, group).cloned();
        match held {
            None => self.start_own(kind, group, incoming.term, false),
            Some(h) if incoming.term > h.term => {
                if h.is_finished() {
                    let leader = h.member_id;
                    if leader == self.me.id {
                        self.start_own(kind, group, incoming.term, true);
                    } else if self.leader_gone(group, leader)
                        || incoming.member_id == leader
                        || incoming.has_vote(leader)
                    {
                        self.start_own(kind, group, incoming.term, false);
                    } else {
                        return false;
                    }
                } else {
                    self.start_own(kind, group, incoming.term, false);
                }
            }
            Some(_) => {}
        }
        true
    }

    /// The suitability we stand with in `kind` for `group`.
    pub(super) fn own_suitability(
        &self,
        kind: ElectionKind,
        group: &ServiceGroup,
        former_leader: bool,
    ) -> u64 {
        let set = self.suitability(group);
        match kind {
            ElectionKind::Leader if former_leader => u64::MAX,
            ElectionKind::Leader => set,
            ElectionKind::Update => {
                let leads = self.leader(group) == Some(self.me.id)
                    && self
                        .elections
                        .voters
                        .get(group)
                        .is_some_and(|g| g.topology == Topology::Leader);
                if leads {
                    0
                } else if former_leader {
                    u64::MAX
                } else {
                    set.max(1)
                }
            }
        }
    }

    /// Starts our own election of `kind` for `group` at `term`, voting for ourselves, replacing
    /// whatever is held (the caller merges any incoming rumor after this).
    pub(super) fn start_own(
        &mut self,
        kind: ElectionKind,
        group: &ServiceGroup,
        term: u64,
        former_leader: bool,
    ) {
        let suitability = self.own_suitability(kind, group, former_leader);
        let mut e = Election::new(self.me.id, group.clone(), term, suitability);
        if !self.quorum(group) {
            e.status = ElectionStatus::NoQuorum;
        }
        self.emit(Event::ElectionStarted {
            kind,
            group: group.clone(),
            term,
        });
        self.commit(kind, e);
    }

    /// `e` with our vote added if it lacks it: for the better of its candidate and ourselves
    /// (suitability, then member id).
    pub(super) fn with_our_vote(
        &self,
        kind: ElectionKind,
        group: &ServiceGroup,
        mut e: Election,
    ) -> Election {
        let me = self.me.id;
        if !e.has_vote(me) {
            let mine = Election::new(
                me,
                group.clone(),
                e.term,
                self.own_suitability(kind, group, false),
            );
            if let Verdict::Replace(merged) = Election::merge(&e, mine) {
                e = merged;
            }
        }
        e
    }
}
