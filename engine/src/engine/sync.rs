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
use crate::metrics::{Channel, DropReason};
use crate::network::Network;
use crate::rumor::{Digest, DigestEntry};
use crate::time::Clock;
use crate::timer::Timer;
use crate::wire::{self, Rumor, RumorPayload, RumorType};

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
            Some(RumorPayload::Member(m)) => match Membership::try_from(m) {
                Ok(m) => self.apply_membership(m),
                Err(reason) => self.drop_input(reason),
            },
            Some(RumorPayload::MemberSync(sync)) => {
                let mut sender_addr = None;
                for entry in &sync.members {
                    match Membership::try_from(entry) {
                        Ok(m) => {
                            if Some(m.member.id) == sender {
                                sender_addr = Some(m.member.gossip_addr());
                                // The sender spoke to us: it is alive, whatever we held.
                                if let Err(reason) = self.note_direct_contact(&m.member) {
                                    return self.drop_input(reason);
                                }
                            }
                            self.apply_membership(m);
                        }
                        Err(reason) => self.drop_input(reason),
                    }
                }
                if !sync.reply.unwrap_or(false) {
                    self.push_pull_with(sender_addr.unwrap_or(from), true);
                }
            }
            Some(RumorPayload::Batch(batch)) => {
                for inner in &batch.rumors {
                    match &inner.payload {
                        Some(RumorPayload::Member(m)) => match Membership::try_from(m) {
                            Ok(m) => self.apply_membership(m),
                            Err(reason) => self.drop_input(reason),
                        },
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

    /// Sends our whole view (ourselves included) to the gossip listener at `to`; the receiver
    /// merges it and, unless `reply`, answers with its own. An initiator also starts a rumor
    /// anti-entropy exchange with `to` (bounded strategy).
    pub(super) fn push_pull_with(&mut self, to: SocketAddr, reply: bool) {
        self.send_member_sync(to, reply);
        if !reply && self.dissemination.anti_entropy() {
            self.start_rumor_sync(to);
        }
    }

    fn send_member_sync(&mut self, to: SocketAddr, reply: bool) {
        if !reply {
            self.metrics.push_pulls += 1;
        }
        let mut members = Vec::with_capacity(self.members.len() + 1);
        members.push(wire::Membership::from(&self.own_record()));
        members.extend(self.members.iter().map(|m| wire::Membership::from(&m)));
        let rumor = Rumor {
            r#type: RumorType::MemberSync as i32,
            tag: Vec::new(),
            from_id: Some(self.me.id.to_string()),
            payload: Some(RumorPayload::MemberSync(wire::MemberSync {
                reply: Some(reply),
                members,
            })),
        };
        let bytes = wire::seal_plain(&rumor);
        self.send_stream(to, bytes);
    }

    /// The periodic anti-entropy exchange with one random live member.
    pub(super) fn periodic_push_pull(&mut self) {
        let picked = self.random_members(1, None, |h, _| h == Health::Alive);
        if let Some(m) = picked.first().and_then(|&i| self.members.at(i)) {
            // Rumor anti-entropy has its own timer.
            self.send_member_sync(m.member.gossip_addr(), false);
        }
    }

    /// Sends one membership record as a Member rumor over a stream.
    pub(super) fn send_member_rumor(&mut self, to: SocketAddr, record: &Membership) {
        let rumor = Rumor {
            r#type: RumorType::Member as i32,
            tag: Vec::new(),
            from_id: Some(self.me.id.to_string()),
            payload: Some(RumorPayload::Member(wire::Membership::from(record))),
        };
        let bytes = wire::seal_plain(&rumor);
        self.send_stream(to, bytes);
    }

    // ----- rumor anti-entropy --------------------------------------------------------------

    /// The rumor anti-entropy period: `anti_entropy_interval` whatever the ring size.
    pub(super) fn anti_entropy_interval(&self) -> Duration {
        // Not stretched with the ring size (unlike the full membership exchange): a digest is
        // a fixed number of bucket hashes however many members there are, and stretching it to
        // 60 s at 1,000 members left the last members waiting a minute for a rumor.
        self.config.anti_entropy_interval
    }

    pub(super) fn on_anti_entropy_tick(&mut self) {
        let next = self.now() + self.anti_entropy_interval();
        self.timers.schedule(next, Timer::AntiEntropy);
        let picked = self.random_members(1, None, |h, _| h == Health::Alive);
        if let Some(m) = picked.first().and_then(|&i| self.members.at(i)) {
            self.start_rumor_sync(m.member.gossip_addr());
        }
    }

    /// Stage 1: our bucket hashes.
    pub(super) fn start_rumor_sync(&mut self, to: SocketAddr) {
        self.metrics.anti_entropy_syncs += 1;
        let digest = Digest::of(&self.rumors);
        let count = Digest::bucket_count_for(self.rumors.len());
        let sync = wire::RumorSync {
            stage: Some(1),
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
        match sync.stage {
            Some(1) => {
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
                    stage: Some(2),
                    bucket_count: Some(count),
                    differing: differing.into_iter().collect(),
                    key_hashes: entries.iter().map(|e| e.key_hash).collect(),
                    versions: entries.iter().map(|e| e.version).collect(),
                    ..Default::default()
                };
                self.send_sync(to, reply);
            }
            Some(2) => {
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
                let (give, want) = Digest::of(&self.rumors).compare(&buckets, count, &theirs);
                let keys = crate::rumor::keys_with_hashes(&self.rumors, &give);
                self.send_rumors(to, &keys);
                if !want.is_empty() {
                    let reply = wire::RumorSync {
                        stage: Some(3),
                        bucket_count: Some(count),
                        key_hashes: want.into_iter().collect(),
                        ..Default::default()
                    };
                    self.send_sync(to, reply);
                }
            }
            Some(3) => {
                let want: BTreeSet<u64> = sync.key_hashes.iter().copied().collect();
                let keys = crate::rumor::keys_with_hashes(&self.rumors, &want);
                self.send_rumors(to, &keys);
            }
            _ => return Err(DropReason::Invalid),
        }
        Ok(())
    }

    fn send_sync(&mut self, to: SocketAddr, sync: wire::RumorSync) {
        let rumor = Rumor {
            r#type: RumorType::RumorSync as i32,
            tag: Vec::new(),
            from_id: Some(self.me.id.to_string()),
            payload: Some(RumorPayload::RumorSync(sync)),
        };
        let bytes = wire::seal_plain(&rumor);
        self.send_stream(to, bytes);
    }

    /// Where to answer a stream message: the sender's gossip listener if we know the sender,
    /// else the transport's address.
    fn reply_address(&self, sender: Option<MemberId>, from: SocketAddr) -> SocketAddr {
        sender
            .and_then(|id| self.members.get(id))
            .map_or(from, |m| m.member.gossip_addr())
    }
}
