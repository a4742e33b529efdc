//! The wire format: protobuf messages with Butterfly's names and field numbers, written by hand
//! as `prost` structs (no code generation step).
//!
//! Every datagram and every stream frame is one [`Wire`]; its `payload` is a [`Swim`] message
//! (datagrams) or a [`Rumor`] (stream frames). Extensions take new field numbers that older
//! peers ignore: `Member.departed` (7), `Membership.Health::Departed` (4), `Swim.probeping` (6)
//! with `Swim.Type::ProbePing` (4), Lifeguard's `Swim.nack` (7) with `Swim.Type::Nack` (5),
//! `PingReq.nack` (3) and `Membership.accuser` (3), and `Rumor.member_sync` (11) with `Rumor.Type::MemberSync`
//! (11). Rumor extensions: `Rumor.batch` (12) with `Rumor.Type::Batch` (12), `Rumor.rumor_sync`
//! (13) with `Rumor.Type::RumorSync` (13), and `Service.withdrawn` (14). `Swim.extensions` (17)
//! marks a sender that speaks these extensions (sent in `compat = "habitat"` mode only; see
//! `compat.rs`). Butterfly's own `Service.pkg_incarnation` (13) and `SysInfo.ctl_gateway_*`
//! (7, 8) are kept so that relaying a Butterfly rumor loses nothing.

use std::net::{IpAddr, SocketAddr};

use prost::Message;

use crate::id::{Incarnation, MemberId};
use crate::member::{self, Health};
use crate::metrics::DropReason;

/// The envelope of every datagram and stream frame.
#[derive(Clone, PartialEq, Message)]
pub struct Wire {
    /// Whether `payload` is sealed with the ring key.
    #[prost(bool, optional, tag = "1")]
    pub encrypted: Option<bool>,
    /// The 24-byte nonce when encrypted.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub nonce: Option<Vec<u8>>,
    /// An encoded [`Swim`] or [`Rumor`], possibly sealed.
    #[prost(bytes = "vec", optional, tag = "3")]
    pub payload: Option<Vec<u8>>,
}

/// A member as it travels on the wire.
#[derive(Clone, PartialEq, Message)]
pub struct Member {
    /// 32 hex digits.
    #[prost(string, optional, tag = "1")]
    pub id: Option<String>,
    /// Incarnation.
    #[prost(uint64, optional, tag = "2")]
    pub incarnation: Option<u64>,
    /// IP address as text.
    #[prost(string, optional, tag = "3")]
    pub address: Option<String>,
    /// UDP port.
    #[prost(int32, optional, tag = "4")]
    pub swim_port: Option<i32>,
    /// TCP port.
    #[prost(int32, optional, tag = "5")]
    pub gossip_port: Option<i32>,
    /// Persistent flag.
    #[prost(bool, optional, tag = "6")]
    pub persistent: Option<bool>,
    /// Departed flag.
    #[prost(bool, optional, tag = "7")]
    pub departed: Option<bool>,
}

/// A direct probe. With `forward_to`, the receiver was asked by a helper on behalf of
/// `forward_to` and acks with `forward_to` set so the helper relays the Ack.
#[derive(Clone, PartialEq, Message)]
pub struct Ping {
    /// The sender.
    #[prost(message, optional, tag = "1")]
    pub from: Option<Member>,
    /// The member that asked for this probe, when it is indirect.
    #[prost(message, optional, tag = "2")]
    pub forward_to: Option<Member>,
    /// Extension: the hash of the sender's whole membership view (its own record included),
    /// asking the receiver to answer with its own in the Ack — the cheap first step of
    /// membership anti-entropy; a difference starts the digest exchange over a stream.
    #[prost(fixed64, optional, tag = "3")]
    pub view_hash: Option<u64>,
    /// Extension: the hash of the sender's whole rumor store, likewise for rumor
    /// anti-entropy.
    #[prost(fixed64, optional, tag = "4")]
    pub rumor_hash: Option<u64>,
}

