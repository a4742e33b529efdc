//! Membership: the view one member holds of the ring, and the rules that change it.
//!
//! [`View`] owns everything membership knows — the member list, the suspicions and their
//! deadlines, the Confirmed claims being checked with ProbePings, and the queue of updates to
//! piggyback. It changes through one door, [`Engine::apply_membership`], which takes a record
//! and the [`Cause`] that brought it, and returns the [`Change`] it made. The probe loop, the
//! stream channel and the rumor store report what they saw there and never write the view
//! themselves.
//!
//! Each rule of the protocol lives in the file named after it:
//!
//! | file           | rule                                                                   |
//! |----------------|------------------------------------------------------------------------|
//! | `mod.rs`       | the entry point; second-hand news merged; what every change produces    |
//! | `contact.rs`   | a member that speaks to us directly is Alive                           |
//! | `refute.rs`    | a claim that *we* are not Alive is refuted                             |
//! | `suspect.rs`   | a failed probe makes a member Suspect; accusers and deadlines          |
//! | `confirm.rs`   | when a Suspect becomes Confirmed; Confirmed claims checked by ProbePing |
//! | `depart.rs`    | departures: our own, an operator's, and Confirmed grown old            |
//! | `piggyback.rs` | which membership records ride on each message                          |
//! | `spread.rs`    | how far an update is pushed; the rest is pulled (pull-first)           |
//!
//! The merge rule itself (newer incarnation, or same incarnation and worse health) is
//! [`MemberList::merge`].

mod confirm;
mod contact;
mod depart;
mod piggyback;
mod refute;
mod spread;
mod suspect;

use std::net::SocketAddr;

use crate::broadcast::Broadcasts;
use crate::engine::Engine;
use crate::event::{Event, MemberEvent, MemberEventKind};
use crate::id::{Incarnation, MemberId};
use crate::member::{Health, Membership};
use crate::member_list::{MemberList, MergeOutcome};
use crate::metrics::DropReason;
use crate::network::Network;
use crate::time::{Clock, Instant};
use crate::wire;

pub(crate) use confirm::Claims;
pub(crate) use spread::PULL_TRIGGER;
pub use suspect::Suspicion;
pub(crate) use suspect::Suspicions;

/// One member's view of the ring: the only holder of membership state.
#[derive(Debug, Default)]
pub(crate) struct View {
    /// Every other member we know of, with the health we hold it in.
    pub(crate) members: MemberList,
    /// Suspicions and their deadlines.
    pub(crate) suspicions: Suspicions,
    /// Confirmed claims waiting for a ProbePing's verdict.
    pub(crate) claims: Claims,
    /// Updates waiting to be piggybacked (and pushed on the gossip channel).
    pub(crate) broadcasts: Broadcasts,
    /// Changes to the view in this protocol period and the one before (how fast the view is
    /// changing, for pull-first dissemination).
    pub(crate) churn: [u32; 2],
    /// Protocol periods since one that ended in a mass change.
    mass_periods_ago: u32,
}

impl View {
    /// The view of a new member, `me`: nobody known yet, and our own record queued, since it is
    /// news to everyone.
    pub(crate) fn new(me: MemberId) -> Self {
        let mut view = View {
            mass_periods_ago: u32::MAX,
            ..View::default()
        };
        view.broadcasts.enqueue(me);
        view
    }

    /// Adds members as if we had always known them: the merge rule applies, but nothing is
    /// reported or queued (a converged start, or a restored view).
    pub(crate) fn preload(&mut self, records: Vec<Membership>, max_members: usize, now_s: u32) {
        self.members.merge_all(records, max_members, now_s);
    }

    /// A protocol period begins: the churn count moves on.
    pub(crate) fn new_period(&mut self, mass: bool) {
        self.mass_periods_ago = if mass {
            0
        } else {
            self.mass_periods_ago.saturating_add(1)
        };
        self.churn = [0, self.churn[0]];
    }

    /// Protocol periods since one that ended in a mass change (`u32::MAX`: never).
    pub(crate) fn mass_periods_ago(&self) -> u32 {
        self.mass_periods_ago
    }

    /// Changes to the view over the current and the last protocol period.
    pub(crate) fn recent_changes(&self) -> u32 {
        self.churn[0].saturating_add(self.churn[1])
    }

    /// Forgets everything but the member list (we departed: nothing is due any more).
    pub(crate) fn quiesce(&mut self) {
        self.suspicions.clear();
        self.broadcasts.clear();
        self.claims.clear();
    }
}

