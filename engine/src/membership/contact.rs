//! Direct contact: a member that speaks to us itself (a Ping, Ack, PingReq, Nack, ProbePing or
//! a membership exchange) is alive, whatever we heard about it. A member back from Confirmed
//! is likely the other side of a healed partition, so we exchange views with it.

use crate::engine::Engine;
use crate::member::{Health, Member, Membership};
use crate::membership::{Cause, Change};
use crate::metrics::DropReason;
use crate::network::Network;
use crate::time::Clock;

impl<C: Clock, N: Network> Engine<C, N> {
    /// Reports that `member` spoke to us directly (`cause` is [`Cause::DirectContact`] or
    /// [`Cause::Answered`]). Returns the record we held before, so a reply can tell the member
    /// how we saw it; a member an operator departed is refused.
    pub(crate) fn note_direct_contact(
        &mut self,
        member: &Member,
        cause: Cause,
    ) -> Result<Option<Membership>, DropReason> {
        let prior = self.view.members.get(member.id);
        let record = Membership {
            member: *member,
            health: Health::Alive,
        };
        match self.apply_membership(record, cause) {
            Change::Refused => Err(DropReason::FromDeparted),
            _ => Ok(prior),
        }
    }

    /// `member` spoke to us directly, so it is alive. A member we hold Departed at the same or
    /// a higher incarnation stays out.
    pub(super) fn on_direct_contact(&mut self, member: Member) -> Change {
        if self.refuse_departed(&member) {
            return Change::Refused;
        }
        let record = Membership {
            member,
            health: Health::Alive,
        };
        match self.view.members.get(member.id) {
            None => {
                let had_nobody = self.view.members.count(Health::Alive)
                    + self.view.members.count(Health::Suspect)
                    == 0;
                let change = self.merge(record, None);
                if had_nobody && self.view.members.get(member.id).is_some() {
                    // First contact while bootstrapping: fetch the whole view at once.
                    self.push_pull_with(member.gossip_addr());
                }
                change
            }
            Some(p) if member.incarnation > p.member.incarnation => {
                let change = self.merge(record, None);
                if p.health == Health::Confirmed {
                    self.heal_sync(&member);
                }
                change
            }
            Some(p) if p.health == Health::Departed => Change::Refused,
            Some(p) if p.health != Health::Alive => {
                let change = self.set_health(member.id, Health::Alive, None);
                if p.health == Health::Confirmed {
                    self.heal_sync(&member);
                }
                change
            }
            Some(_) => Change::Unchanged,
        }
    }

    /// An Ack from `member`: direct contact, and the answer to any ProbePing check of a
    /// Confirmed claim about it (the claim was false).
    pub(super) fn on_answer(&mut self, member: Member) -> Change {
        let change = self.on_direct_contact(member);
        if change != Change::Refused {
            self.view.claims.remove(member.id);
        }
        change
    }

    /// A member we held Confirmed is back: likely a healed partition, so exchange full views
    /// with it (at most once per five protocol periods: after a heal many such members call,
    /// and ProbePings and corrections in Acks do most of the repair).
    fn heal_sync(&mut self, member: &Member) {
        let now = self.now();
        if let Some(last) = self.last_heal_sync {
            if now < last + self.config.protocol_period * 5 {
                return;
            }
        }
        self.last_heal_sync = Some(now);
        self.push_pull_with(member.gossip_addr());
    }
}
