//! Confirmation: when a Suspect becomes Confirmed, and when a claim that a member is Confirmed
//! is believed.
//!
//! * **Our own suspicion** is confirmed when its deadline passes (`suspect.rs` sets it). Under
//!   plain SWIM that is all. Under Lifeguard the member is first asked directly, with
//!   ProbePings showing our claim (it answers, or refutes): an uncorroborated suspicion ran a
//!   long timeout in which everyone else may have heard a refutation that missed us, and a
//!   corroborated one ran only the minimum, so the refutation may still be on its way.
//! * **A second-hand Confirmed claim** about a member we hold Alive or Suspect is not applied
//!   blindly: we send the member ProbePings and believe the claim only if they all go
//!   unanswered. Under Lifeguard an unanswered check of a member we hold Alive makes it our
//!   own suspicion instead, with a whole suspicion timeout to refute over the gossip channel.
//! * **An Alive record over our Confirmed one** at the same incarnation means someone reached
//!   the member but it never refuted, and the merge rule keeps our stale view: we ask the
//!   member itself, showing it our claim, so it refutes.
//! * **With a ring key, only a member speaks for itself**: a second-hand Alive record that
//!   raises a member's incarnation (a refutation or a restart, as any keyholder could forge
//!   one to keep a dead member alive, or to make our probes of it look stale) is believed only
//!   when the member itself answers our ProbePing; its Ack carries its own record. Unanswered,
//!   the record is dropped and our probing and suspicion run on.

use std::collections::BTreeMap;
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::engine::Engine;
use crate::id::{Incarnation, MemberId};
use crate::member::{Health, Member, Membership};
use crate::membership::{Cause, Change};
use crate::network::Network;
use crate::time::{Clock, Instant};
use crate::timer::Timer;
use crate::wire::{self, Swim, SwimPayload, SwimType};

/// ProbePings sent to check a claim before it is believed, a PingReq timeout apart: a live
/// member is wrongly confirmed only if every round trip is lost, `(1 − (1 − p)²)^tries` at
/// loss `p` each way.
const PROBE_PING_TRIES: u8 = 3;
/// Under Lifeguard, where every suspicion ends with this check at every observer, the tries go
/// a ping timeout apart (the check's length adds to the detection of every crash), and one
/// more is made (a wrong verdict here is a false positive at every observer).
const PROBE_PING_TRIES_LIFEGUARD: u8 = 4;

/// Confirmed claims waiting for a ProbePing's verdict, and this protocol period's budget of
/// new checks.
#[derive(Clone, Debug, Default)]
pub(crate) struct Claims {
    pending: BTreeMap<MemberId, Pending>,
    /// Checks started in the current protocol period (bounded by `probe_ping_budget`).
    started: u32,
}

/// A claim being checked, without its id (the map's key) and with its address packed: 32
/// bytes instead of a record's 72. In a ring of thousands cut in two, every member checks
/// hundreds of claims at once.
#[derive(Clone, Debug)]
struct Pending {
    incarnation: Incarnation,
    addr: PackedAddr,
    gossip_port: u16,
    persistent: bool,
    departed: bool,
    health: Health,
}

/// A socket address in 16 bytes: IPv4 inline, IPv6 (rare in a ring) boxed.
#[derive(Clone, Debug)]
enum PackedAddr {
    V4(SocketAddrV4),
    V6(Box<SocketAddrV6>),
}

const _: () = assert!(std::mem::size_of::<Pending>() == 32);

impl Pending {
    fn new(claim: Membership) -> Self {
        let m = claim.member;
        Pending {
            incarnation: m.incarnation,
            addr: match m.addr {
                SocketAddr::V4(a) => PackedAddr::V4(a),
                SocketAddr::V6(a) => PackedAddr::V6(Box::new(a)),
            },
            gossip_port: m.gossip_port,
            persistent: m.persistent,
            departed: m.departed,
            health: claim.health,
        }
    }

    fn record(&self, id: MemberId) -> Membership {
        Membership {
            member: Member {
                id,
                incarnation: self.incarnation,
                addr: match &self.addr {
                    PackedAddr::V4(a) => SocketAddr::V4(*a),
                    PackedAddr::V6(a) => SocketAddr::V6(**a),
                },
                gossip_port: self.gossip_port,
                persistent: self.persistent,
                departed: self.departed,
            },
            health: self.health,
        }
    }
}

impl Claims {
    /// A new protocol period: the budget is whole again.
    pub(crate) fn new_period(&mut self) {
        self.started = 0;
    }

    /// Takes one check from the period's `budget`, if any is left.
    fn take_budget(&mut self, budget: u32) -> bool {
        if self.started >= budget {
            return false;
        }
        self.started += 1;
        true
    }