/// Why a membership record is being applied: the same record means different things when a
/// peer passed it on, when the member itself spoke, or when our own timer ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cause {
    /// Heard second-hand: piggybacked or pushed on a stream.
    Gossip,
    /// Heard second-hand in a membership digest exchange (pulled).
    Pulled,
    /// Heard second-hand: a Suspect record that names the member suspecting it (Lifeguard
    /// counts independent accusers).
    Accused {
        /// The member that suspects the subject.
        by: MemberId,
    },
    /// The member spoke to us directly (a Ping, PingReq, Nack, ProbePing or exchange).
    DirectContact,
    /// The member answered us with an Ack: direct contact that also answers any ProbePing
    /// check of a Confirmed claim about it.
    Answered,
    /// Our own probe of the member went unanswered (record: the member at the incarnation
    /// probed).
    ProbeFailed,
    /// A suspicion deadline scheduled for `due` fired.
    Deadline {
        /// The instant the deadline was scheduled for.
        due: Instant,
    },
    /// A Confirmed claim our ProbePings could not refute (record: the claim).
    ClaimUnrefuted,
    /// Confirmed for longer than `confirmed_to_departed`.
    Expired,
    /// An operator departed the member (a Departure rumor).
    Operator,
}

impl Cause {
    /// A record as it came off the wire, and the cause it carries: a Suspect record that names
    /// its accuser is an accusation.
    pub(crate) fn of_wire(entry: &wire::Membership) -> Result<(Membership, Cause), DropReason> {
        let record = Membership::try_from(entry)?;
        let accuser = entry.accuser.as_deref().and_then(|a| a.parse().ok());
        let cause = match accuser {
            Some(by) => Cause::Accused { by },
            None => Cause::Gossip,
        };
        Ok((record, cause))
    }
}

/// How a record that changed the view reached us: it decides how far we push it on
/// (see [`Engine::queue_update`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// Our own decision or a member speaking for itself: news we are the source of.
    Local,
    /// Second-hand, piggybacked or pushed.
    Pushed,
    /// Second-hand, from a membership digest exchange.
    Pulled,
}

/// What applying a record did to the view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// Nothing: the record was stale, or the rule kept our view.
    Unchanged,
    /// Our record of the member changed (`from` is `None` when it was unknown).
    Member {
        /// Health held before.
        from: Option<Health>,
        /// Health held now.
        to: Health,
    },
    /// The record was about us and said we are not Alive: we refuted it.
    Refuted,
    /// The claim is being checked with ProbePings before it is believed.
    Checking,
    /// Another member's accusation shortened our suspicion.
    Corroborated,
    /// An unknown member, and the list is full (counted as a drop).
    Full,
    /// A member an operator departed spoke to us; it stays out.
    Refused,
}

/// The highest incarnation taken for a member never heard of before (2^53). Honest incarnations
/// count refutations and restarts, or at most the wall clock's seconds after a member lost
/// its own; a record above this is a claim no member could outbid for long.
pub const MAX_INCARNATION: u64 = 1 << 53;

impl<C: Clock, N: Network> Engine<C, N> {
    /// Whether `member`'s incarnation is one an honest record could carry. A datagram from the
    /// member's own address (`src`) speaks for itself and may carry any. Otherwise the
    /// incarnation may pass the one held (ours, for a record about us) by at most
    /// `Config::max_incarnation_step`, and for a member never heard of it may not pass
    /// [`MAX_INCARNATION`]: so no message can raise a member's incarnation beyond what the
    /// member itself can outbid.
    pub(crate) fn plausible(
        &self,
        member: &crate::member::Member,
        src: Option<SocketAddr>,
    ) -> bool {
        if src == Some(member.addr) {
            return true;
        }
        let held = if member.id == self.me.id {
            Some(self.me.incarnation)
        } else {
            self.view
                .members
                .get(member.id)
                .map(|m| m.member.incarnation)
        };
        self.within_step(member.incarnation, held)
    }

    /// Whether `incarnation` passes `held` (none: a member never heard of) by no more than
    /// `Config::max_incarnation_step`, or [`MAX_INCARNATION`] for an unknown member.
    fn within_step(&self, incarnation: Incarnation, held: Option<Incarnation>) -> bool {
        let limit = held.map_or(MAX_INCARNATION, |h| {
            h.0.saturating_add(self.config.max_incarnation_step)
        });
        incarnation.0 <= limit
    }

    /// Applies `record` for `cause`: the one way the membership view changes.
    pub(crate) fn apply_membership(&mut self, record: Membership, cause: Cause) -> Change {
        match cause {
            Cause::Gossip => self.apply_hearsay(record, None, Route::Pushed),
            Cause::Pulled => self.apply_hearsay(record, None, Route::Pulled),
            Cause::Accused { by } => self.apply_hearsay(record, Some(by), Route::Pushed),
            Cause::DirectContact => self.on_direct_contact(record.member),
            Cause::Answered => self.on_answer(record.member),
            Cause::ProbeFailed => self.on_probe_failed(record),
            Cause::Deadline { due } => self.on_suspicion_deadline(due, record.member.id),
            Cause::ClaimUnrefuted => self.on_claim_unrefuted(record),
            Cause::Expired => self.set_health(record.member.id, Health::Departed, None),
            Cause::Operator => self.on_operator_departure(record.member.id),
        }
    }