/// The answer to a Ping or ProbePing.
#[derive(Clone, PartialEq, Message)]
pub struct Ack {
    /// The member that answers (the probed member, also when relayed).
    #[prost(message, optional, tag = "1")]
    pub from: Option<Member>,
    /// Where a helper must relay this Ack.
    #[prost(message, optional, tag = "2")]
    pub forward_to: Option<Member>,
    /// Extension: the answer to a Ping's `view_hash`, the hash of our own view.
    #[prost(fixed64, optional, tag = "3")]
    pub view_hash: Option<u64>,
    /// Extension: the answer to a Ping's `rumor_hash`, the hash of our own rumor store.
    #[prost(fixed64, optional, tag = "4")]
    pub rumor_hash: Option<u64>,
}

/// "Please probe `target` for me."
#[derive(Clone, PartialEq, Message)]
pub struct PingReq {
    /// The asking member.
    #[prost(message, optional, tag = "1")]
    pub from: Option<Member>,
    /// The member to probe.
    #[prost(message, optional, tag = "2")]
    pub target: Option<Member>,
    /// Lifeguard extension: answer with a [`Nack`] if the target stays silent.
    #[prost(bool, optional, tag = "3")]
    pub nack: Option<bool>,
}

/// Lifeguard extension: a PingReq helper's "the target did not answer me either", which tells
/// the asker that its own links are fine.
#[derive(Clone, PartialEq, Message)]
pub struct Nack {
    /// The helper.
    #[prost(message, optional, tag = "1")]
    pub from: Option<Member>,
    /// The silent target.
    #[prost(message, optional, tag = "2")]
    pub target: Option<Member>,
}

/// A bare liveness check sent before believing a Confirmed rumor about a member we hold Alive.
#[derive(Clone, PartialEq, Message)]
pub struct ProbePing {
    /// The sender.
    #[prost(message, optional, tag = "1")]
    pub from: Option<Member>,
}

/// A member and its health.
#[derive(Clone, PartialEq, Message)]
pub struct Membership {
    /// The member.
    #[prost(message, optional, tag = "1")]
    pub member: Option<Member>,
    /// Its health ([`WireHealth`]).
    #[prost(enumeration = "WireHealth", optional, tag = "2")]
    pub health: Option<i32>,
    /// Lifeguard extension: for a Suspect entry, the id of a member that suspects it, so
    /// receivers can count independent confirmations.
    #[prost(string, optional, tag = "3")]
    pub accuser: Option<String>,
}

/// `Membership.Health` on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum WireHealth {
    /// Alive.
    Alive = 1,
    /// Suspect.
    Suspect = 2,
    /// Confirmed.
    Confirmed = 3,
    /// Departed.
    Departed = 4,
}

/// `Swim.Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum SwimType {
    /// Ping.
    Ping = 1,
    /// Ack.
    Ack = 2,
    /// PingReq.
    Pingreq = 3,
    /// ProbePing (swallowtail extension).
    ProbePing = 4,
    /// Nack (Lifeguard extension).
    Nack = 5,
}

/// A SWIM datagram.
#[derive(Clone, PartialEq, Message)]
pub struct Swim {
    /// Which payload is set ([`SwimType`]).
    #[prost(enumeration = "SwimType", required, tag = "1")]
    pub r#type: i32,
    /// Piggybacked membership.
    #[prost(message, repeated, tag = "5")]
    pub membership: Vec<Membership>,
    /// The payload.
    #[prost(oneof = "SwimPayload", tags = "2, 3, 4, 6, 7")]
    pub payload: Option<SwimPayload>,
    /// Extension: the author's sequence number, on sealed datagrams only (so it is
    /// authenticated): its incarnation in the high 32 bits and a counter in the low ones, so it
    /// only grows, across restarts too. Receivers drop a datagram whose number they have seen
    /// (a replay). A relayed Ack carries its author's number.
    #[prost(uint64, optional, tag = "16")]
    pub seq: Option<u64>,
    /// Extension: "I speak swallowtail's extensions", set by members in `compat = "habitat"`
    /// mode so that their peers know they may use them (Butterfly ignores the field).
    #[prost(bool, optional, tag = "17")]
    pub extensions: Option<bool>,
}

