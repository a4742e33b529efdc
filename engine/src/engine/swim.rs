//! The SWIM probe loop and the datagram messages: Ping, Ack, PingReq and ProbePing, each
//! carrying piggybacked membership.
//!
//! ```text
//!  A (prober)              B (target)             H (helper, k of them)
//!  ── Ping ─────────────────▶
//!  ◀──────────────────── Ack      (within ping_timeout: B is Alive)
//!  … no Ack within ping_timeout:
//!  ── PingReq{target B} ──────────────────────────▶
//!                           ◀── Ping{forward_to A} ─
//!                           ── Ack{forward_to A} ──▶
//!  ◀─────────────────────────────── Ack (relayed) ─
//!  … no Ack within pingreq_timeout either: B is Suspect.
//! ```

use std::net::SocketAddr;

use crate::engine::Engine;
use crate::id::MemberId;
use crate::member::{Health, Member, Membership};
use crate::membership::Cause;
use crate::metrics::{Channel, DropReason};
use crate::network::Network;
use crate::time::Clock;
use crate::timer::Timer;
use crate::wire::{self, Swim, SwimPayload, SwimType};

impl<C: Clock, N: Network> Engine<C, N> {
    /// Handles one datagram received on the SWIM socket from `from`.
    pub fn handle_datagram(&mut self, from: SocketAddr, bytes: &[u8]) {
        self.metrics.record_received(Channel::Datagram, bytes.len());
        if bytes.len() > self.config.max_datagram_size {
            return self.drop_input(DropReason::Oversized);
        }
        if self.departed {
            return self.drop_input(DropReason::SelfDeparted);
        }
        if self.compat() && from.is_ipv6() {
            return self.drop_input(DropReason::Invalid);
        }
        let swim: Swim = match self.open_wire(bytes) {
            Ok(s) => s,
            Err(reason) => return self.drop_input(reason),
        };
        if let Err(reason) = self.check_replay(&swim) {
            return self.drop_input(reason);
        }
        let result = match &swim.payload {
            Some(SwimPayload::Ping(p)) => {
                let corrections = self.corrections(&swim.membership);
                self.on_ping(from, p, &corrections)
            }
            Some(SwimPayload::Ack(a)) => self.on_ack(from, a, swim.seq),
            Some(SwimPayload::Pingreq(r)) => self.on_pingreq(from, r),
            Some(SwimPayload::ProbePing(p)) => self.on_probe_ping(from, p),
            Some(SwimPayload::Nack(n)) => self.on_nack(from, n),
            None => Err(DropReason::Malformed),
        };
        if let Err(reason) = result {
            return self.drop_input(reason);
        }
        self.learn_peer_kind(from, &swim);
        for entry in &swim.membership {
            self.apply_wire_record(entry);
        }
    }

    // ----- the probe loop ------------------------------------------------------------------

