//! The stream channel: membership rumors (a departing member's farewell), full membership
//! exchanges (anti-entropy, as memberlist's push/pull), which repair what piggybacking missed
//! (late joiners, the two halves of a healed partition), the other rumors (alone or batched),
//! and rumor anti-entropy.
//!
//! Rumor anti-entropy (the `bounded` strategy) compares digests instead of whole stores:
//!
//! ```text
//!  A (initiator)                                   B
//!  ── RumorSync 1: bucket hashes ─────────────────▶   B hashes its own rumors the same way
//!  ◀──────── RumorSync 2: B's (key hash, version) ─   only in the buckets that differ
//!  ── rumors B lacks or holds older (batches) ────▶
//!  ── RumorSync 3: key hashes A wants ────────────▶
//!  ◀──────────────── the rumors A wants (batches) ─
//! ```
//!
//! Two members that agree exchange one message of about one byte per rumor; members that
//! differ send each other exactly what the other lacks. It runs every
//! `anti_entropy_interval` (scaled like push/pull beyond 32 members) with one random live
//! member, and at once with a member met for the first time or back from Confirmed (alongside
//! the membership push/pull), so a late joiner or a healed partition converges without a
//! flood.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use crate::engine::Engine;
use crate::id::MemberId;
use crate::member::{Health, Membership};
use crate::membership::Cause;
use crate::metrics::{Channel, DropReason};
use crate::network::Network;
use crate::rumor::{Digest, DigestEntry, Rumor as StoredRumor};
use crate::time::{Clock, Instant};
use crate::timer::Timer;
use crate::wire::{self, Rumor, RumorPayload, RumorType};

/// When the anti-entropy exchanges are due. Each runs as a check riding on the next direct
/// probe (our hash on the Ping, the target's on its Ack), and its period doubles, up to 8×,
/// for each check in a row that found nothing to repair since our side last changed.
#[derive(Clone, Debug, Default)]
pub(crate) struct AntiEntropy {
    /// Membership checks in a row that found the views equal since our view last changed
    /// (`view_seen`, the hash of the whole view).
    pub(super) member_quiet: u32,
    pub(super) view_seen: u64,
    /// A membership check is due.
    pub(super) view_check: bool,
    /// Rumor exchanges in a row that found nothing to repair since the store last changed
    /// (`changes_seen`, the store's change count).
    pub(super) rumor_quiet: u32,
    pub(super) changes_seen: u64,
    /// A rumor check is due.
    pub(super) rumor_check: bool,
    /// The last extra rumor pull made while an election was in progress.
    pub(super) election_pull_at: Option<Instant>,
}

impl<C: Clock, N: Network> Engine<C, N> {
    /// Handles one frame received on a gossip stream; `from` is the peer's address as the
    /// transport knows it (used only when the frame does not say who sent it).
    pub fn handle_stream(&mut self, from: SocketAddr, bytes: &[u8]) {
        self.metrics.record_received(Channel::Stream, bytes.len());
        if bytes.len() > self.config.max_stream_frame_size {
            return self.drop_input(DropReason::Oversized);
        }
        if self.departed {
            return self.drop_input(DropReason::SelfDeparted);
        }
        let rumor: Rumor = match self.open_wire(bytes) {
            Ok(r) => r,
            Err(reason) => return self.drop_input(reason),
        };
        let sender: Option<MemberId> = rumor.from_id.as_deref().and_then(|s| s.parse().ok());
        if sender == Some(self.me.id) {
            return self.drop_input(DropReason::NotForUs);
        }
        match &rumor.payload {
            Some(RumorPayload::Member(m)) => self.apply_wire_record(m),
            Some(RumorPayload::MemberSync(sync)) => {
                if let Err(reason) = self.on_member_sync(from, sender, sync) {
                    self.drop_input(reason);
                }
            }
            Some(RumorPayload::Batch(batch)) => {
                for inner in &batch.rumors {
                    match &inner.payload {
                        Some(RumorPayload::Member(m)) => self.apply_wire_record(m),
                        // No nesting, no exchanges inside a batch.
                        Some(
                            RumorPayload::Batch(_)
                            | RumorPayload::MemberSync(_)
                            | RumorPayload::RumorSync(_),
                        )
                        | None => self.drop_input(DropReason::Invalid),
                        Some(_) => self.receive_rumor(inner),
                    }
                }
            }
            Some(RumorPayload::RumorSync(sync)) => {
                let reply_to = self.reply_address(sender, from);
                if let Err(reason) = self.on_rumor_sync(reply_to, sync) {
                    self.drop_input(reason);
                }
            }
            Some(_) => self.receive_rumor(&rumor),
            None => self.drop_input(DropReason::Invalid),
        }
    }

