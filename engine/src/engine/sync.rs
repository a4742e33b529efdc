//! The stream channel: every frame received on a gossip stream, and what the two
//! anti-entropy exchanges share. Membership rumors (a departing member's farewell and the
//! gossip channel's pushes) and membership exchanges are in `member_sync.rs`, which repair what
//! piggybacking missed (late joiners, the two halves of a healed partition); the other rumors
//! (alone or batched) in `rumors.rs`; rumor anti-entropy in `rumor_sync.rs`.

use std::net::SocketAddr;

use crate::engine::Engine;
use crate::id::MemberId;
use crate::membership::PULL_TRIGGER;
use crate::metrics::{Channel, DropReason};
use crate::network::Network;
use crate::time::{Clock, Instant};
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
    /// The last digest exchange a push triggered (pull-first: at most one per protocol
    /// period).
    pub(super) pulled_at: Option<Instant>,
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
        // In compat mode a rumor's `from_id` names its originator (Butterfly's meaning), which
        // may be us (an election we lead, our own service): only swallowtail's exchanges and
        // batches name their sender there.
        let names_sender = !self.compat()
            || matches!(
                rumor.payload,
                Some(
                    RumorPayload::MemberSync(_)
                        | RumorPayload::RumorSync(_)
                        | RumorPayload::Batch(_)
                )
            );
        if names_sender && sender == Some(self.me.id) {
            return self.drop_input(DropReason::NotForUs);
        }
        let learned = self.metrics.member_records_learned;
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
        if matches!(
            rumor.payload,
            Some(RumorPayload::Member(_) | RumorPayload::Batch(_))
        ) && self.metrics.member_records_learned - learned >= PULL_TRIGGER
        {
            self.pull_from_pusher(self.reply_address(sender, from));
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

    /// Sends one stream frame from us: `payload` in a [`Rumor`] envelope of type `kind`.
    pub(super) fn send_frame(&mut self, to: SocketAddr, kind: RumorType, payload: RumorPayload) {
        let rumor = Rumor {
            r#type: kind as i32,
            tag: Vec::new(),
            from_id: Some(self.me.id.to_string()),
            payload: Some(payload),
        };
        if self.legacy_peer(to) {
            if matches!(kind, RumorType::MemberSync | RumorType::RumorSync) {
                self.metrics.compat_withheld += 1;
                return;
            }
            return self.send_to_legacy(to, rumor);
        }
        let bytes = wire::seal_plain(&rumor);
        self.send_stream(to, bytes);
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

    /// Where to answer a stream message: the sender's gossip listener if we know the sender,
    /// else the transport's address.
    pub(super) fn reply_address(&self, sender: Option<MemberId>, from: SocketAddr) -> SocketAddr {
        sender
            .and_then(|id| self.view.members.get(id))
            .map_or(from, |m| m.member.gossip_addr())
    }
}

/// The stages of a digest exchange (`MemberSync.stage` and `RumorSync.stage` on the wire);
/// membership and rumors take the same three steps (membership a fourth after a summary
/// answer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stage {
    /// The initiator's bucket hashes (of its view, or of its rumor store).
    Buckets = 1,
    /// The answer: the buckets that differ, and the answerer's entries in them (member
    /// records, or rumor key hashes with versions).
    Answer = 2,
    /// The initiator's last word: its member records the answer did not show, or the key
    /// hashes of the rumors it wants.
    FollowUp = 3,
    /// Membership only, after a summary answer: the answerer's records the initiator asked
    /// for in its follow-up.
    Records = 4,
}

impl Stage {
    pub(super) fn from_wire(stage: u32) -> Option<Self> {
        [Self::Buckets, Self::Answer, Self::FollowUp, Self::Records]
            .into_iter()
            .find(|s| *s as u32 == stage)
    }

    pub(super) fn wire(self) -> Option<u32> {
        Some(self as u32)
    }
}