    fn contains(&self, id: MemberId) -> bool {
        self.pending.contains_key(&id)
    }

    /// Replaces the claim being checked about `claim`'s member, if one is: whether it was.
    fn replace(&mut self, claim: Membership) -> bool {
        match self.pending.get_mut(&claim.member.id) {
            Some(held) => {
                *held = Pending::new(claim);
                true
            }
            None => false,
        }
    }

    /// The claim being checked about `id`.
    fn get(&self, id: MemberId) -> Option<Membership> {
        self.pending.get(&id).map(|p| p.record(id))
    }

    /// Holds `claim` as the one being checked about its member (replacing any before it).
    fn hold(&mut self, claim: Membership) {
        self.pending.insert(claim.member.id, Pending::new(claim));
    }

    pub(super) fn remove(&mut self, id: MemberId) {
        self.pending.remove(&id);
    }

    pub(super) fn clear(&mut self) {
        self.pending.clear();
    }
}

impl<C: Clock, N: Network> Engine<C, N> {
    /// Second-hand news that must be checked with the member before it is believed (see the
    /// module doc); `None` when `update` is not such news.
    pub(super) fn check_before_believing(
        &mut self,
        update: Membership,
        held: Membership,
    ) -> Option<Change> {
        if self.ring_keys().is_some()
            && update.health == Health::Alive
            && held.health != Health::Departed
            && update.member.incarnation > held.member.incarnation
            && !self.rumors.is_departed(update.member.id)
        {
            // A raise heard second-hand: ask the member (a check already running for it is
            // answered by the same Ack).
            if !self.view.claims.contains(update.member.id) {
                self.start_probe_ping(update);
            }
            self.metrics.refutations_checked += 1;
            return Some(Change::Checking);
        }
        if update.health == Health::Confirmed
            && matches!(held.health, Health::Alive | Health::Suspect)
            && update.member.incarnation >= held.member.incarnation
        {
            // Not applied blindly (nor on top of a mere suspicion): a live member answers the
            // ProbePing.
            self.start_probe_ping(update);
            return Some(Change::Checking);
        }
        if update.health == Health::Alive
            && held.health == Health::Confirmed
            && held.member.incarnation == update.member.incarnation
            && !self.rumors.is_departed(update.member.id)
            && self.take_probe_ping_budget()
        {
            // It answers (we mark it Alive) and refutes (everyone else learns).
            self.send_probe_ping(held);
            return Some(Change::Checking);
        }
        None
    }

    /// A suspicion deadline set for `due` fired: confirm the member if it is still the same
    /// suspicion (a later suspicion of the member has its own, later deadline).
    pub(super) fn on_suspicion_deadline(&mut self, due: Instant, id: MemberId) -> Change {
        let Some(i) = self.view.members.position(id) else {
            return Change::Unchanged;
        };
        if self.view.members.health_at(i) != Some(Health::Suspect) {
            return Change::Unchanged;
        }
        let now = self.now();
        if let Some(s) = self.view.suspicions.get_mut(id) {
            // Dynamic timeout: only the suspicion's current deadline counts.
            if s.deadline > now {
                return Change::Unchanged;
            }
            // The final check: ask the member itself once (see the module doc). It adds the
            // ProbePing tries to the detection of a real crash.
            if !s.final_check {
                s.final_check = true;
                if let Some(held) = self.view.members.get(id) {
                    let claim = Membership {
                        health: Health::Confirmed,
                        ..held
                    };
                    // Unlike a second-hand claim's check, the final check always sends its own
                    // tries, even while an earlier check of the member is still running.
                    if self.view.claims.contains(id) || self.take_probe_ping_budget() {
                        self.run_probe_ping_check(claim);
                        return Change::Checking;
                    }
                }
            }
            return self.set_health(id, Health::Confirmed, None);
        }
        let suspected_at = u64::from(self.view.members.changed_at_s(i));
        let due_s = suspected_at + self.config.suspicion_timeout.as_secs();
        if due_s > due.as_nanos() / 1_000_000_000 + 1 {
            return Change::Unchanged;
        }
        self.set_health(id, Health::Confirmed, None)
    }

    /// Checks a Confirmed claim about a member we hold Alive before believing it. The
    /// ProbePing carries only the claim itself, so a live target learns of it and refutes.
    fn start_probe_ping(&mut self, claim: Membership) {
        if self.view.claims.replace(claim) {
            return; // already being checked
        }
        if !self.take_probe_ping_budget() {
            return; // over budget: keep our view, leave the claim unchecked
        }
        self.run_probe_ping_check(claim);
    }