    /// Starts a membership exchange with the gossip listener at `to` (a digest exchange, see
    /// [`Self::on_member_sync`]); also starts a rumor anti-entropy exchange (bounded strategy).
    pub(crate) fn push_pull_with(&mut self, to: SocketAddr) {
        self.start_member_digest(to);
        if self.dissemination.anti_entropy() {
            self.start_rumor_sync(to);
        }
    }

    /// Membership anti-entropy, in three stages like the rumor exchange:
    ///
    /// ```text
    ///  A (initiator)                                    B
    ///  ── MemberSync 1: bucket hashes of A's view ────▶   B hashes its own view the same way
    ///  ◀─ MemberSync 2: differing buckets + B's records ─  (nothing else when the views agree)
    ///  ── MemberSync 3: A's records there that B lacks ▶
    /// ```
    ///
    /// Each side counts itself in its view, so two members that agree exchange one bucket hash
    /// per eight members instead of their whole views (memberlist's push/pull sends the whole
    /// state both ways every time). A newcomer's view differs everywhere and gets the whole
    /// view. A `MemberSync` without a stage is the full exchange, answered in kind.
    /// A peer that knows no stages sends only that.
    fn on_member_sync(
        &mut self,
        from: SocketAddr,
        sender: Option<MemberId>,
        sync: &wire::MemberSync,
    ) -> Result<(), DropReason> {
        let Some(stage) = sync.stage else {
            let sender_addr = self.apply_member_records(sender, &sync.members)?;
            if !sync.reply.unwrap_or(false) {
                self.send_member_sync(sender_addr.unwrap_or(from), true);
            }
            return Ok(());
        };
        let count = sync.bucket_count.unwrap_or(0);
        if !count.is_power_of_two() || count > crate::rumor::MAX_BUCKETS {
            return Err(DropReason::Invalid);
        }
        match Stage::from_wire(stage).ok_or(DropReason::Invalid)? {
            Stage::Buckets => self.answer_member_buckets(from, sender, sync, count),
            Stage::Answer => self.on_member_answer(from, sender, sync, count),
            Stage::FollowUp => {
                self.apply_member_records(sender, &sync.members)?;
                Ok(())
            }
        }
    }

    /// Stage 1 received: answer with the buckets that differ and our records in them.
    fn answer_member_buckets(
        &mut self,
        from: SocketAddr,
        sender: Option<MemberId>,
        sync: &wire::MemberSync,
        count: u32,
    ) -> Result<(), DropReason> {
        let own = self.own_record();
        if sync.buckets.len() != count as usize {
            return Err(DropReason::Invalid);
        }
        // The initiator spoke to us: it is alive, whatever we held.
        if let Some(held) = sender.and_then(|id| self.view.members.get(id)) {
            self.note_direct_contact(&held.member, Cause::DirectContact)?;
        }
        let ours = self.view.members.view_buckets(&own, count);
        let wanted: Vec<bool> = ours
            .iter()
            .zip(&sync.buckets)
            .map(|(a, b)| a != b)
            .collect();
        let members = self
            .view
            .members
            .in_view_buckets(&own, &wanted, count)
            .iter()
            .map(wire::Membership::from)
            .collect();
        let differing = (0..count).filter(|&b| wanted[b as usize]).collect();
        let to = self.reply_address(sender, from);
        self.send_member_digest(
            to,
            wire::MemberSync {
                reply: Some(true),
                members,
                stage: Stage::Answer.wire(),
                bucket_count: Some(count),
                buckets: Vec::new(),
                differing,
            },
        );
        Ok(())
    }

    /// Stage 2 received: merge the answer's records, then send back ours in the differing
    /// buckets that it did not already show.
    fn on_member_answer(
        &mut self,
        from: SocketAddr,
        sender: Option<MemberId>,
        sync: &wire::MemberSync,
        count: u32,
    ) -> Result<(), DropReason> {
        let mut wanted = vec![false; count as usize];
        for &b in &sync.differing {
            *wanted.get_mut(b as usize).ok_or(DropReason::Invalid)? = true;
        }
        // What the answer showed, before merging it: ours that equal these are not sent back.
        let shown: std::collections::HashSet<u64> = sync
            .members
            .iter()
            .filter_map(|m| Membership::try_from(m).ok())
            .map(|m| crate::member_list::view_hash(&m))
            .collect();
        let sender_addr = self.apply_member_records(sender, &sync.members)?;
        if sync.differing.is_empty() {
            // The views agree: the next periodic exchange may wait longer.
            self.anti_entropy.member_quiet = self.anti_entropy.member_quiet.saturating_add(1);
            return Ok(());
        }
        let own = self.own_record(); // a refutation above may have bumped it
        let members: Vec<wire::Membership> = self
            .view
            .members
            .in_view_buckets(&own, &wanted, count)
            .iter()
            .filter(|m| !shown.contains(&crate::member_list::view_hash(m)))
            .map(wire::Membership::from)
            .collect();
        if !members.is_empty() {
            let to = sender_addr.unwrap_or_else(|| self.reply_address(sender, from));
            self.send_member_digest(
                to,
                wire::MemberSync {
                    reply: Some(true),
                    members,
                    stage: Stage::FollowUp.wire(),
                    bucket_count: Some(count),
                    buckets: Vec::new(),
                    differing: Vec::new(),
                },
            );
        }
        Ok(())
    }

