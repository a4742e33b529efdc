//! Quorum: more than half of the group's Alive, Suspect and Confirmed members are Alive (the
//! group: members with a live Service rumor in it; this member counts as Alive). The counters
//! are kept incrementally on member health changes; a change of the group's Service rumors
//! marks the group for a recount.

use super::VoterGroup;
use crate::engine::Engine;
use crate::id::MemberId;
use crate::member::Health;
use crate::network::Network;
use crate::rumor::ServiceGroup;
use crate::time::Clock;

/// How a member in `h` counts toward the group's (Alive, population).
pub(super) fn in_count(h: Option<Health>) -> (u32, u32) {
    match h {
        Some(Health::Alive) => (1, 1),
        Some(Health::Suspect | Health::Confirmed) => (0, 1),
        _ => (0, 0),
    }
}

impl<C: Clock, N: Network> Engine<C, N> {
    /// Recomputes the group's counters if marked; whether its population grew.
    pub(super) fn recount(&mut self, group: &ServiceGroup) -> bool {
        let Some(g) = self.elections.voters.get(group) else {
            return false;
        };
        if !g.recount {
            return false;
        }
        let old = g.population;
        let (mut alive, mut population) = (0u32, 0u32);
        for s in self.rumors.services(group).filter(|s| !s.withdrawn) {
            let (a, p) = in_count(self.health_in_group(s.member_id));
            alive += a;
            population += p;
        }
        let now = self.now();
        if let Some(g) = self.elections.voters.get_mut(group) {
            if (g.alive, g.population) != (alive, population) {
                g.changed_at = now;
            }
            g.alive = alive;
            g.population = population;
            g.recount = false;
        }
        population > old
    }

    pub(super) fn quorum(&mut self, group: &ServiceGroup) -> bool {
        self.recount(group);
        self.elections
            .voters
            .get(group)
            .is_some_and(VoterGroup::quorum)
    }

    /// Whether `member` is Alive (we are) and runs the service in `group`.
    pub(super) fn alive_in(&self, group: &ServiceGroup, member: MemberId) -> bool {
        self.health_in_group(member) == Some(Health::Alive)
            && self
                .rumors
                .service(group, member)
                .is_some_and(|s| !s.withdrawn)
    }

    /// The health a group counts `member` in: as the member list holds it, and Alive for us.
    fn health_in_group(&self, member: MemberId) -> Option<Health> {
        if member == self.me.id {
            Some(Health::Alive)
        } else {
            self.view.members.health(member)
        }
    }
}