    pub(super) fn start_probe(&mut self) {
        // With `ping_timeout + pingreq_timeout == protocol_period` (Butterfly's timings) a real
        // clock fires the previous probe's PingReq deadline a hair after this tick: judge that
        // probe now rather than let the new one make its deadline stale.
        if self.probe.target.is_some() && !self.probe.acked && self.probe.pingreqs_sent {
            self.on_pingreq_timeout(self.probe.seq);
        }
        let n = self.view.members.len();
        let members = &self.view.members;
        let pingable = |i: usize| match members.health_at(i) {
            Some(Health::Alive | Health::Suspect) => true,
            Some(Health::Confirmed) => members.persistent_at(i),
            _ => false,
        };
        // After a failed probe of a member never heard from, a member that has answered us
        // comes next (if there is one): invented members cannot crowd out the real ones.
        let heard_first =
            self.config.fair_probing && std::mem::take(&mut self.probe.unheard_failed);
        let mut pick = None;
        if heard_first {
            pick = self
                .round
                .next(n, &mut self.rng, |i| pingable(i) && members.heard_at(i));
        }
        if pick.is_none() {
            pick = self.round.next(n, &mut self.rng, pingable);
        }
        let Some(target) = pick.and_then(|i| self.view.members.at(i)) else {
            return;
        };
        self.probe.seq += 1;
        self.probe.target = Some(target.member.id);
        self.probe.acked = false;
        self.probe.pingreqs_sent = false;
        self.probe.expected_nacks = 0;
        self.probe.nacks = 0;
        self.probe.incarnation = target.member.incarnation;
        self.metrics.probes += 1;
        // Anti-entropy checks due ride on the probe of a member we hold Alive.
        self.check_if_changing();
        let alive = target.health == Health::Alive;
        self.probe.view_asked = self.anti_entropy.view_check && alive;
        self.probe.rumors_asked = self.anti_entropy.rumor_check && alive;
        let view_hash = self.probe.view_asked.then(|| self.view_hash());
        let rumor_hash = self.probe.rumors_asked.then(|| self.rumor_hash());
        self.metrics.view_checks += u64::from(self.probe.view_asked);
        self.metrics.rumor_checks += u64::from(self.probe.rumors_asked);
        // The buddy system: the target's own entry rides first, so a member we suspect
        // learns of it from the probe itself and can refute at once.
        let buddy = self.config.buddy_on().then_some(target);
        let payload = SwimPayload::Ping(wire::Ping {
            from: Some(wire::Member::from(&self.me)),
            forward_to: None,
            view_hash,
            rumor_hash,
        });
        self.send_swim(target.member.addr, SwimType::Ping, payload, buddy);
        let at = self.now() + self.scaled(self.config.ping_timeout);
        self.timers.schedule(
            at,
            Timer::PingTimeout {
                probe: self.probe.seq,
            },
        );
    }

    pub(super) fn on_ping_timeout(&mut self, probe: u64) {
        if probe != self.probe.seq || self.probe.acked {
            return;
        }
        let Some(target_id) = self.probe.target else {
            return;
        };
        let Some(target) = self.view.members.get(target_id) else {
            return;
        };
        // Helpers we have heard from directly first (`Config::fair_probing`), topped up with
        // others: a member never heard from may not exist, so only the heard ones' silence
        // counts against us (Lifeguard's missed Nacks).
        let k = self.config.pingreq_fanout;
        let helpers = if self.config.fair_probing {
            let mut helpers = self.random_members(k, Some(target_id), |h, _, heard| {
                h == Health::Alive && heard
            });
            if helpers.len() < k {
                let more =
                    self.random_members(k - helpers.len(), Some(target_id), |h, _, heard| {
                        h == Health::Alive && !heard
                    });
                helpers.extend(more);
            }
            helpers
        } else {
            self.random_members(k, Some(target_id), |h, _, _| h == Health::Alive)
        };
        self.probe.pingreqs_sent = true;
        let want_nack = self.config.awareness_on();
        for i in helpers {
            let Some(helper) = self.view.members.at(i) else {
                continue;
            };
            // Butterfly never answers with a Nack: ask only members that speak Lifeguard.
            let want_nack = want_nack && !self.legacy_peer(helper.member.addr);
            let payload = SwimPayload::Pingreq(wire::PingReq {
                from: Some(wire::Member::from(&self.me)),
                target: Some(wire::Member::from(&target.member)),
                nack: want_nack.then_some(true),
            });
            self.metrics.pingreqs_sent += 1;
            let counts = !self.config.fair_probing || self.view.members.heard_at(i);
            if want_nack && counts {
                self.probe.expected_nacks += 1;
            }
            self.send_swim(helper.member.addr, SwimType::Pingreq, payload, Some(helper));
        }
        let at = self.now() + self.scaled(self.config.pingreq_timeout);
        self.timers.schedule(at, Timer::PingReqTimeout { probe });
    }

