//! Sharing a ring with Chef Habitat Supervisors (`Config::compat = Habitat`).
//!
//! Butterfly, the Supervisor's gossip layer, speaks the same protobuf messages but none of
//! swallowtail's extensions, and several of its decoders `panic!` on input swallowtail would
//! otherwise send (Rumor types 6 and 7, a payload that does not match the type). In compat
//! mode the engine therefore treats every peer as Butterfly until the peer shows it speaks the
//! extensions, by setting `Swim.extensions` (every compat member does) or by answering a
//! `view_hash` in its Ack (every swallowtail member does). To such a "legacy" peer:
//!
//! - SWIM: no Nack is asked for; everything else is Butterfly's message, in at most 1,024 bytes
//!   (`Config::validate`), with IPv4 addresses only (records naming an IPv6 address are
//!   dropped on receipt, so none can be relayed: Butterfly panics parsing one);
//! - rumors: one per message, never a batch or an exchange (types 11-13), never a tombstone
//!   (`Service.withdrawn`), never a type without its matching payload, a Service only with the
//!   `pkg` and `sys` (ip, hostname) Butterfly requires; sent with
//!   [`Network::send_habitat_stream`] (ZeroMQ in production);
//! - `Rumor.from_id` carries Butterfly's meaning: the originator (the Service's member, the
//!   Election's candidate, `butterflyclient` for a Departure), not the sender.
//!
//! On receipt, a `from.address` left out (Butterfly never fills it) is the datagram's source,
//! and a rumor's `from_id` is not taken for its sender.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::net::SocketAddr;

use crate::config::Compat;
use crate::engine::Engine;
use crate::member::Member;
use crate::metrics::{Channel, DropReason};
use crate::network::Network;
use crate::time::Clock;
use crate::wire::{self, RumorPayload, RumorType, Swim, SwimPayload};

/// Butterfly's `from_id` for a Departure an operator asked for.
pub const BUTTERFLY_CLIENT: &str = "butterflyclient";

/// Addresses (SWIM and gossip) of peers known to speak swallowtail's extensions.
#[derive(Clone, Debug, Default)]
pub(crate) struct ExtensionPeers {
    known: BTreeSet<SocketAddr>,
}

impl<C: Clock, N: Network> Engine<C, N> {
    /// Whether the engine runs in Habitat compatibility mode.
    pub(crate) fn compat(&self) -> bool {
        self.config.compat == Compat::Habitat
    }

    /// Whether what goes to `to` (a SWIM or gossip address) must be what Butterfly accepts.
    pub(crate) fn legacy_peer(&self, to: SocketAddr) -> bool {
        self.compat() && !self.extension_peers.known.contains(&to)
    }

    /// Whether the peer at `addr` is known to speak swallowtail's extensions.
    pub fn speaks_extensions(&self, addr: SocketAddr) -> bool {
        self.extension_peers.known.contains(&addr)
    }

    /// After a datagram from `src` was handled: remember its sender as a swallowtail member
    /// if the datagram shows it (bounded by `max_members`).
    pub(super) fn learn_peer_kind(&mut self, src: SocketAddr, swim: &Swim) {
        if !self.compat() {
            return;
        }
        let (from, shows) = match &swim.payload {
            Some(SwimPayload::Ping(p)) => (p.from.as_ref(), p.view_hash.is_some()),
            Some(SwimPayload::Ack(a)) if a.forward_to.is_none() => {
                (a.from.as_ref(), a.view_hash.is_some())
            }
            Some(SwimPayload::Pingreq(r)) => (r.from.as_ref(), r.nack.is_some()),
            Some(SwimPayload::Nack(n)) => (n.from.as_ref(), true),
            Some(SwimPayload::ProbePing(p)) => (p.from.as_ref(), false),
            _ => (None, false),
        };
        if !(shows || swim.extensions == Some(true)) {
            return;
        }
        let Some(from) = from else { return };
        let Ok(member) = Member::try_from(self.with_source_address(from, src).as_ref()) else {
            return;
        };
        let known = &mut self.extension_peers.known;
        if known.len() + 2 <= self.config.max_members.saturating_mul(2) {
            known.insert(member.addr);
            known.insert(member.gossip_addr());
        }
    }