/// `Swim.payload`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum SwimPayload {
    /// A Ping.
    #[prost(message, tag = "2")]
    Ping(Ping),
    /// An Ack.
    #[prost(message, tag = "3")]
    Ack(Ack),
    /// A PingReq.
    #[prost(message, tag = "4")]
    Pingreq(PingReq),
    /// A ProbePing.
    #[prost(message, tag = "6")]
    ProbePing(ProbePing),
    /// A Nack.
    #[prost(message, tag = "7")]
    Nack(Nack),
}

/// `Rumor.Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum RumorType {
    /// A membership record.
    Member = 1,
    /// A service a member runs.
    Service = 2,
    /// A leader election.
    Election = 3,
    /// A service group's configuration.
    ServiceConfig = 4,
    /// A file for a service group.
    ServiceFile = 5,
    /// Butterfly test type.
    Fake = 6,
    /// Butterfly test type.
    Fake2 = 7,
    /// An update election.
    ElectionUpdate = 8,
    /// An operator's departure of a member.
    Departure = 9,
    /// Butterfly's zone (unused here).
    Zone = 10,
    /// A full membership exchange (swallowtail extension).
    MemberSync = 11,
    /// Several rumors in one frame (swallowtail extension).
    Batch = 12,
    /// A rumor anti-entropy exchange (swallowtail extension).
    RumorSync = 13,
}

/// A rumor: one stream frame's payload.
#[derive(Clone, PartialEq, Message)]
pub struct Rumor {
    /// Which payload is set ([`RumorType`]).
    #[prost(enumeration = "RumorType", required, tag = "1")]
    pub r#type: i32,
    /// Tags (unused by Butterfly's current code; kept for compatibility).
    #[prost(string, repeated, tag = "2")]
    pub tag: Vec<String>,
    /// The sending member's id.
    #[prost(string, optional, tag = "3")]
    pub from_id: Option<String>,
    /// The payload.
    #[prost(oneof = "RumorPayload", tags = "4, 5, 6, 7, 8, 9, 11, 12, 13")]
    pub payload: Option<RumorPayload>,
}

/// `Rumor.payload`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum RumorPayload {
    /// A membership record.
    #[prost(message, tag = "4")]
    Member(Membership),
    /// A service.
    #[prost(message, tag = "5")]
    Service(Service),
    /// A service config.
    #[prost(message, tag = "6")]
    ServiceConfig(ServiceConfig),
    /// A service file.
    #[prost(message, tag = "7")]
    ServiceFile(ServiceFile),
    /// An election (or update election, by `Rumor.type`).
    #[prost(message, tag = "8")]
    Election(Election),
    /// A departure.
    #[prost(message, tag = "9")]
    Departure(Departure),
    /// A full membership exchange.
    #[prost(message, tag = "11")]
    MemberSync(MemberSync),
    /// Several rumors in one frame.
    #[prost(message, tag = "12")]
    Batch(RumorBatch),
    /// A rumor anti-entropy exchange.
    #[prost(message, tag = "13")]
    RumorSync(RumorSync),
}

/// A service a member runs in a service group.
#[derive(Clone, PartialEq, Message)]
pub struct Service {
    /// The member running it.
    #[prost(string, optional, tag = "1")]
    pub member_id: Option<String>,
    /// `service.group[@org]`.
    #[prost(string, optional, tag = "2")]
    pub service_group: Option<String>,
    /// Bumped on every change.
    #[prost(uint64, optional, tag = "3")]
    pub incarnation: Option<u64>,
    /// Whether the service has started.
    #[prost(bool, optional, tag = "8")]
    pub initialized: Option<bool>,
    /// Package ident.
    #[prost(string, optional, tag = "9")]
    pub pkg: Option<String>,
    /// Butterfly's package incarnation (kept when relaying).
    #[prost(uint64, optional, tag = "13")]
    pub pkg_incarnation: Option<u64>,
    /// Exported configuration (TOML).
    #[prost(bytes = "vec", optional, tag = "10")]
    pub cfg: Option<Vec<u8>>,
    /// Host information.
    #[prost(message, optional, tag = "12")]
    pub sys: Option<SysInfo>,
    /// swallowtail extension: the member no longer runs the service (a tombstone). Never
    /// sent to a Butterfly peer.
    #[prost(bool, optional, tag = "14")]
    pub withdrawn: Option<bool>,
}

