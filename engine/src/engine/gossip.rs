//! The gossip round: every `gossip_interval`, rumors are pushed to members over streams as the
//! dissemination strategy selects them (`rumor/dissemination.rs`), in frames within
//! `max_stream_frame_size`, and queued membership updates ride along as Member rumors.

use std::net::SocketAddr;

use prost::Message;

use crate::broadcast::retransmit_limit;
use crate::engine::Engine;
use crate::member::{Health, Member};
use crate::network::Network;
use crate::rumor::{encode_rumor, RumorKey};
use crate::time::{Clock, Instant};
use crate::timer::Timer;
use crate::wire::{self, RumorPayload, RumorType};

/// Bytes a `Rumor` envelope adds around its content, with room for `from_id` and the
/// encrypted `Wire` (nonce and tag).
const FRAME_OVERHEAD: usize = 128;

impl<C: Clock, N: Network> Engine<C, N> {
    pub(super) fn schedule_rumor_timers(&mut self, now: Instant) {
        let jitter = self.jitter(self.config.gossip_interval);
        self.timers.schedule(now + jitter, Timer::GossipTick);
        if self.dissemination.anti_entropy() {
            let ae = self.anti_entropy_interval();
            let jitter = self.jitter(ae);
            self.timers.schedule(now + ae + jitter, Timer::AntiEntropy);
        }
    }

    /// One dissemination round: up to `gossip_fanout` live members that have something to
    /// receive get it.
    pub(super) fn on_gossip_tick(&mut self) {
        let next = self.now() + self.config.gossip_interval;
        self.timers.schedule(next, Timer::GossipTick);
        self.run_election_checks();
        self.pull_while_electing();
        self.gossip_membership();
        self.push_rumor_round();
    }

    /// A rumor became new to us: with `fresh_push` (bounded strategy), a push round a moment
    /// from now, one for however many arrive meanwhile.
    pub(super) fn schedule_fresh_push(&mut self) {
        if !self.config.fresh_push_on() || self.fresh_push_due {
            return;
        }
        self.fresh_push_due = true;
        let at = self.now() + self.config.gossip_interval / 50;
        self.timers.schedule(at, Timer::FreshPush);
    }

    /// The round [`Self::schedule_fresh_push`] asked for.
    pub(super) fn on_fresh_push(&mut self) {
        self.fresh_push_due = false;
        self.push_rumor_round();
    }

    /// Up to `gossip_fanout` random live members that have something to receive get it.
    pub(super) fn push_rumor_round(&mut self) {
        if self.rumors.is_empty() {
            return;
        }
        let fanout = self.config.gossip_fanout;
        let candidates = if self.dissemination.batches() {
            fanout
        } else {
            fanout.saturating_mul(3)
        };
        let picked = self.random_members(candidates, None, |h, _, _| {
            matches!(h, Health::Alive | Health::Suspect)
        });
        let mut sent = 0;
        for i in picked {
            if sent == fanout {
                break;
            }
            let Some(m) = self.view.members.at(i) else {
                continue;
            };
            if !self.dissemination.has_work_for(m.member.id) {
                continue;
            }
            if self.push_rumors_to(&m.member) {
                sent += 1;
            }
        }
    }

    /// Sends `target` what the strategy selects for it; whether anything was sent.
    pub(super) fn push_rumors_to(&mut self, target: &Member) -> bool {
        let limit = retransmit_limit(self.config.retransmit_mult, self.view.members.len() + 1);
        let budget = self.frame_budget();
        let batches = self.dissemination.batches();
        let Engine {
            rumors,
            dissemination,
            ..
        } = self;
        let mut frame: Vec<wire::Rumor> = Vec::new();
        let mut size = 0;
        let keys = dissemination.take_for(target.id, limit, |key| {
            let Some(rumor) = rumors.get(&key) else {
                return true;
            };
            if !batches {
                return true;
            }
            let w = encode_rumor(rumor);
            let len = w.encoded_len() + 8;
            if !frame.is_empty() && size + len > budget {
                return false;
            }
            size += len;
            frame.push(w);
            true
        });
        if keys.is_empty() {
            return false;
        }
        let to = target.gossip_addr();
        if batches {
            self.send_rumor_frame(to, frame);
        } else {
            let frames: Vec<wire::Rumor> = keys
                .iter()
                .filter_map(|k| self.rumors.get(k).map(encode_rumor))
                .collect();
            for w in frames {
                self.send_rumor_frame(to, vec![w]);
            }
        }
        true
    }

    /// Sends the rumors held under `keys` to `to`, batched into frames within
    /// `max_stream_frame_size`.
    pub(crate) fn send_rumors(&mut self, to: SocketAddr, keys: &[RumorKey]) {
        let budget = self.frame_budget();
        let mut frame = Vec::new();
        let mut size = 0;
        for key in keys {
            let Some(rumor) = self.rumors.get(key) else {
                continue;
            };
            let w = encode_rumor(rumor);
            let len = w.encoded_len() + 8;
            if !frame.is_empty() && size + len > budget {
                self.send_rumor_frame(to, std::mem::take(&mut frame));
                size = 0;
            }
            size += len;
            frame.push(w);
        }
        if !frame.is_empty() {
            self.send_rumor_frame(to, frame);
        }
    }

    /// One stream frame: the rumor itself when alone (as Butterfly sends it), a batch
    /// otherwise.
    pub(super) fn send_rumor_frame(&mut self, to: SocketAddr, mut rumors: Vec<wire::Rumor>) {
        if self.legacy_peer(to) {
            self.metrics.rumor_pushes += 1;
            for r in rumors {
                self.send_to_legacy(to, r);
            }
            return;
        }
        let from_id = Some(self.me.id.to_string());
        let envelope = if rumors.len() == 1 {
            let mut r = rumors.remove(0);
            r.from_id = from_id;
            r
        } else {
            wire::Rumor {
                r#type: RumorType::Batch as i32,
                tag: Vec::new(),
                from_id,
                payload: Some(RumorPayload::Batch(wire::RumorBatch { rumors })),
            }
        };
        self.metrics.rumor_pushes += 1;
        let bytes = wire::seal_plain(&envelope);
        self.send_stream(to, bytes);
    }

    pub(super) fn frame_budget(&self) -> usize {
        self.config
            .max_stream_frame_size
            .saturating_sub(FRAME_OVERHEAD)
            .max(1)
    }
}