    /// `m` with its address taken from `src` when it has none (Butterfly leaves it out of the
    /// sender of a Ping, Ack, PingReq or ProbePing); `m` itself outside compat mode.
    pub(super) fn with_source_address<'a>(
        &self,
        m: &'a wire::Member,
        src: SocketAddr,
    ) -> Cow<'a, wire::Member> {
        let missing = m.address.as_deref().is_none_or(str::is_empty);
        if self.compat() && missing {
            let mut filled = m.clone();
            filled.address = Some(src.ip().to_string());
            Cow::Owned(filled)
        } else {
            Cow::Borrowed(m)
        }
    }

    /// Compat mode: Butterfly parses IPv4 `addr:port` only, so an IPv6 source or record is
    /// dropped before it can reach our view (and from there a Butterfly peer).
    pub(crate) fn refuse_ipv6(&self, addr: Option<&str>) -> Result<(), DropReason> {
        if self.compat() && addr.is_some_and(|a| a.contains(':')) {
            return Err(DropReason::Invalid);
        }
        Ok(())
    }

    /// Sends the rumors in `rumor` (one, or a batch's) to the Butterfly peer at `to`, each as a
    /// message of its own, leaving out what Butterfly would refuse or mis-handle.
    pub(super) fn send_to_legacy(&mut self, to: SocketAddr, rumor: wire::Rumor) {
        let rumors = match rumor.payload {
            Some(RumorPayload::Batch(batch)) => batch.rumors,
            _ => vec![rumor],
        };
        let me = self.me.id.to_string();
        for r in rumors {
            let Some(r) = for_butterfly(r, &me) else {
                self.metrics.compat_withheld += 1;
                continue;
            };
            let bytes = self.ring_seal.seal_outgoing(wire::seal_plain(&r));
            self.metrics.record_sent(Channel::Stream, bytes.len());
            self.net.send_habitat_stream(to, bytes);
        }
    }
}

/// Whether Butterfly can turn the record's `address:port` into a socket address (an IPv4
/// address): it panics on one it cannot.
pub(crate) fn butterfly_can_address(m: &wire::Membership) -> bool {
    m.member
        .as_ref()
        .and_then(|m| m.address.as_deref())
        .is_some_and(|a| a.parse::<std::net::Ipv4Addr>().is_ok())
}