/// Host information carried by a [`Service`].
#[derive(Clone, PartialEq, Message)]
pub struct SysInfo {
    /// IP.
    #[prost(string, optional, tag = "1")]
    pub ip: Option<String>,
    /// Host name.
    #[prost(string, optional, tag = "2")]
    pub hostname: Option<String>,
    /// Gossip IP.
    #[prost(string, optional, tag = "3")]
    pub gossip_ip: Option<String>,
    /// Gossip port.
    #[prost(uint32, optional, tag = "4")]
    pub gossip_port: Option<u32>,
    /// HTTP gateway IP.
    #[prost(string, optional, tag = "5")]
    pub http_gateway_ip: Option<String>,
    /// HTTP gateway port.
    #[prost(uint32, optional, tag = "6")]
    pub http_gateway_port: Option<u32>,
    /// Butterfly's control gateway IP (kept when relaying).
    #[prost(string, optional, tag = "7")]
    pub ctl_gateway_ip: Option<String>,
    /// Butterfly's control gateway port (kept when relaying).
    #[prost(uint32, optional, tag = "8")]
    pub ctl_gateway_port: Option<u32>,
}

/// A service group's configuration.
#[derive(Clone, PartialEq, Message)]
pub struct ServiceConfig {
    /// Group.
    #[prost(string, optional, tag = "1")]
    pub service_group: Option<String>,
    /// The user's version number.
    #[prost(uint64, optional, tag = "2")]
    pub incarnation: Option<u64>,
    /// Sealed to the group's key.
    #[prost(bool, optional, tag = "3")]
    pub encrypted: Option<bool>,
    /// The configuration (TOML) or its ciphertext.
    #[prost(bytes = "vec", optional, tag = "4")]
    pub config: Option<Vec<u8>>,
}

/// A file for a service group.
#[derive(Clone, PartialEq, Message)]
pub struct ServiceFile {
    /// Group.
    #[prost(string, optional, tag = "1")]
    pub service_group: Option<String>,
    /// The user's version number.
    #[prost(uint64, optional, tag = "2")]
    pub incarnation: Option<u64>,
    /// Sealed to the group's key.
    #[prost(bool, optional, tag = "3")]
    pub encrypted: Option<bool>,
    /// File name.
    #[prost(string, optional, tag = "4")]
    pub filename: Option<String>,
    /// Contents or ciphertext.
    #[prost(bytes = "vec", optional, tag = "5")]
    pub body: Option<Vec<u8>>,
}

/// An election for a service group.
#[derive(Clone, PartialEq, Message)]
pub struct Election {
    /// The candidate this election currently favours.
    #[prost(string, optional, tag = "1")]
    pub member_id: Option<String>,
    /// Group.
    #[prost(string, optional, tag = "2")]
    pub service_group: Option<String>,
    /// Term.
    #[prost(uint64, optional, tag = "3")]
    pub term: Option<u64>,
    /// The candidate's suitability.
    #[prost(uint64, optional, tag = "4")]
    pub suitability: Option<u64>,
    /// Status ([`ElectionStatus`]).
    #[prost(enumeration = "ElectionStatus", optional, tag = "5")]
    pub status: Option<i32>,
    /// Member ids that voted for the candidate.
    #[prost(string, repeated, tag = "6")]
    pub votes: Vec<String>,
}

/// `Election.Status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ElectionStatus {
    /// Voting.
    Running = 1,
    /// Not enough members alive.
    NoQuorum = 2,
    /// A leader was chosen.
    Finished = 3,
}

/// An operator's departure of a member.
#[derive(Clone, PartialEq, Message)]
pub struct Departure {
    /// The departed member.
    #[prost(string, optional, tag = "1")]
    pub member_id: Option<String>,
    /// Extension: an operator key's Ed25519 signature of the departure (64 bytes; see
    /// `crypto::operator_key`). Butterfly skips the field.
    #[prost(bytes = "vec", optional, tag = "16")]
    pub signature: Option<Vec<u8>>,
}