    /// Merges the records of a membership exchange; the sender's own record counts as direct
    /// contact. Returns the sender's gossip address if its record was among them.
    fn apply_member_records(
        &mut self,
        sender: Option<MemberId>,
        records: &[wire::Membership],
    ) -> Result<Option<SocketAddr>, DropReason> {
        let mut sender_addr = None;
        for entry in records {
            match Membership::try_from(entry) {
                Ok(m) => {
                    if Some(m.member.id) == sender {
                        sender_addr = Some(m.member.gossip_addr());
                        // The sender spoke to us: it is alive, whatever we held.
                        self.note_direct_contact(&m.member, Cause::DirectContact)?;
                    }
                    self.apply_membership(m, Cause::Gossip);
                }
                Err(reason) => self.drop_input(reason),
            }
        }
        Ok(sender_addr)
    }

    /// Stage 1 of the membership digest exchange.
    fn start_member_digest(&mut self, to: SocketAddr) {
        self.metrics.push_pulls += 1;
        let count = crate::rumor::Digest::bucket_count_for(self.view.members.len() + 1);
        let buckets = self.view.members.view_buckets(&self.own_record(), count);
        self.send_member_digest(
            to,
            wire::MemberSync {
                reply: Some(false),
                members: Vec::new(),
                stage: Stage::Buckets.wire(),
                bucket_count: Some(count),
                buckets,
                differing: Vec::new(),
            },
        );
    }

    fn send_member_digest(&mut self, to: SocketAddr, sync: wire::MemberSync) {
        self.send_frame(to, RumorType::MemberSync, RumorPayload::MemberSync(sync));
    }

    /// Sends one stream frame from us: `payload` in a [`Rumor`] envelope of type `kind`.
    pub(super) fn send_frame(&mut self, to: SocketAddr, kind: RumorType, payload: RumorPayload) {
        let rumor = Rumor {
            r#type: kind as i32,
            tag: Vec::new(),
            from_id: Some(self.me.id.to_string()),
            payload: Some(payload),
        };
        let bytes = wire::seal_plain(&rumor);
        self.send_stream(to, bytes);
    }

    /// The full exchange: our whole view (ourselves included), answered with the receiver's
    /// unless `reply`.
    fn send_member_sync(&mut self, to: SocketAddr, reply: bool) {
        let mut members = Vec::with_capacity(self.view.members.len() + 1);
        members.push(wire::Membership::from(&self.own_record()));
        members.extend(self.view.members.iter().map(|m| wire::Membership::from(&m)));
        self.send_member_digest(
            to,
            wire::MemberSync {
                reply: Some(reply),
                members,
                ..Default::default()
            },
        );
    }

    /// The periodic membership anti-entropy check. It rides on the next direct probe of a
    /// member we hold Alive (a random one: the probe order is shuffled): the Ping carries the
    /// hash of our whole view, the Ack the target's, and only views that differ start the
    /// digest exchange over a stream ([`Self::on_check_answer`]). Its period doubles for each
    /// check in a row that found the views equal (up to 8×) and comes back to the base period
    /// from the first check after our view changes. A ring at rest so pays one hash on a Ping
    /// and one on its Ack per period instead of a stream exchange.
    pub(super) fn periodic_push_pull(&mut self) {
        let whole = self.view_hash();
        if whole != self.anti_entropy.view_seen {
            self.anti_entropy.view_seen = whole;
            self.anti_entropy.member_quiet = 0;
        }
        self.anti_entropy.view_check = true;
    }

    /// The hash of our whole membership view, our own record included (two members that
    /// agree on everyone have the same).
    pub(super) fn view_hash(&self) -> u64 {
        let own = self.own_record();
        self.view
            .members
            .view_buckets(&own, 1)
            .first()
            .copied()
            .unwrap_or(0)
    }

