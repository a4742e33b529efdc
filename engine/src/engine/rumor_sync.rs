//! Rumor anti-entropy (the `bounded` strategy, and pulls while an election runs) compares
//! digests instead of whole stores:
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
//! `anti_entropy_interval` (whatever the ring size) with one random live member, and at once with a member met for the first time or back from Confirmed (alongside
//! the membership push/pull), so a late joiner or a healed partition converges without a
//! flood.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use super::sync::Stage;
use crate::engine::Engine;
use crate::member::Health;
use crate::metrics::DropReason;
use crate::network::Network;
use crate::rumor::{Digest, DigestEntry, Rumor as StoredRumor};
use crate::time::Clock;
use crate::timer::Timer;
use crate::wire::{self, RumorPayload, RumorType};

impl<C: Clock, N: Network> Engine<C, N> {
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
        let picked = self.random_members(1, None, |h, _, _| h == Health::Alive);
        if let Some(m) = picked.first().and_then(|&i| self.view.members.at(i)) {
            self.start_rumor_sync(m.member.gossip_addr());
        }
    }

    /// Whether our store holds an election that has not finished.
    pub(super) fn electing(&self) -> bool {
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
        if self.legacy_peer(to) {
            // A Butterfly peer cannot take part in a digest exchange, and Butterfly's own
            // per-member heat gives every member every rumor: it gets the whole store.
            let keys: Vec<_> = self.rumors.iter().map(|(k, _)| k.clone()).collect();
            return self.send_rumors(to, &keys);
        }
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

    pub(super) fn on_rumor_sync(
        &mut self,
        to: SocketAddr,
        sync: &wire::RumorSync,
    ) -> Result<(), DropReason> {
        let count = sync.bucket_count.unwrap_or(0);
        if !count.is_power_of_two() || count > crate::rumor::MAX_BUCKETS {
            return Err(DropReason::Invalid);
        }
        let stage = sync.stage.and_then(Stage::from_wire);
        match stage.ok_or(DropReason::Invalid)? {
            Stage::Buckets => self.answer_rumor_buckets(to, sync, count),
            Stage::Answer => self.on_rumor_answer(to, sync, count),
            Stage::FollowUp => {
                let want: BTreeSet<u64> = sync.key_hashes.iter().copied().collect();
                let keys = crate::rumor::keys_with_hashes(&self.rumors, &want);
                self.send_rumors(to, &keys);
                Ok(())
            }
            Stage::Records => Err(DropReason::Invalid),
        }
    }

    /// Stage 1 received: answer with the buckets that differ and our (key hash, version) in
    /// them.
    fn answer_rumor_buckets(
        &mut self,
        to: SocketAddr,
        sync: &wire::RumorSync,
        count: u32,
    ) -> Result<(), DropReason> {
        if sync.buckets.len() != count as usize {
            return Err(DropReason::Invalid);
        }
        let digest = Digest::of(&self.rumors);
        let ours = digest.buckets(count);
        let differing: BTreeSet<u32> = (0..count)
            .filter(|&i| ours[i as usize] != sync.buckets[i as usize])
            .collect();
        // An empty answer still tells the other side it lacks nothing (a candidate in an
        // election waits for that before it may finish).
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
        Ok(())
    }

    /// Stage 2 received: send what the other side lacks or holds older, and ask for what we
    /// lack or hold older.
    fn on_rumor_answer(
        &mut self,
        to: SocketAddr,
        sync: &wire::RumorSync,
        count: u32,
    ) -> Result<(), DropReason> {
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
        if sync.differing.is_empty() && self.rumors.changes() == self.anti_entropy.changes_seen {
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
        Ok(())
    }

    pub(super) fn send_sync(&mut self, to: SocketAddr, sync: wire::RumorSync) {
        self.send_frame(to, RumorType::RumorSync, RumorPayload::RumorSync(sync));
    }

    /// The hash of our whole rumor store (two members holding the same rumors have the same).
    pub(super) fn rumor_hash(&self) -> u64 {
        Digest::of(&self.rumors)
            .buckets(1)
            .first()
            .copied()
            .unwrap_or(0)
    }
}