/// A full membership exchange: the initiator sends its view with `reply = false`, the receiver
/// merges it and answers with its own view, `reply = true`.
#[derive(Clone, PartialEq, Message)]
pub struct MemberSync {
    /// Whether this is the answer.
    #[prost(bool, optional, tag = "1")]
    pub reply: Option<bool>,
    /// Every member the sender holds, itself included (a full exchange); in a digest
    /// exchange, the sender's records in the differing buckets.
    #[prost(message, repeated, tag = "2")]
    pub members: Vec<Membership>,
    /// Digest exchange stage (absent: a full exchange): 1 the initiator's bucket hashes, 2 the
    /// answer (the differing buckets and the answerer's records in them), 3 the initiator's
    /// records in those buckets that the answer did not already show.
    #[prost(uint32, optional, tag = "3")]
    pub stage: Option<u32>,
    /// How many buckets the view is cut into (a power of two, at most 4096).
    #[prost(uint32, optional, tag = "4")]
    pub bucket_count: Option<u32>,
    /// Stage 1: the hash of each bucket.
    #[prost(fixed64, repeated, tag = "5")]
    pub buckets: Vec<u64>,
    /// Stage 2: the buckets whose hashes differ.
    #[prost(uint32, repeated, tag = "6")]
    pub differing: Vec<u32>,
    /// Stage 1: answer with summaries (see `summary_ids`) rather than whole records; stage 2:
    /// this answer is one. An answerer that knows no summaries ignores it and sends records.
    #[prost(bool, optional, tag = "7")]
    pub summaries: Option<bool>,
    /// Stage 1: how many records the initiator holds (itself included). An answerer that
    /// holds more than twice as many sends whole records: the initiator lacks most of them.
    #[prost(uint32, optional, tag = "8")]
    pub held: Option<u32>,
    /// Stage 2 with `summaries`: the ids of the answerer's records in the differing buckets,
    /// two words each (high, low), in id order. Stage 3: the ids of the initiator's records
    /// that the answer showed at the same incarnation with a better health: the change of
    /// health alone, which the answerer applies to the record it holds at that incarnation.
    /// The incarnation and health columns go with these ids in both stages.
    #[prost(fixed64, repeated, tag = "9")]
    pub summary_ids: Vec<u64>,
    /// Stage 2 with `summaries`: the incarnation of each summarised record.
    #[prost(uint64, repeated, tag = "10")]
    pub summary_incarnations: Vec<u64>,
    /// Stage 2 with `summaries`: the health of each summarised record, one byte each
    /// (`Health` numbers).
    #[prost(bytes = "vec", optional, tag = "11")]
    pub summary_health: Option<Vec<u8>>,
    /// Stage 3: the ids (two words each) whose records the initiator wants in whole, because
    /// the summary showed them newer than its own or unknown to it. Answered by stage 4, the
    /// answerer's records for them.
    #[prost(fixed64, repeated, tag = "12")]
    pub wanted_ids: Vec<u64>,
}

/// Several rumors in one stream frame (swallowtail extension): the bounded dissemination
/// strategy batches its pushes, anti-entropy sends what the peer lacks, and a persisted rumor
/// store is one `RumorBatch`. Inner rumors leave `from_id` out; the envelope carries it.
#[derive(Clone, PartialEq, Message)]
pub struct RumorBatch {
    /// The rumors (never batches or syncs themselves).
    #[prost(message, repeated, tag = "1")]
    pub rumors: Vec<Rumor>,
}