    /// The hash of our whole rumor store (two members holding the same rumors have the same).
    pub(super) fn rumor_hash(&self) -> u64 {
        Digest::of(&self.rumors)
            .buckets(1)
            .first()
            .copied()
            .unwrap_or(0)
    }

    /// The target of our probe answered the anti-entropy checks its Ping carried (`None`: it
    /// did not, being a peer that predates them). Equal hashes end the check; anything else
    /// starts the digest exchange with it over a stream.
    pub(super) fn on_check_answer(
        &mut self,
        from: &crate::member::Member,
        view: Option<u64>,
        rumors: Option<u64>,
    ) {
        if std::mem::take(&mut self.probe.view_asked) {
            self.anti_entropy.view_check = false;
            if view == Some(self.view_hash()) {
                self.anti_entropy.member_quiet = self.anti_entropy.member_quiet.saturating_add(1);
            } else {
                self.start_member_digest(from.gossip_addr());
            }
        }
        if std::mem::take(&mut self.probe.rumors_asked) {
            self.anti_entropy.rumor_check = false;
            if rumors == Some(self.rumor_hash()) {
                if self.rumors.changes() == self.anti_entropy.changes_seen {
                    self.anti_entropy.rumor_quiet = self.anti_entropy.rumor_quiet.saturating_add(1);
                }
            } else {
                self.start_rumor_sync(from.gossip_addr());
            }
        }
    }

    /// Sends one membership record as a Member rumor over a stream.
    pub(crate) fn send_member_rumor(&mut self, to: SocketAddr, record: &Membership) {
        let payload = RumorPayload::Member(wire::Membership::from(record));
        self.send_frame(to, RumorType::Member, payload);
    }

    // ----- rumor anti-entropy --------------------------------------------------------------

    /// The rumor anti-entropy period: `anti_entropy_interval` whatever the ring size, doubled
    /// for each exchange in a row that found the stores equal (up to 8×) while our store has
    /// not changed since: a ring at rest stops paying for repairs it does not need, and any
    /// new rumor brings the base period back.
    pub(super) fn anti_entropy_interval(&self) -> Duration {
        // Not stretched with the ring size (unlike the full membership exchange): a digest is
        // a fixed number of bucket hashes however many members there are, and a stretched
        // period leaves the last members of a big ring waiting that long for a rumor.
        self.config.anti_entropy_interval * (1u32 << self.anti_entropy.rumor_quiet.min(3))
    }

    pub(super) fn on_anti_entropy_tick(&mut self) {
        // One peer agreeing says little about the rest of the ring: relax only while our store
        // is still and holds no election in progress.
        if self.rumors.changes() != self.anti_entropy.changes_seen || self.electing() {
            self.anti_entropy.changes_seen = self.rumors.changes();
            self.anti_entropy.rumor_quiet = 0;
        }
        let next = self.now() + self.anti_entropy_interval();
        self.timers.schedule(next, Timer::AntiEntropy);
        // Like the membership check, the rumor check rides on the next probe.
        self.anti_entropy.rumor_check = true;
    }

    /// Starts a rumor digest exchange with one random live member, if we know one.
    pub(super) fn rumor_sync_with_random_member(&mut self) {
        let picked = self.random_members(1, None, |h, _| h == Health::Alive);
        if let Some(m) = picked.first().and_then(|&i| self.view.members.at(i)) {
            self.start_rumor_sync(m.member.gossip_addr());
        }
    }

    /// Whether our store holds an election that has not finished.
    fn electing(&self) -> bool {
        self.rumors.iter().any(|(_, r)| {
            matches!(r, StoredRumor::Election(e) | StoredRumor::ElectionUpdate(e) if !e.is_finished())
        })
    }

    /// While an election is in progress, a rumor pull every `max(3 gossip rounds, protocol
    /// period)` on top of the anti-entropy timer: a vote pushed a bounded number of times can
    /// miss the candidate under loss, and the members the next periodic exchange happens to
    /// pick may not hold it either, so an election repaired only by the periodic exchange
    /// can stall for many periods.
    pub(super) fn pull_while_electing(&mut self) {
        let every = (self.config.gossip_interval * 3).max(self.config.protocol_period);
        let now = self.now();
        if self
            .anti_entropy
            .election_pull_at
            .is_some_and(|at| now < at + every)
            || !self.electing()
        {
            return;
        }
        self.anti_entropy.election_pull_at = Some(now);
        self.rumor_sync_with_random_member();
    }