    /// Holds `claim` as the member's pending check and sends its first ProbePing; the timeouts
    /// send the further tries and judge the claim ([`Self::on_probe_ping_timeout`]).
    fn run_probe_ping_check(&mut self, claim: Membership) {
        let id = claim.member.id;
        self.view.claims.hold(claim);
        self.send_probe_ping(claim);
        let at = self.now() + self.config.ping_timeout;
        self.timers
            .schedule(at, Timer::ProbePingTimeout { id, attempt: 0 });
    }

    /// Takes one ProbePing check from this protocol period's budget, if any is left.
    fn take_probe_ping_budget(&mut self) -> bool {
        self.view.claims.take_budget(self.config.probe_ping_budget)
    }

    fn send_probe_ping(&mut self, claim: Membership) {
        self.metrics.probe_pings_sent += 1;
        let seq = self.next_seq();
        let swim = Swim {
            r#type: SwimType::ProbePing as i32,
            seq,
            extensions: None,
            membership: vec![wire::Membership::from(&claim)],
            payload: Some(SwimPayload::ProbePing(wire::ProbePing {
                from: Some(wire::Member::from(&self.me)),
            })),
        };
        let bytes = wire::seal_plain(&swim);
        self.send_datagram(claim.member.addr, bytes);
    }

    /// ProbePing `attempt` to `id` went unanswered: try again, or after the last try judge the
    /// claim ([`Cause::ClaimUnrefuted`]).
    pub(crate) fn on_probe_ping_timeout(&mut self, id: MemberId, attempt: u8) {
        let Some(claim) = self.view.claims.get(id) else {
            return; // answered
        };
        let (tries, wait) = if self.config.dynamic_suspicion_on() {
            (PROBE_PING_TRIES_LIFEGUARD, self.config.ping_timeout)
        } else {
            (PROBE_PING_TRIES, self.config.pingreq_timeout)
        };
        if attempt + 1 < tries {
            // Another try, so lost datagrams do not confirm a live member.
            self.send_probe_ping(claim);
            let at = self.now() + wait;
            self.timers.schedule(
                at,
                Timer::ProbePingTimeout {
                    id,
                    attempt: attempt + 1,
                },
            );
            return;
        }
        self.view.claims.remove(id);
        self.apply_membership(claim, Cause::ClaimUnrefuted);
    }

    /// Every ProbePing of a check of `claim` went unanswered.
    pub(super) fn on_claim_unrefuted(&mut self, claim: Membership) -> Change {
        let id = claim.member.id;
        if claim.health == Health::Alive {
            // A refutation the member did not stand behind: dropped (see the module doc).
            return Change::Unchanged;
        }
        if !self.config.dynamic_suspicion_on() {
            return self.merge(claim, None);
        }
        // Lifeguard: a second-hand claim our ProbePings could not refute becomes our own
        // suspicion, not our verdict: the member gets a whole suspicion timeout to refute over
        // the gossip channel, which loss on datagrams does not stop, and a dead one is
        // confirmed when it expires.
        match self.view.members.health(id) {
            Some(Health::Alive) => self.merge(
                Membership {
                    health: Health::Suspect,
                    ..claim
                },
                None,
            ),
            // We suspect it too, and it did not answer the ProbePings either (the final check
            // of our own suspicion, or a second-hand claim): confirm.
            Some(Health::Suspect) => self.set_health(id, Health::Confirmed, None),
            _ => Change::Unchanged,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn a_pending_claim_gives_back_the_record_it_was_made_from() {
        let v4 = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, 1, 2, 3), 9638));
        let v6 = SocketAddr::V6(SocketAddrV6::new(
            Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 7),
            9638,
            5,
            2,
        ));
        for (i, addr) in [v4, v6].into_iter().enumerate() {
            for health in [Health::Alive, Health::Confirmed] {
                let claim = Membership {
                    member: Member {
                        incarnation: Incarnation(u64::MAX - i as u64),
                        gossip_port: 9639,
                        persistent: i == 0,
                        departed: i == 1,
                        ..Member::new(MemberId::from_u128(0xabc + i as u128), addr)
                    },
                    health,
                };
                let mut claims = Claims::default();
                assert!(!claims.replace(claim), "nothing held to replace");
                claims.hold(Membership {
                    health: Health::Suspect,
                    ..claim
                });
                assert!(claims.replace(claim));
                assert!(claims.contains(claim.member.id));
                assert_eq!(claims.get(claim.member.id), Some(claim));
                claims.remove(claim.member.id);
                assert_eq!(claims.get(claim.member.id), None);
            }
        }
    }
}