/// One step of a rumor anti-entropy exchange (swallowtail extension), see
/// `engine/src/engine/rumor_sync.rs`:
///
/// ```text
///  A (initiator)                                   B
///  ── stage 1: bucket_count, buckets ─────────────▶   one hash per bucket of A's rumors
///  ◀──────────── stage 2: differing, keys+versions ─   B's entries in the buckets that differ
///  ── Batch: what B lacks ────────────────────────▶
///  ── stage 3: want (key hashes A lacks) ─────────▶
///  ◀──────────────────────── Batch: what A lacks ──
/// ```
#[derive(Clone, PartialEq, Message)]
pub struct RumorSync {
    /// 1, 2 or 3 as above.
    #[prost(uint32, optional, tag = "1")]
    pub stage: Option<u32>,
    /// How many buckets the key-hash space is cut into (a power of two, at most 4096).
    #[prost(uint32, optional, tag = "2")]
    pub bucket_count: Option<u32>,
    /// Stage 1: the hash of each bucket.
    #[prost(fixed64, repeated, tag = "3")]
    pub buckets: Vec<u64>,
    /// Stage 2: the buckets whose hashes differ.
    #[prost(uint32, repeated, tag = "4")]
    pub differing: Vec<u32>,
    /// Stage 2: key hashes of the sender's rumors in those buckets; stage 3: the key hashes
    /// the sender wants.
    #[prost(fixed64, repeated, tag = "5")]
    pub key_hashes: Vec<u64>,
    /// Stage 2: the version (incarnation or term) of each rumor in `key_hashes`.
    #[prost(uint64, repeated, tag = "6")]
    pub versions: Vec<u64>,
}

/// Encodes `message` as the plaintext payload of a [`Wire`].
pub fn seal_plain<M: Message>(message: &M) -> Vec<u8> {
    Wire {
        encrypted: None,
        nonce: None,
        payload: Some(message.encode_to_vec()),
    }
    .encode_to_vec()
}

/// Decodes a plaintext [`Wire`] and its payload as `M`.
pub fn open_plain<M: Message + Default>(bytes: &[u8]) -> Result<M, DropReason> {
    let wire = Wire::decode(bytes).map_err(|_| DropReason::Malformed)?;
    if wire.encrypted.unwrap_or(false) {
        return Err(DropReason::Unauthenticated);
    }
    let payload = wire.payload.ok_or(DropReason::Malformed)?;
    M::decode(payload.as_slice()).map_err(|_| DropReason::Malformed)
}

/// Bytes a `Wire` adds around a payload of `len` bytes, plus room reserved for encryption
/// (nonce and tag), so that piggybacking never overfills a datagram once a ring key is used.
pub fn wire_overhead(len: usize) -> usize {
    // payload tag + length varint (of the sealed length), encrypted flag, nonce field
    // (24 + 2), Poly1305 tag (16).
    1 + prost::length_delimiter_len(len + 16) + 2 + 26 + 16
}

/// Bytes a membership entry adds to a repeated field.
pub fn repeated_len(m: &Membership) -> usize {
    let n = m.encoded_len();
    1 + prost::length_delimiter_len(n) + n
}

/// An IP address as text; IPv4 without the formatting machinery (this runs for every member
/// of every full membership exchange).
fn ip_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let mut out = String::with_capacity(15);
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                if octet >= 100 {
                    out.push(char::from(b'0' + octet / 100));
                }
                if octet >= 10 {
                    out.push(char::from(b'0' + (octet / 10) % 10));
                }
                out.push(char::from(b'0' + octet % 10));
            }
            out
        }
        IpAddr::V6(v6) => v6.to_string(),
    }
}

impl From<&member::Member> for Member {
    fn from(m: &member::Member) -> Self {
        Member {
            id: Some(m.id.to_hex()),
            incarnation: Some(m.incarnation.0),
            address: Some(ip_text(m.addr.ip())),
            swim_port: Some(i32::from(m.addr.port())),
            gossip_port: Some(i32::from(m.gossip_port)),
            // proto2 defaults (false) are left out, as Butterfly leaves out an Alive health:
            // two bytes fewer per flag on every record, and decoders read absent as false.
            persistent: m.persistent.then_some(true),
            departed: m.departed.then_some(true),
        }
    }
}

/// Whether `ip` can be a member's own address: not unspecified, multicast or the IPv4 limited
/// broadcast. A record naming one would turn every member that answers it into a reflector.
pub fn is_member_address(ip: IpAddr) -> bool {
    let broadcast = matches!(ip, IpAddr::V4(v4) if v4.is_broadcast());
    !(ip.is_unspecified() || ip.is_multicast() || broadcast)
}