    /// Stage 1: our bucket hashes.
    pub(super) fn start_rumor_sync(&mut self, to: SocketAddr) {
        self.metrics.anti_entropy_syncs += 1;
        let digest = Digest::of(&self.rumors);
        let count = Digest::bucket_count_for(self.rumors.len());
        let sync = wire::RumorSync {
            stage: Stage::Buckets.wire(),
            bucket_count: Some(count),
            buckets: digest.buckets(count),
            ..Default::default()
        };
        self.send_sync(to, sync);
    }

    fn on_rumor_sync(&mut self, to: SocketAddr, sync: &wire::RumorSync) -> Result<(), DropReason> {
        let count = sync.bucket_count.unwrap_or(0);
        if !count.is_power_of_two() || count > crate::rumor::MAX_BUCKETS {
            return Err(DropReason::Invalid);
        }
        let stage = sync.stage.and_then(Stage::from_wire);
        match stage.ok_or(DropReason::Invalid)? {
            Stage::Buckets => {
                if sync.buckets.len() != count as usize {
                    return Err(DropReason::Invalid);
                }
                let digest = Digest::of(&self.rumors);
                let ours = digest.buckets(count);
                let differing: BTreeSet<u32> = (0..count)
                    .filter(|&i| ours[i as usize] != sync.buckets[i as usize])
                    .collect();
                // An empty answer still tells the other side it lacks nothing (a candidate in
                // an election waits for that before it may finish).
                let entries = digest.entries_in(&differing, count);
                let reply = wire::RumorSync {
                    stage: Stage::Answer.wire(),
                    bucket_count: Some(count),
                    differing: differing.into_iter().collect(),
                    key_hashes: entries.iter().map(|e| e.key_hash).collect(),
                    versions: entries.iter().map(|e| e.version).collect(),
                    ..Default::default()
                };
                self.send_sync(to, reply);
            }
            Stage::Answer => {
                if sync.key_hashes.len() != sync.versions.len()
                    || sync.differing.iter().any(|&b| b >= count)
                {
                    return Err(DropReason::Invalid);
                }
                let buckets: BTreeSet<u32> = sync.differing.iter().copied().collect();
                let theirs: Vec<DigestEntry> = sync
                    .key_hashes
                    .iter()
                    .zip(&sync.versions)
                    .map(|(&key_hash, &version)| DigestEntry { key_hash, version })
                    .collect();
                let now = self.now();
                self.elections.note_pull(now);
                if sync.differing.is_empty()
                    && self.rumors.changes() == self.anti_entropy.changes_seen
                {
                    self.anti_entropy.rumor_quiet = self.anti_entropy.rumor_quiet.saturating_add(1);
                }
                let (give, want) = Digest::of(&self.rumors).compare(&buckets, count, &theirs);
                let keys = crate::rumor::keys_with_hashes(&self.rumors, &give);
                self.send_rumors(to, &keys);
                if !want.is_empty() {
                    let reply = wire::RumorSync {
                        stage: Stage::FollowUp.wire(),
                        bucket_count: Some(count),
                        key_hashes: want.into_iter().collect(),
                        ..Default::default()
                    };
                    self.send_sync(to, reply);
                }
            }
            Stage::FollowUp => {
                let want: BTreeSet<u64> = sync.key_hashes.iter().copied().collect();
                let keys = crate::rumor::keys_with_hashes(&self.rumors, &want);
                self.send_rumors(to, &keys);
            }
        }
        Ok(())
    }

    fn send_sync(&mut self, to: SocketAddr, sync: wire::RumorSync) {
        self.send_frame(to, RumorType::RumorSync, RumorPayload::RumorSync(sync));
    }

    /// Where to answer a stream message: the sender's gossip listener if we know the sender,
    /// else the transport's address.
    fn reply_address(&self, sender: Option<MemberId>, from: SocketAddr) -> SocketAddr {
        sender
            .and_then(|id| self.view.members.get(id))
            .map_or(from, |m| m.member.gossip_addr())
    }
}

/// The stages of a digest exchange (`MemberSync.stage` and `RumorSync.stage` on the wire);
/// membership and rumors take the same three steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// The initiator's bucket hashes (of its view, or of its rumor store).
    Buckets = 1,
    /// The answer: the buckets that differ, and the answerer's entries in them (member
    /// records, or rumor key hashes with versions).
    Answer = 2,
    /// The initiator's last word: its member records the answer did not show, or the key
    /// hashes of the rumors it wants.
    FollowUp = 3,
}

impl Stage {
    fn from_wire(stage: u32) -> Option<Self> {
        [Self::Buckets, Self::Answer, Self::FollowUp]
            .into_iter()
            .find(|s| *s as u32 == stage)
    }

    fn wire(self) -> Option<u32> {
        Some(self as u32)
    }
}
