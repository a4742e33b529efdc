//! Piggybacking: which membership records ride on each SWIM message.
//!
//! Every Ping, Ack, PingReq and Nack carries, within `max_datagram_size`:
//!
//! 1. the receiver's own entry as we hold it, so a member we suspect learns of it from the
//!    message itself and can refute (the buddy system);
//! 2. corrections: our newer records of members the sender's message showed at an older
//!    incarnation (it missed a refutation or a restart), at most three;
//! 3. up to `piggyback_max` queued updates, least transmitted first and newest first among
//!    equals, each pick counting as one transmission; an update sent
//!    `retransmit_mult · ⌈log10(n + 1)⌉` times leaves the queue (memberlist's limit).
//!
//! The gossip channel pushes Member rumors from the same queue. A Suspect entry names its
//! latest known accuser, so accusations add up across the ring (Lifeguard).

use crate::broadcast::retransmit_limit;
use crate::engine::Engine;
use crate::id::MemberId;
use crate::member::{Health, Membership};
use crate::membership::{Suspicions, View};
use crate::network::Network;
use crate::time::Clock;
use crate::wire;

/// Corrections piggybacked on one reply, at most.
const MAX_CORRECTIONS: usize = 3;

/// The wire form of a record; a Suspect entry names its latest known accuser.
fn wire_entry(record: &Membership, suspicions: &Suspicions) -> wire::Membership {
    let mut entry = wire::Membership::from(record);
    if record.health == Health::Suspect {
        entry.accuser = suspicions
            .last_accuser(record.member.id)
            .map(|a| a.to_string());
    }
    entry
}

impl<C: Clock, N: Network> Engine<C, N> {
    /// The records to piggyback on a message whose encoding is `size` bytes so far: `target`'s
    /// entry, then `corrections`, then queued updates, within `max_datagram_size`.
    pub(crate) fn piggyback(
        &mut self,
        target: Option<Membership>,
        corrections: &[Membership],
        mut size: usize,
    ) -> Vec<wire::Membership> {
        let budget = self.config.max_datagram_size;
        let mut out = Vec::new();
        let target_id = target.map(|t| t.member.id);
        if let Some(t) = target {
            let entry = wire_entry(&t, &self.view.suspicions);
            size += wire::repeated_len(&entry);
            out.push(entry);
        }
        for c in corrections {
            let entry = wire_entry(c, &self.view.suspicions);
            let len = wire::repeated_len(&entry);
            if size + len + wire::wire_overhead(size + len) > budget {
                break;
            }
            size += len;
            out.push(entry);
        }
        let max = self.config.piggyback_max;
        let extra = self.take_broadcasts_within(max, target_id, budget, size);
        out.extend(extra);
        self.metrics.member_records_piggybacked += out.len() as u64;
        out
    }

    /// Records in `entries` (what a sender piggybacked) that are older than ours: the sender
    /// missed a refutation or a restart, and its stale view would otherwise last until the next
    /// full exchange. Our newer records ride first in the reply.
    pub(crate) fn corrections(&self, entries: &[wire::Membership]) -> Vec<Membership> {
        entries
            .iter()
            .filter_map(|e| Membership::try_from(e).ok())
            .filter_map(|m| {
                let held = self.view.members.get(m.member.id)?;
                (held.member.incarnation > m.member.incarnation).then_some(held)
            })
            .take(MAX_CORRECTIONS)
            .collect()
    }

    /// Takes up to `max` queued membership updates (each pick counts as one transmission),
    /// skipping `skip`'s, as they go on the wire.
    pub(crate) fn take_broadcasts(
        &mut self,
        max: usize,
        skip: Option<MemberId>,
    ) -> Vec<wire::Membership> {
        self.take_broadcasts_within(max, skip, usize::MAX, 0)
    }

    /// Like [`Self::take_broadcasts`], stopping before a datagram of `size` bytes so far would
    /// outgrow `budget`.
    fn take_broadcasts_within(
        &mut self,
        max: usize,
        skip: Option<MemberId>,
        budget: usize,
        mut size: usize,
    ) -> Vec<wire::Membership> {
        let limit = retransmit_limit(self.config.retransmit_mult, self.view.members.len() + 1);
        let own = self.own_record();
        let View {
            broadcasts,
            members,
            suspicions,
            ..
        } = &mut self.view;
        let mut extra = Vec::new();
        broadcasts.select(max, limit, skip, |id| {
            let record = if id == own.member.id {
                Some(own)
            } else {
                members.get(id)
            };
            let Some(record) = record else {
                return true; // forgotten member: let the queue drop it
            };
            let entry = wire_entry(&record, suspicions);
            let len = wire::repeated_len(&entry);
            if budget != usize::MAX && size + len + wire::wire_overhead(size + len) > budget {
                return false;
            }
            size += len;
            extra.push(entry);
            true
        });
        extra
    }
}