impl TryFrom<&Member> for member::Member {
    type Error = DropReason;
    fn try_from(m: &Member) -> Result<Self, DropReason> {
        let id: MemberId =
            m.id.as_deref()
                .ok_or(DropReason::Invalid)?
                .parse()
                .map_err(|_| DropReason::Invalid)?;
        let ip: IpAddr = m
            .address
            .as_deref()
            .ok_or(DropReason::Invalid)?
            .parse()
            .map_err(|_| DropReason::Invalid)?;
        if !is_member_address(ip) {
            return Err(DropReason::Invalid);
        }
        let port = |p: Option<i32>| -> Result<u16, DropReason> {
            p.and_then(|p| u16::try_from(p).ok())
                .filter(|p| *p != 0)
                .ok_or(DropReason::Invalid)
        };
        let swim_port = port(m.swim_port)?;
        let gossip_port = port(m.gossip_port).unwrap_or(swim_port);
        Ok(member::Member {
            id,
            incarnation: Incarnation(m.incarnation.unwrap_or(0)),
            addr: SocketAddr::new(ip, swim_port),
            gossip_port,
            persistent: m.persistent.unwrap_or(false),
            departed: m.departed.unwrap_or(false),
        })
    }
}

impl From<Health> for WireHealth {
    fn from(h: Health) -> Self {
        match h {
            Health::Alive => WireHealth::Alive,
            Health::Suspect => WireHealth::Suspect,
            Health::Confirmed => WireHealth::Confirmed,
            Health::Departed => WireHealth::Departed,
        }
    }
}

impl From<WireHealth> for Health {
    fn from(h: WireHealth) -> Self {
        match h {
            WireHealth::Alive => Health::Alive,
            WireHealth::Suspect => Health::Suspect,
            WireHealth::Confirmed => Health::Confirmed,
            WireHealth::Departed => Health::Departed,
        }
    }
}

impl From<&member::Membership> for Membership {
    fn from(m: &member::Membership) -> Self {
        Membership {
            member: Some(Member::from(&m.member)),
            // Alive is the proto2 default and is left out, as Butterfly does.
            health: (m.health != Health::Alive).then(|| WireHealth::from(m.health) as i32),
            accuser: None,
        }
    }
}

impl TryFrom<&Membership> for member::Membership {
    type Error = DropReason;
    fn try_from(m: &Membership) -> Result<Self, DropReason> {
        let member = member::Member::try_from(m.member.as_ref().ok_or(DropReason::Invalid)?)?;
        // Butterfly leaves the health out when it is the default (Alive).
        let health = match m.health {
            None => Health::Alive,
            Some(h) => WireHealth::try_from(h)
                .map_err(|_| DropReason::Invalid)?
                .into(),
        };
        let health = if member.departed {
            Health::Departed
        } else {
            health
        };
        Ok(member::Membership { member, health })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngCore, SeedableRng};

    fn sample_member() -> member::Member {
        member::Member {
            id: MemberId::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
            incarnation: Incarnation(7),
            addr: "192.168.1.10:9638".parse().expect("addr"),
            gossip_port: 9639,
            persistent: true,
            departed: false,
        }
    }

    #[test]
    fn swim_round_trip() {
        let m = sample_member();
        let swim = Swim {
            r#type: SwimType::Ping as i32,
            seq: None,
            extensions: None,
            membership: vec![Membership::from(&member::Membership {
                member: m,
                health: Health::Suspect,
            })],
            payload: Some(SwimPayload::Ping(Ping {
                from: Some(Member::from(&m)),
                forward_to: None,
                ..Default::default()
            })),
        };
        let bytes = seal_plain(&swim);
        let back: Swim = open_plain(&bytes).expect("decodes");
        assert_eq!(back, swim);
        let ms = member::Membership::try_from(&back.membership[0]).expect("valid");
        assert_eq!(ms.member, m);
        assert_eq!(ms.health, Health::Suspect);
    }