    pub(super) fn on_pingreq_timeout(&mut self, probe: u64) {
        if probe != self.probe.seq || self.probe.acked {
            return;
        }
        if self.config.awareness_on() {
            // Helpers that did not even Nack suggest the problem is ours, not the target's.
            let missed = self.probe.expected_nacks.saturating_sub(self.probe.nacks);
            let delta = if self.probe.expected_nacks == 0 {
                1
            } else {
                missed
            };
            self.awareness
                .apply(i32::try_from(delta).unwrap_or(i32::MAX));
        }
        // Report the failure for the member at the incarnation probed; the membership rules
        // decide what it means (`membership/suspect.rs`).
        if let Some(id) = self.probe.target.take() {
            self.probe.unheard_failed = self
                .view
                .members
                .position(id)
                .is_some_and(|i| !self.view.members.heard_at(i));
            if let Some(held) = self.view.members.get(id) {
                let probed = Membership {
                    member: Member {
                        incarnation: self.probe.incarnation,
                        ..held.member
                    },
                    health: Health::Suspect,
                };
                self.apply_membership(probed, Cause::ProbeFailed);
            }
        }
    }

    // ----- receiving -----------------------------------------------------------------------

    fn on_ping(
        &mut self,
        src: SocketAddr,
        ping: &wire::Ping,
        corrections: &[Membership],
    ) -> Result<(), DropReason> {
        let from = self.sender(src, ping.from.as_ref())?;
        let prior = match self.heard_from(src, &from) {
            Ok(prior) => prior,
            // A member we hold Departed on second-hand word (not an operator's departure)
            // pings us from its own address: it is not gone. It stays out of our view at that
            // incarnation, but the Ack shows it the record so that it refutes, or a single
            // forged Departed record would shut it out of the ring for good.
            Err(DropReason::FromDeparted)
                if src == from.addr && !self.rumors.is_departed(from.id) =>
            {
                self.view.members.get(from.id)
            }
            Err(reason) => return Err(reason),
        };
        let forward_to = ping.forward_to.clone();
        // The Ack goes where the Ping came from, never to an address named inside it: a forged
        // `from` must not turn us into a reflector aimed at a third party.
        let reply_to = src;
        // Anti-entropy checks: answer with our own hashes (only on a direct probe).
        let direct = forward_to.is_none();
        let view_hash = (direct && ping.view_hash.is_some()).then(|| self.view_hash());
        let rumor_hash = (direct && ping.rumor_hash.is_some()).then(|| self.rumor_hash());
        let payload = SwimPayload::Ack(wire::Ack {
            from: Some(wire::Member::from(&self.me)),
            forward_to,
            view_hash,
            rumor_hash,
        });
        // Piggyback the sender's entry as we held it before this Ping: if we had it Suspect or
        // Confirmed, that tells it to refute, which is how the rest of the ring learns.
        let target = prior.unwrap_or(Membership {
            member: from,
            health: Health::Alive,
        });
        self.send_swim_with(reply_to, SwimType::Ack, payload, Some(target), corrections);
        Ok(())
    }

    fn on_ack(
        &mut self,
        src: SocketAddr,
        ack: &wire::Ack,
        seq: Option<u64>,
    ) -> Result<(), DropReason> {
        let from = self.sender(src, ack.from.as_ref())?;
        if let Some(fwd) = &ack.forward_to {
            let fwd = Member::try_from(fwd)?;
            if fwd.id != self.me.id {
                // We are the helper of an indirect probe: relay the target's Ack.
                self.heard_from(src, &from)?;
                self.relays.remove(&(from.id, fwd.id));
                // A Butterfly target leaves its address out; like Butterfly, name the address
                // its Ack came from, so the asker learns where it is.
                let author = ack.from.as_ref().map(|m| self.with_source_address(m, src));
                let payload = SwimPayload::Ack(wire::Ack {
                    from: author.map(std::borrow::Cow::into_owned),
                    forward_to: ack.forward_to.clone(),
                    ..Default::default()
                });
                let target = self.view.members.get(fwd.id);
                // The relayed Ack keeps its author's number, so the asker's replay window
                // sees one sequence from the target whichever way its datagrams come.
                self.send_swim_numbered(fwd.addr, SwimType::Ack, payload, target, &[], seq);
                return Ok(());
            }
        }
        self.note_direct_contact(&from, Cause::Answered)?;
        self.view.members.mark_heard(from.id, src);
        if self.probe.target == Some(from.id) && !self.probe.acked {
            self.probe.acked = true;
            self.awareness.apply(-1);
        }
        if self.probe.target == Some(from.id) && ack.forward_to.is_none() {
            self.on_check_answer(&from, ack.view_hash, ack.rumor_hash);
        }
        Ok(())
    }

