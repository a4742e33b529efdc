//! Restart (term + 1): when the Finished leader is Confirmed, Departed, unknown (only once our
//! pull is confirmed and no live Service rumor of it is held) or no longer in the group; when
//! we are the leader and have lost quorum; and when the candidate of an unfinished election
//! is gone, since only it could finish it.

use crate::engine::Engine;
use crate::id::MemberId;
use crate::member::Health;
use crate::network::Network;
use crate::rumor::{Election, ElectionKind, ServiceGroup};
use crate::time::Clock;

impl<C: Clock, N: Network> Engine<C, N> {
    /// Restarts the election held (term + 1) when a rule says so: its Finished leader is gone,
    /// we lead it and lost quorum (we restart with maximal suitability, so we keep leading if
    /// we can), or the candidate of an unfinished one is gone (only it could finish it).
    /// Whether the check ends here: a Finished election is never voted in again.
    pub(super) fn restart_if_due(
        &mut self,
        kind: ElectionKind,
        group: &ServiceGroup,
        held: &Election,
        quorum: bool,
    ) -> bool {
        let me = self.me.id;
        let next = held.term.saturating_add(1);
        if held.is_finished() {
            if held.member_id == me {
                if !quorum {
                    self.start_own(kind, group, next, true);
                }
            } else if self.leader_gone(group, held.member_id) {
                self.start_own(kind, group, next, false);
            }
            return true;
        }
        if held.member_id != me && self.is_gone(group, held.member_id, false) {
            self.start_own(kind, group, next, false);
            return true;
        }
        false
    }

    /// Whether the Finished leader `leader` is gone (see `is_gone`). A leader the member list
    /// does not know counts as gone, as in Butterfly, only once our pull of the ring is confirmed
    /// and we hold no live Service rumor of it in the group: the member list forgets no one, so
    /// an unknown member is one we have not heard of yet. (A joiner that adopted the group's
    /// Finished election before the membership exchange brought its leader restarted the term,
    /// and stayed alone in it for good: the others keep a live leader that did not call it.)
    pub(super) fn leader_gone(&self, group: &ServiceGroup, leader: MemberId) -> bool {
        let unknown_is_gone = self.pull_confirmed(group)
            && self
                .rumors
                .service(group, leader)
                .is_none_or(|s| s.withdrawn);
        self.is_gone(group, leader, unknown_is_gone)
    }

    /// Whether a leader (`unknown_is_gone`) or a candidate is gone: Confirmed, Departed, or
    /// out of the group (its service withdrawn); a leader also when the member list does not
    /// know it. A Service rumor not heard yet is not a departure from the group, and neither is
    /// an unknown candidate (it may have just joined).
    pub(super) fn is_gone(
        &self,
        group: &ServiceGroup,
        member: MemberId,
        unknown_is_gone: bool,
    ) -> bool {
        if member == self.me.id {
            return false;
        }
        let withdrawn = self
            .rumors
            .service(group, member)
            .is_some_and(|s| s.withdrawn);
        withdrawn
            || match self.view.members.health(member) {
                Some(Health::Alive | Health::Suspect) => false,
                Some(Health::Confirmed | Health::Departed) => true,
                None => unknown_is_gone,
            }
    }
}
