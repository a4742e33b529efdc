//! Applying membership news: the merge rules, refutation, suspicion and its expiry, direct
//! contact, and the events and broadcasts every change produces.

use crate::engine::Engine;
use crate::event::{Event, MemberEvent, MemberEventKind};
use crate::id::MemberId;
use crate::lifeguard::{self, Suspicion};
use crate::member::{Health, Member, Membership};
use crate::member_list::MergeOutcome;
use crate::metrics::DropReason;
use crate::network::Network;
use crate::time::{Clock, Instant};

impl<C: Clock, N: Network> Engine<C, N> {
    /// Applies a membership record heard second-hand (piggybacked, or in a stream).
    pub(super) fn apply_membership(&mut self, update: Membership) {
        self.apply_membership_from(update, None);
    }

    /// As [`apply_membership`](Self::apply_membership), for a Suspect record that names the
    /// member that suspects it (Lifeguard counts independent accusers).
    pub(super) fn apply_membership_from(&mut self, update: Membership, accuser: Option<MemberId>) {
        if update.member.id == self.me.id {
            self.consider_refuting(update);
            return;
        }
        if update.health == Health::Confirmed {
            if let Some(held) = self.members.get(update.member.id) {
                if matches!(held.health, Health::Alive | Health::Suspect)
                    && update.member.incarnation >= held.member.incarnation
                {
                    // Not applied blindly (nor on top of a mere suspicion): a live member
                    // answers the ProbePing.
                    self.start_probe_ping(update);
                    return;
                }
            }
        }
        if update.health == Health::Alive {
            if let Some(held) = self.members.get(update.member.id) {
                if held.health == Health::Confirmed
                    && held.member.incarnation == update.member.incarnation
                    && !self.rumors.is_departed(update.member.id)
                    && self.take_probe_ping_budget()
                {
                    // Someone reached it since we confirmed it, but it never refuted, so the
                    // merge rule keeps our stale view — and whoever else holds it. Ask the
                    // member itself, showing it our claim: it answers (we mark it Alive) and
                    // refutes (everyone else learns).
                    self.send_probe_ping(held);
                    return;
                }
            }
        }
        if update.health == Health::Suspect {
            if let (Some(accuser), Some(held)) = (accuser, self.members.get(update.member.id)) {
                if held.health == Health::Suspect
                    && held.member.incarnation == update.member.incarnation
                {
                    self.confirm_suspicion(update.member.id, accuser);
                    return;
                }
            }
        }
        self.pending_accuser = accuser;
        self.merge_and_react(update);
        self.pending_accuser = None;
    }

    /// Another member independently suspects `id`: under the dynamic timeout, the suspicion
    /// gets shorter, and the confirmation is passed on.
    pub(super) fn confirm_suspicion(&mut self, id: MemberId, accuser: MemberId) {
        if !self.config.dynamic_suspicion_on() {
            return;
        }
        let (min, max) = self.suspicion_bounds();
        let k = self.config.suspicion_confirmations;
        let Some(s) = self.suspects.get_mut(&id) else {
            return;
        };
        if !s.confirm(accuser) {
            return;
        }
        let deadline = s.start + lifeguard::suspicion_timeout(s.confirmations(), k, min, max);
        if deadline < s.deadline {
            s.deadline = deadline;
            self.suspicions.schedule(deadline, id);
        }
        self.broadcasts.enqueue(id);
    }

    fn suspicion_bounds(&self) -> (std::time::Duration, std::time::Duration) {
        lifeguard::suspicion_bounds(
            self.config.suspicion_timeout,
            self.config.suspicion_max_multiplier,
            self.members.len() + 1,
        )
    }

    /// Merges `update` by the member-list rules and reacts to the outcome.
    pub(super) fn merge_and_react(&mut self, update: Membership) {
        // A member an operator departed stays Departed, whatever it claims.
        let update = self.departure_guard(update);
        let now_s = self.now_s();
        let outcome = self.members.merge(&update, self.config.max_members, now_s);
        match outcome {
            MergeOutcome::Stale => {}
            MergeOutcome::Full => self.drop_input(DropReason::TooManyMembers),
            MergeOutcome::Inserted => self.after_change(update, None),
            MergeOutcome::Updated { from } => self.after_change(update, Some(from)),
        }
    }

    /// Events, broadcast and timers after our view of `update.member` changed.
    fn after_change(&mut self, update: Membership, from: Option<Health>) {
        self.broadcasts.enqueue(update.member.id);
        if from != Some(update.health) {
            self.emit_member_event(update.member.id, from, update.health, update);
            self.elections_on_member_change(update.member.id, from, update.health);
        }
        // A Suspect record replacing a Suspect one is a newer incarnation: the member refuted
        // and was suspected again. Under Lifeguard that is a new suspicion with its own
        // timeout (the member has not had the chance to refute this one); plain SWIM keeps the
        // first deadline, as Butterfly does. Without the restart, 20 % datagram loss confirmed
        // live members on the first suspicion's timer (lifeguard/lossy_join).
        let new_suspicion = from != Some(Health::Suspect) || self.config.dynamic_suspicion_on();
        if update.health == Health::Suspect && new_suspicion {
            let now = self.now();
            if self.config.dynamic_suspicion_on() {
                let (min, max) = self.suspicion_bounds();
                let k = self.config.suspicion_confirmations;
                let timeout = lifeguard::suspicion_timeout(0, k, min, max);
                let s = Suspicion::new(now, self.pending_accuser, timeout);
                self.suspicions.schedule(s.deadline, update.member.id);
                self.suspects.insert(update.member.id, s);
            } else {
                self.suspicions
                    .schedule(now + self.config.suspicion_timeout, update.member.id);
            }
        }
        if update.health != Health::Suspect {
            self.suspects.remove(&update.member.id);
        }
        if update.health != Health::Confirmed {
            self.probe_pings.remove(&update.member.id);
        }
    }