    fn on_pingreq(&mut self, src: SocketAddr, req: &wire::PingReq) -> Result<(), DropReason> {
        let asker = self.sender(src, req.from.as_ref())?;
        self.heard_from(src, &asker)?;
        // The relayed Ack (and a Nack) go back where the PingReq came from, like an Ack to a
        // Ping: never to an address the request names.
        let asker = Member { addr: src, ..asker };
        let target = Member::try_from(req.target.as_ref().ok_or(DropReason::Invalid)?)?;
        if target.id == self.me.id {
            return Err(DropReason::NotForUs);
        }
        let held = self.view.members.get(target.id);
        self.send_ping(target.addr, held, Some(asker));
        if req.nack == Some(true) {
            self.relays.insert((target.id, asker.id), asker);
            let at = self.now() + self.config.ping_timeout;
            self.timers.schedule(
                at,
                Timer::RelayTimeout {
                    target: target.id,
                    asker: asker.id,
                },
            );
        }
        Ok(())
    }

    /// As a helper: the target stayed silent, so tell the asker (Lifeguard's Nack).
    pub(super) fn on_relay_timeout(&mut self, target: MemberId, asker: MemberId) {
        let Some(asker) = self.relays.remove(&(target, asker)) else {
            return; // the target answered
        };
        let target = self
            .view
            .members
            .get(target)
            .map(|m| wire::Member::from(&m.member));
        let payload = SwimPayload::Nack(wire::Nack {
            from: Some(wire::Member::from(&self.me)),
            target,
        });
        let held = self.view.members.get(asker.id);
        self.send_swim(asker.addr, SwimType::Nack, payload, held);
    }

    fn on_nack(&mut self, src: SocketAddr, nack: &wire::Nack) -> Result<(), DropReason> {
        let helper = self.sender(src, nack.from.as_ref())?;
        self.heard_from(src, &helper)?;
        let target = Member::try_from(nack.target.as_ref().ok_or(DropReason::Invalid)?)?;
        if self.probe.target == Some(target.id) && !self.probe.acked {
            self.probe.nacks += 1;
        }
        Ok(())
    }

    fn on_probe_ping(&mut self, src: SocketAddr, pp: &wire::ProbePing) -> Result<(), DropReason> {
        let from = self.sender(src, pp.from.as_ref())?;
        let prior = self.heard_from(src, &from)?;
        let payload = SwimPayload::Ack(wire::Ack {
            from: Some(wire::Member::from(&self.me)),
            ..Default::default()
        });
        // To the datagram's source, like every Ack: never to an address named inside.
        self.send_swim(src, SwimType::Ack, payload, prior);
        Ok(())
    }

    /// Direct contact from `member`; any message from the member we are probing answers the
    /// probe as well as an Ack would (it is alive and reaches us).
    fn heard_from(
        &mut self,
        src: SocketAddr,
        member: &Member,
    ) -> Result<Option<Membership>, DropReason> {
        let prior = self.note_direct_contact(member, Cause::DirectContact)?;
        self.view.members.mark_heard(member.id, src);
        if self.probe.target == Some(member.id) {
            self.probe.acked = true;
        }
        Ok(prior)
    }

    /// The sending member of a message from `src`; never ourselves, and never with an
    /// implausible incarnation (see [`Engine::plausible`]).
    fn sender(&self, src: SocketAddr, m: Option<&wire::Member>) -> Result<Member, DropReason> {
        let m = m.ok_or(DropReason::Invalid)?;
        let m = Member::try_from(self.with_source_address(m, src).as_ref())?;
        if m.id == self.me.id {
            return Err(DropReason::NotForUs);
        }
        if !self.plausible(&m, Some(src)) {
            return Err(DropReason::Implausible);
        }
        Ok(m)
    }

