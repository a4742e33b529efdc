//! Departure: a member leaving for good.
//!
//! * **Our own**: we raise our incarnation, hold ourselves Departed, tell up to
//!   `departure_fanout` live members directly over streams, and go quiet.
//! * **An operator's** (a Departure rumor, never changed once set): the member is Departed in
//!   our view whatever it later claims, and if it speaks to us it is told of its departure
//!   and refused, so it may never rejoin.
//! * **Confirmed grown old**: a member Confirmed for `confirmed_to_departed` is Departed.

use crate::engine::Engine;
use crate::id::MemberId;
use crate::member::{Health, Member, Membership};
use crate::membership::{Cause, Change};
use crate::network::Network;
use crate::rumor::RumorKey;
use crate::time::Clock;

impl<C: Clock, N: Network> Engine<C, N> {
    /// Leaves the ring gracefully: raises our incarnation, marks ourselves Departed and tells
    /// up to `departure_fanout` live members over streams. The engine then goes quiet.
    pub fn depart(&mut self) {
        if self.departed {
            return;
        }
        self.me.incarnation = self.me.incarnation.next();
        self.me.departed = true;
        self.departed = true;
        let record = Membership {
            member: self.me,
            health: Health::Departed,
        };
        let targets = self.random_members(self.config.departure_fanout, None, |h, _, _| {
            h == Health::Alive
        });
        for i in targets {
            if let Some(m) = self.view.members.at(i) {
                self.send_member_rumor(m.member.gossip_addr(), &record);
            }
        }
        self.timers.clear();
        self.fresh_push_due = false;
        self.view.quiesce();
        self.relays.clear();
    }

    /// Confirmed members older than `confirmed_to_departed` become Departed.
    pub(crate) fn sweep_departed(&mut self) {
        let limit = self.config.confirmed_to_departed.as_secs();
        let now_s = u64::from(self.now_s());
        let members = &self.view.members;
        let old: Vec<Membership> = (0..members.len())
            .filter(|&i| {
                members.health_at(i) == Some(Health::Confirmed)
                    && now_s.saturating_sub(u64::from(members.changed_at_s(i))) >= limit
            })
            .filter_map(|i| members.at(i))
            .collect();
        for record in old {
            self.apply_membership(record, Cause::Expired);
        }
    }

    /// An operator departed `id` (a Departure rumor about another member): Departed in our
    /// view, for good, and no claim about it is checked any more.
    pub(super) fn on_operator_departure(&mut self, id: MemberId) -> Change {
        let mut change = Change::Unchanged;
        if self
            .view
            .members
            .health(id)
            .is_some_and(|h| h != Health::Departed)
        {
            change = self.set_health(id, Health::Departed, None);
        }
        self.view.claims.remove(id);
        change
    }

    /// Rewrites a membership update about a member an operator departed: whatever its
    /// incarnation, it stays Departed.
    pub(super) fn departure_guard(&self, mut update: Membership) -> Membership {
        if update.health != Health::Departed && self.rumors.is_departed(update.member.id) {
            update.health = Health::Departed;
            update.member.departed = true;
        }
        update
    }

    /// A member an operator departed spoke to us directly: refuse it, and tell it about its
    /// departure so it stops (it may have restarted without its store).
    pub(super) fn refuse_departed(&mut self, member: &Member) -> bool {
        if !self.rumors.is_departed(member.id) {
            return false;
        }
        let key = RumorKey::Departure { member: member.id };
        self.send_rumors(member.gossip_addr(), std::slice::from_ref(&key));
        true
    }
}