    /// Decodes a record off the wire and applies it as second-hand news.
    pub(crate) fn apply_wire_record(&mut self, entry: &wire::Membership) {
        let address = entry.member.as_ref().and_then(|m| m.address.as_deref());
        if let Err(reason) = self.refuse_ipv6(address) {
            return self.drop_input(reason);
        }
        match Cause::of_wire(entry) {
            Ok((record, cause)) => {
                self.apply_membership(record, cause);
            }
            Err(reason) => self.drop_input(reason),
        }
    }

    /// Second-hand news, which is not always taken at its word: a claim about us is refuted, a
    /// Confirmed claim about a member we hold live is checked first, an accusation of a member
    /// we already suspect corroborates our suspicion; anything else merges by the rule.
    fn apply_hearsay(
        &mut self,
        update: Membership,
        accuser: Option<MemberId>,
        route: Route,
    ) -> Change {
        // One lookup serves the plausibility check and both checks below.
        let about_us = update.member.id == self.me.id;
        let held = if about_us {
            None
        } else {
            self.view.members.get(update.member.id)
        };
        let held_incarnation = if about_us {
            Some(self.me.incarnation)
        } else {
            held.map(|h| h.member.incarnation)
        };
        if !self.within_step(update.member.incarnation, held_incarnation) {
            self.drop_input(DropReason::Implausible);
            return Change::Unchanged;
        }
        if about_us {
            return self.consider_refuting(update);
        }
        let Some(held) = held else {
            return self.merge_from(update, accuser, route);
        };
        if let Some(change) = self.check_before_believing(update, held) {
            return change;
        }
        if let Some(change) = self.corroborate_if_suspected(update, held, accuser) {
            return change;
        }
        self.merge_from(update, accuser, route)
    }

    /// Merges `update` by the member-list rule and reacts to the outcome; `accuser` is who
    /// suspects the member when `update` is Suspect.
    fn merge(&mut self, update: Membership, accuser: Option<MemberId>) -> Change {
        self.merge_from(update, accuser, Route::Local)
    }

    /// [`Self::merge`] of a record that reached us by `route`; second-hand records that change
    /// the view are counted as records we lacked.
    fn merge_from(
        &mut self,
        update: Membership,
        accuser: Option<MemberId>,
        route: Route,
    ) -> Change {
        // A member an operator departed stays Departed, whatever it claims.
        let update = self.departure_guard(update);
        let now_s = self.now_s();
        let outcome = self
            .view
            .members
            .merge(&update, self.config.max_members, now_s);
        match outcome {
            MergeOutcome::Stale => Change::Unchanged,
            MergeOutcome::Full => {
                self.drop_input(DropReason::TooManyMembers);
                Change::Full
            }
            MergeOutcome::Inserted => {
                self.count_learned(route);
                self.after_change(update, None, accuser, route)
            }
            MergeOutcome::Updated { from } => {
                self.count_learned(route);
                self.after_change(update, Some(from), accuser, route)
            }
        }
    }

    fn count_learned(&mut self, route: Route) {
        if route != Route::Local {
            self.metrics.member_records_learned += 1;
        }
    }

    /// A local decision about a known member, without the merge rule (Suspect after a failed
    /// probe, Confirmed after a suspicion, Alive on direct contact, Departed for good).
    fn set_health(&mut self, id: MemberId, health: Health, accuser: Option<MemberId>) -> Change {
        let now_s = self.now_s();
        let Some(from) = self.view.members.set_health(id, health, now_s) else {
            return Change::Unchanged;
        };
        if from == health {
            return Change::Unchanged;
        }
        let Some(record) = self.view.members.get(id) else {
            return Change::Unchanged;
        };
        self.after_change(record, Some(from), accuser, Route::Local)
    }

    /// Events, broadcast and timers after our view of `update.member` changed.
    fn after_change(
        &mut self,
        update: Membership,
        from: Option<Health>,
        accuser: Option<MemberId>,
        route: Route,
    ) -> Change {
        self.view.churn[0] = self.view.churn[0].saturating_add(1);
        // A suspicion our own probe raised is news only we have; a refutation of a suspicion
        // races the suspicion's deadline everywhere.
        let urgent = (update.health == Health::Suspect && accuser == Some(self.me.id))
            || (update.health == Health::Alive && from == Some(Health::Suspect));
        self.queue_update(&update, route, urgent);
        if from != Some(update.health) {
            self.emit_member_event(update.member.id, from, update.health, update);
            self.elections_on_member_change(update.member.id, from, update.health);
        }
        self.track_suspicion(update, from, accuser);
        if update.health != Health::Confirmed {
            self.view.claims.remove(update.member.id);
        }
        Change::Member {
            from,
            to: update.health,
        }
    }

    fn emit_member_event(
        &mut self,
        subject: MemberId,
        from: Option<Health>,
        to: Health,
        record: Membership,
    ) {
        let event = MemberEvent {
            observer: self.me.id,
            subject,
            kind: MemberEventKind::classify(from, to),
            from,
            to,
            incarnation: record.member.incarnation,
        };
        self.emit(Event::Member(event));
    }
}
