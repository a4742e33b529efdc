//! The stream channel: membership rumors (a departing member's farewell) and full membership
//! exchanges (anti-entropy, as memberlist's push/pull), which repair what piggybacking missed:
//! late joiners, and the two halves of a healed partition.

use std::net::SocketAddr;

use crate::engine::Engine;
use crate::id::MemberId;
use crate::member::{Health, Membership};
use crate::metrics::{Channel, DropReason};
use crate::network::Network;
use crate::time::Clock;
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
        let rumor: Rumor = match wire::open_plain(bytes) {
            Ok(r) => r,
            Err(reason) => return self.drop_input(reason),
        };
        let sender: Option<MemberId> = rumor.from_id.as_deref().and_then(|s| s.parse().ok());
        if sender == Some(self.me.id) {
            return self.drop_input(DropReason::NotForUs);
        }
        match rumor.payload {
            Some(RumorPayload::Member(m)) => match Membership::try_from(&m) {
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
            // Service, config, file, election and departure rumors are not handled by this
            // engine version; they are counted, not applied.
            Some(_) | None => self.drop_input(DropReason::Invalid),
        }
    }

    /// Sends our whole view (ourselves included) to the gossip listener at `to`; the receiver
    /// merges it and, unless `reply`, answers with its own.
    pub(super) fn push_pull_with(&mut self, to: SocketAddr, reply: bool) {
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
            self.push_pull_with(m.member.gossip_addr(), false);
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
}