    #[test]
    fn butterfly_field_numbers() {
        // Member { id = 1 } encodes as tag 0x0a (field 1, length-delimited).
        let m = Member {
            id: Some("a".into()),
            ..Default::default()
        };
        assert_eq!(m.encode_to_vec(), vec![0x0a, 1, b'a']);
        // Wire { encrypted = 1 (varint), nonce = 2, payload = 3 }.
        let w = Wire {
            encrypted: Some(true),
            nonce: Some(vec![9]),
            payload: Some(vec![8]),
        };
        assert_eq!(w.encode_to_vec(), vec![0x08, 1, 0x12, 1, 9, 0x1a, 1, 8]);
        // Swim.membership is field 5, Rumor.from_id field 3.
        let s = Swim {
            r#type: SwimType::Ack as i32,
            seq: None,
            extensions: None,
            membership: vec![Membership::default()],
            payload: None,
        };
        assert_eq!(s.encode_to_vec(), vec![0x08, 2, 0x2a, 0]);
        let r = Rumor {
            r#type: RumorType::Departure as i32,
            tag: vec![],
            from_id: Some("x".into()),
            payload: Some(RumorPayload::Departure(Departure::default())),
        };
        assert_eq!(r.encode_to_vec(), vec![0x08, 9, 0x1a, 1, b'x', 0x4a, 0]);
    }

    #[test]
    fn ip_text_matches_display() {
        for ip in [
            "0.0.0.0",
            "10.0.7.255",
            "192.168.100.9",
            "255.255.255.255",
            "::1",
            "fe80::1",
        ] {
            let ip: IpAddr = ip.parse().expect("ip");
            assert_eq!(ip_text(ip), ip.to_string());
        }
    }

    #[test]
    fn invalid_members_are_refused() {
        let mut m = Member::from(&sample_member());
        m.swim_port = Some(70_000);
        assert_eq!(member::Member::try_from(&m), Err(DropReason::Invalid));
        let mut m = Member::from(&sample_member());
        m.address = Some("not an ip".into());
        assert_eq!(member::Member::try_from(&m), Err(DropReason::Invalid));
        let mut m = Member::from(&sample_member());
        m.id = Some("zz".into());
        assert_eq!(member::Member::try_from(&m), Err(DropReason::Invalid));
        let ms = Membership {
            member: Some(Member::from(&sample_member())),
            health: Some(99),
            accuser: None,
        };
        assert_eq!(member::Membership::try_from(&ms), Err(DropReason::Invalid));
    }

    #[test]
    fn random_and_truncated_bytes_never_panic() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let m = sample_member();
        let good = seal_plain(&Swim {
            r#type: SwimType::Ping as i32,
            seq: None,
            extensions: None,
            membership: vec![],
            payload: Some(SwimPayload::Ping(Ping {
                from: Some(Member::from(&m)),
                forward_to: Some(Member::from(&m)),
                ..Default::default()
            })),
        });
        for cut in 0..good.len() {
            let _ = open_plain::<Swim>(&good[..cut]);
            let _ = open_plain::<Rumor>(&good[..cut]);
        }
        for _ in 0..5000 {
            let len = (rng.next_u32() % 300) as usize;
            let mut buf = vec![0u8; len];
            rng.fill_bytes(&mut buf);
            if let Ok(s) = open_plain::<Swim>(&buf) {
                for ms in &s.membership {
                    let _ = member::Membership::try_from(ms);
                }
            }
            let _ = open_plain::<Rumor>(&buf);
            let mut flipped = good.clone();
            let i = (rng.next_u32() as usize) % flipped.len();
            flipped[i] ^= 1 << (rng.next_u32() % 8);
            let _ = open_plain::<Swim>(&flipped);
        }
    }

    #[test]
    fn encrypted_wire_without_key_is_unauthenticated() {
        let w = Wire {
            encrypted: Some(true),
            nonce: Some(vec![0; 24]),
            payload: Some(vec![1, 2, 3]),
        }
        .encode_to_vec();
        assert_eq!(open_plain::<Swim>(&w), Err(DropReason::Unauthenticated));
    }
}