    // ----- sending -------------------------------------------------------------------------

    /// Sends a Ping to `to`; `target` is the receiver's entry as we hold it (piggybacked first),
    /// `forward_to` the asking member when we probe for someone else.
    pub(super) fn send_ping(
        &mut self,
        to: SocketAddr,
        target: Option<Membership>,
        forward_to: Option<Member>,
    ) {
        let payload = SwimPayload::Ping(wire::Ping {
            from: Some(wire::Member::from(&self.me)),
            forward_to: forward_to.as_ref().map(wire::Member::from),
            ..Default::default()
        });
        self.send_swim(to, SwimType::Ping, payload, target);
    }

    /// Builds a SWIM message with piggybacked membership — the receiver's own entry first, then
    /// the least-sent queued updates — within `max_datagram_size`, and sends it.
    fn send_swim(
        &mut self,
        to: SocketAddr,
        kind: SwimType,
        payload: SwimPayload,
        target: Option<Membership>,
    ) {
        self.send_swim_with(to, kind, payload, target, &[]);
    }

    /// [`send_swim`](Self::send_swim) with `corrections` piggybacked right after the target's
    /// entry.
    fn send_swim_with(
        &mut self,
        to: SocketAddr,
        kind: SwimType,
        payload: SwimPayload,
        target: Option<Membership>,
        corrections: &[Membership],
    ) {
        let seq = self.next_seq();
        self.send_swim_numbered(to, kind, payload, target, corrections, seq);
    }

    /// The number of the next datagram we author, with a ring key (see `replay.rs`).
    pub(crate) fn next_seq(&mut self) -> Option<u64> {
        self.ring_seal.keyring()?;
        let seq = crate::replay::seq(self.me.incarnation, self.authored);
        self.authored += 1;
        Some(seq)
    }

    /// With a ring key, drops a datagram whose author already used its number (a replay).
    /// Datagrams without a number (from peers that predate it) pass.
    fn check_replay(&mut self, swim: &Swim) -> Result<(), DropReason> {
        let (Some(seq), Some(_)) = (swim.seq, self.ring_seal.keyring()) else {
            return Ok(());
        };
        let from = match &swim.payload {
            Some(SwimPayload::Ping(p)) => p.from.as_ref(),
            Some(SwimPayload::Ack(a)) => a.from.as_ref(),
            Some(SwimPayload::Pingreq(r)) => r.from.as_ref(),
            Some(SwimPayload::Nack(n)) => n.from.as_ref(),
            Some(SwimPayload::ProbePing(p)) => p.from.as_ref(),
            None => None,
        };
        let author: MemberId = from
            .and_then(|m| m.id.as_deref())
            .and_then(|id| id.parse().ok())
            .ok_or(DropReason::Invalid)?;
        if self.replays.admit(author, seq, self.config.max_members) {
            Ok(())
        } else {
            Err(DropReason::Replayed)
        }
    }

    /// Sends a datagram numbered `seq` (ours, or the author's when relaying its Ack).
    fn send_swim_numbered(
        &mut self,
        to: SocketAddr,
        kind: SwimType,
        payload: SwimPayload,
        target: Option<Membership>,
        corrections: &[Membership],
        seq: Option<u64>,
    ) {
        let mut swim = Swim {
            r#type: kind as i32,
            seq,
            extensions: self.compat().then_some(true),
            membership: Vec::new(),
            payload: Some(payload),
        };
        let size = prost::Message::encoded_len(&swim);
        swim.membership = self.piggyback(target, corrections, size);
        if self.legacy_peer(to) {
            // Butterfly panics on a record whose `address:port` it cannot parse.
            swim.membership
                .retain(crate::engine::compat::butterfly_can_address);
        }
        let bytes = wire::seal_plain(&swim);
        self.send_datagram(to, bytes);
    }
}