/// `r` as Butterfly must receive it, or `None` when Butterfly would refuse it, mis-handle it
/// or panic on it. `me` is the sender's id (the `from_id` of a Member rumor, and of a config or
/// file, whose author the store does not keep).
pub fn for_butterfly(mut r: wire::Rumor, me: &str) -> Option<wire::Rumor> {
    let kind = RumorType::try_from(r.r#type).ok()?;
    let from_id = match (kind, r.payload.as_mut()?) {
        (RumorType::Member, RumorPayload::Member(m)) => {
            if !butterfly_can_address(m) {
                return None;
            }
            m.accuser = None;
            me.to_string()
        }
        (RumorType::Service, RumorPayload::Service(s)) => {
            if s.withdrawn == Some(true) || s.pkg.is_none() {
                return None;
            }
            s.withdrawn = None;
            let sys = s.sys.as_ref()?;
            if sys.ip.is_none() || sys.hostname.is_none() {
                return None;
            }
            s.member_id.clone()?
        }
        (RumorType::Election | RumorType::ElectionUpdate, RumorPayload::Election(e)) => {
            // Butterfly takes the candidate from `from_id`, not from the payload.
            e.member_id.clone()?
        }
        (RumorType::ServiceConfig, RumorPayload::ServiceConfig(_))
        | (RumorType::ServiceFile, RumorPayload::ServiceFile(_)) => me.to_string(),
        (RumorType::Departure, RumorPayload::Departure(d)) => {
            d.member_id.as_ref()?;
            BUTTERFLY_CLIENT.to_string()
        }
        _ => return None,
    };
    r.from_id = Some(from_id);
    r.tag.clear();
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn service(withdrawn: bool, sys: bool) -> wire::Rumor {
        wire::Rumor {
            r#type: RumorType::Service as i32,
            tag: vec![],
            from_id: None,
            payload: Some(RumorPayload::Service(wire::Service {
                member_id: Some("aa".repeat(16)),
                service_group: Some("redis.default".into()),
                incarnation: Some(2),
                pkg: Some("core/redis/1/2".into()),
                sys: sys.then(|| wire::SysInfo {
                    ip: Some("10.0.0.1".into()),
                    hostname: Some("h".into()),
                    ..Default::default()
                }),
                withdrawn: withdrawn.then_some(true),
                ..Default::default()
            })),
        }
    }

    #[test]
    fn tombstones_and_incomplete_services_are_withheld() {
        assert!(for_butterfly(service(true, true), "me").is_none());
        assert!(for_butterfly(service(false, false), "me").is_none());
        let r = for_butterfly(service(false, true), "me").expect("sent");
        assert_eq!(r.from_id.as_deref(), Some("aa".repeat(16).as_str()));
    }

    #[test]
    fn mismatched_unknown_and_extension_types_are_withheld() {
        // A Service type with an Election payload would hit one of Butterfly's panic!s.
        let mut r = service(false, true);
        r.r#type = RumorType::Election as i32;
        assert!(for_butterfly(r, "me").is_none());
        for t in [6, 7, 10, 11, 12, 13, 99] {
            let mut r = service(false, true);
            r.r#type = t;
            assert!(for_butterfly(r, "me").is_none(), "type {t}");
        }
        let batch = wire::Rumor {
            r#type: RumorType::Batch as i32,
            tag: vec![],
            from_id: None,
            payload: Some(RumorPayload::Batch(wire::RumorBatch {
                rumors: vec![service(false, true)],
            })),
        };
        assert!(for_butterfly(batch, "me").is_none());
        let empty = wire::Rumor {
            r#type: RumorType::Departure as i32,
            tag: vec![],
            from_id: None,
            payload: None,
        };
        assert!(for_butterfly(empty, "me").is_none());
    }

    #[test]
    fn from_id_is_the_originator() {
        let election = wire::Rumor {
            r#type: RumorType::ElectionUpdate as i32,
            tag: vec![],
            from_id: Some("sender".into()),
            payload: Some(RumorPayload::Election(wire::Election {
                member_id: Some("cand".into()),
                service_group: Some("a.b".into()),
                ..Default::default()
            })),
        };
        let r = for_butterfly(election, "me").expect("sent");
        assert_eq!(r.from_id.as_deref(), Some("cand"));
        let departure = wire::Rumor {
            r#type: RumorType::Departure as i32,
            tag: vec![],
            from_id: None,
            payload: Some(RumorPayload::Departure(wire::Departure {
                member_id: Some("x".into()),
                signature: None,
            })),
        };
        let r = for_butterfly(departure, "me").expect("sent");
        assert_eq!(r.from_id.as_deref(), Some(BUTTERFLY_CLIENT));
        // Butterfly's `withdrawn`-free Service encodes exactly as its schema: no field 14.
        let bytes = for_butterfly(service(false, true), "me")
            .expect("sent")
            .encode_to_vec();
        assert!(!bytes.windows(2).any(|w| w == [0x70, 1]));
    }

    #[test]
    fn ipv6_member_records_are_withheld() {
        let m = |addr: &str| wire::Rumor {
            r#type: RumorType::Member as i32,
            tag: vec![],
            from_id: None,
            payload: Some(RumorPayload::Member(wire::Membership {
                member: Some(wire::Member {
                    id: Some("bb".repeat(16)),
                    address: Some(addr.into()),
                    swim_port: Some(1),
                    gossip_port: Some(1),
                    ..Default::default()
                }),
                health: None,
                accuser: Some("cc".repeat(16)),
            })),
        };
        assert!(for_butterfly(m("::1"), "me").is_none());
        let r = for_butterfly(m("10.1.2.3"), "me").expect("sent");
        assert_eq!(r.from_id.as_deref(), Some("me"));
        assert!(matches!(r.payload, Some(RumorPayload::Member(ref ms)) if ms.accuser.is_none()));
    }
}