    /// A local decision about a known member (Suspect after a failed probe, Confirmed after
    /// the suspicion timeout, Alive on direct contact, Departed after the sweep).
    pub(super) fn set_local_health(&mut self, id: MemberId, health: Health) {
        if health == Health::Suspect {
            self.pending_accuser = Some(self.me.id);
        }
        self.set_local_health_inner(id, health);
        self.pending_accuser = None;
    }

    fn set_local_health_inner(&mut self, id: MemberId, health: Health) {
        let now_s = self.now_s();
        let Some(from) = self.members.set_health(id, health, now_s) else {
            return;
        };
        if from == health {
            return;
        }
        let Some(record) = self.members.get(id) else {
            return;
        };
        self.after_change(record, Some(from));
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

    /// Someone says something about us. If it says we are not Alive, at an incarnation not
    /// older than ours, refute: our incarnation becomes max(ours, theirs) + 1 and is gossiped.
    fn consider_refuting(&mut self, claim: Membership) {
        if self.departed
            || claim.health == Health::Alive
            || claim.member.incarnation < self.me.incarnation
        {
            return;
        }
        self.me.incarnation = claim.member.incarnation.max(self.me.incarnation).next();
        self.metrics.refutations += 1;
        if self.config.awareness_on() {
            // Being suspected hints that we are the slow one.
            self.awareness.apply(1);
        }
        self.broadcasts.enqueue(self.me.id);
        self.emit(Event::Refuted {
            incarnation: self.me.incarnation,
            accused: claim.health,
        });
    }

    /// `member` spoke to us directly (a Ping, Ack, PingReq or ProbePing), so it is alive.
    /// Returns the record we held before, so the reply can tell it how we saw it.
    ///
    /// A member we hold Departed at the same or a higher incarnation stays out.
    pub(super) fn note_direct_contact(
        &mut self,
        member: &Member,
    ) -> Result<Option<Membership>, DropReason> {
        if self.refuse_departed(member) {
            return Err(DropReason::FromDeparted);
        }
        let prior = self.members.get(member.id);
        let record = Membership {
            member: *member,
            health: Health::Alive,
        };
        match prior {
            None => {
                let had_nobody =
                    self.members.count(Health::Alive) + self.members.count(Health::Suspect) == 0;
                self.merge_and_react(record);
                if had_nobody && self.members.get(member.id).is_some() {
                    // First contact while bootstrapping: fetch the whole view at once.
                    self.push_pull_with(member.gossip_addr());
                }
            }
            Some(p) if member.incarnation > p.member.incarnation => {
                self.merge_and_react(record);
                if p.health == Health::Confirmed {
                    self.heal_sync(member);
                }
            }
            Some(p) if p.health == Health::Departed => return Err(DropReason::FromDeparted),
            Some(p) if p.health != Health::Alive => {
                self.set_local_health(member.id, Health::Alive);
                if p.health == Health::Confirmed {
                    self.heal_sync(member);
                }
            }
            Some(_) => {}
        }
        Ok(prior)
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

    /// A suspicion deadline fired: confirm the member if it is still the same suspicion.
    pub(super) fn on_suspicion_deadline(&mut self, deadline: Instant, id: MemberId) {
        let Some(i) = self.members.position(id) else {
            return;
        };
        if self.members.health_at(i) != Some(Health::Suspect) {
            return;
        }
        let now = self.now();
        if let Some(s) = self.suspects.get_mut(&id) {
            // Dynamic timeout: only the suspicion's current deadline counts.
            if s.deadline > now {
                return;
            }
            // Before confirming, ask the member itself, showing it our claim (it answers, or
            // refutes); confirm only if that fails too. Not fully corroborated (fewer than
            // `suspicion_confirmations` independent accusers), the suspicion ran a long timeout
            // in which everyone else may have heard a refutation that missed us; corroborated,
            // it ran only the minimum, and the refutation may still be on its way (at 20 % loss
            // this confirmed live members). The check (four ProbePings a ping timeout apart)
            // adds four ping timeouts to the detection of a real crash.
            if !s.final_check {
                s.final_check = true;
                if let Some(held) = self.members.get(id) {
                    let claim = Membership {
                        health: Health::Confirmed,
                        ..held
                    };
                    // Unlike a second-hand claim's check, the final check always sends its own
                    // tries, even while an earlier check of the member is still running.
                    if self.probe_pings.contains_key(&id) || self.take_probe_ping_budget() {
                        self.run_probe_ping_check(claim);
                        return;
                    }
                }
            }
            self.set_local_health(id, Health::Confirmed);
            return;
        }
        // A later suspicion of the same member has its own, later deadline.
        let suspected_at = u64::from(self.members.changed_at_s(i));
        let due_s = suspected_at + self.config.suspicion_timeout.as_secs();
        if due_s > deadline.as_nanos() / 1_000_000_000 + 1 {
            return;
        }
        self.set_local_health(id, Health::Confirmed);
    }
}
