//! Traffic accounting: messages and bytes per channel, and what the stream channel carries.
//!
//! Every message a member sends is counted once, when it is sent (lost or not). Stream frames
//! are classified by peeking at their protobuf envelope (no allocation, no full decode): a
//! plaintext `Wire` whose payload is a `Rumor` with `type` (a [`RumorType`]) —
//!
//! - `membership`: `Member` and `MemberSync`, the membership push/pull, and a `Batch` of
//!   `Member` rumors (the membership push);
//! - `rumors`: a service, config, file, election or departure rumor, or a `Batch` of them;
//!   each rumor inside counts as one *copy*;
//! - `rumor_sync`: `RumorSync`, the anti-entropy digests;
//! - `other`: anything else (sealed frames, unknown types).
//!
//! **Redundancy** is `rumor copies sent ÷ rumor copies needed`, where a copy is *needed* each
//! time a member applies a rumor (version) it did not create itself (a `RumorApplied` event
//! not caused by a command on that member). 1.0 is the least possible: every member received
//! each version it needed exactly once, and nothing else.

use engine::wire::RumorType;
use serde::Serialize;

/// Messages and bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Count {
    /// Messages (datagrams or stream frames).
    pub messages: u64,
    /// Bytes.
    pub bytes: u64,
}

impl Count {
    fn add(&mut self, bytes: usize) {
        self.messages += 1;
        self.bytes += bytes as u64;
    }
}

/// What a stream frame carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Content {
    /// Membership push/pull or a membership rumor.
    Membership,
    /// Rumors (`copies` of them).
    Rumors(u32),
    /// Rumor anti-entropy digests.
    RumorSync,
    /// Sealed or unrecognised.
    Other,
}

/// The traffic of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Datagrams (SWIM).
    pub datagram: Count,
    /// Stream frames, all of them.
    pub stream: Count,
    /// Stream frames carrying membership.
    pub membership: Count,
    /// Stream frames carrying rumors.
    pub rumors: Count,
    /// Stream frames carrying anti-entropy digests.
    pub rumor_sync: Count,
    /// Other stream frames.
    pub other: Count,
    /// Rumor copies sent (each rumor in a frame or batch).
    pub rumor_copies: u64,
}

impl Traffic {
    /// Counts one datagram.
    pub fn datagram(&mut self, bytes: &[u8]) {
        self.datagram.add(bytes.len());
    }

    /// Counts and classifies one stream frame.
    pub fn stream(&mut self, bytes: &[u8]) {
        self.stream.add(bytes.len());
        match classify(bytes) {
            Content::Membership => self.membership.add(bytes.len()),
            Content::Rumors(copies) => {
                self.rumors.add(bytes.len());
                self.rumor_copies += u64::from(copies);
            }
            Content::RumorSync => self.rumor_sync.add(bytes.len()),
            Content::Other => self.other.add(bytes.len()),
        }
    }
}

/// One channel in `summary.json`'s `traffic`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ChannelSummary {
    /// Messages sent.
    pub messages: u64,
    /// Bytes sent.
    pub bytes: u64,
    /// Bytes per live member per second (bytes ÷ member-seconds).
    pub bytes_per_member_per_second: f64,
    /// Messages per live member per second.
    pub messages_per_member_per_second: f64,
}

/// The stream channel, with what it carried.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct StreamSummary {
    /// All stream frames.
    #[serde(flatten)]
    pub all: ChannelSummary,
    /// Membership push/pull and membership rumors.
    pub membership: ChannelSummary,
    /// Service, config, file, election and departure rumors (alone or batched).
    pub rumors: ChannelSummary,
    /// Rumor anti-entropy digests.
    pub rumor_sync: ChannelSummary,
    /// Anything else.
    pub other: ChannelSummary,
}

/// `summary.json`'s `traffic`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct TrafficSummary {
    /// SWIM datagrams.
    pub datagram: ChannelSummary,
    /// Stream frames.
    pub stream: StreamSummary,
    /// Both channels.
    pub total: ChannelSummary,
    /// Live members integrated over virtual time (the divisor of the per-member rates).
    pub member_seconds: f64,
}

impl TrafficSummary {
    /// The summary of `t` over `member_seconds`.
    pub fn of(t: &Traffic, member_seconds: f64) -> Self {
        let per = |c: Count| {
            let rate = |x: u64| {
                if member_seconds > 0.0 {
                    x as f64 / member_seconds
                } else {
                    0.0
                }
            };
            ChannelSummary {
                messages: c.messages,
                bytes: c.bytes,
                bytes_per_member_per_second: rate(c.bytes),
                messages_per_member_per_second: rate(c.messages),
            }
        };
        TrafficSummary {
            datagram: per(t.datagram),
            stream: StreamSummary {
                all: per(t.stream),
                membership: per(t.membership),
                rumors: per(t.rumors),
                rumor_sync: per(t.rumor_sync),
                other: per(t.other),
            },
            total: per(Count {
                messages: t.datagram.messages + t.stream.messages,
                bytes: t.datagram.bytes + t.stream.bytes,
            }),
            member_seconds,
        }
    }
}

/// `summary.json`'s `redundancy` (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Redundancy {
    /// Rumor copies sent ÷ rumor copies needed (1.0 is the least possible), or null when no
    /// copy was needed.
    pub ratio: Option<f64>,
    /// Rumor copies sent (each rumor in each frame or batch).
    pub rumor_copies_sent: u64,
    /// Rumor copies needed (rumors applied by a member that did not create them).
    pub rumor_copies_needed: u64,
    /// Stream bytes carrying rumors, plus anti-entropy digests, per needed copy.
    pub rumor_bytes_per_needed_copy: Option<f64>,
}

impl Redundancy {
    /// The redundancy of `t` given `needed` copies.
    pub fn of(t: &Traffic, needed: u64) -> Self {
        let per = |x: u64| (needed > 0).then(|| x as f64 / needed as f64);
        Redundancy {
            ratio: per(t.rumor_copies),
            rumor_copies_sent: t.rumor_copies,
            rumor_copies_needed: needed,
            rumor_bytes_per_needed_copy: per(t.rumors.bytes + t.rumor_sync.bytes),
        }
    }
}

/// `summary.json`'s `record_copies`: the membership records the engines sent, by how, against
/// the least any dissemination could send: `lower_bound` is the records each member lacked,
/// summed (every second-hand record that changed a member's view).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct RecordCopies {
    /// Every membership record sent: `pushed + exchanged + piggybacked + health_summaries`.
    pub total: u64,
    /// In membership pushes on streams (Member rumors and their batches).
    pub pushed: u64,
    /// In membership digest exchanges on streams (pull).
    pub exchanged: u64,
    /// Piggybacked on SWIM datagrams (each message's target entry included).
    pub piggybacked: u64,
    /// Record summaries (id, incarnation, health) sent in digest exchanges instead of whole
    /// records (pull-first, while pulling). Not record copies: about a third of a record's
    /// bytes each, and no merge at the receiver.
    pub summaries: u64,
    /// Health changes sent in digest exchanges as summaries instead of whole records (the
    /// peer held the record at the same incarnation): each stands for a record copy, so they
    /// count in `total`.
    pub health_summaries: u64,
    /// Records each member lacked, summed: second-hand records that changed a member's view.
    pub lower_bound: u64,
    /// `total ÷ lower_bound` (1.0 is the least possible), or null when nothing was lacked.
    pub ratio: Option<f64>,
    /// Digest exchanges started because a push showed news (pull-first dissemination).
    pub pulls_triggered: u64,
}

impl RecordCopies {
    /// Adds one engine's counters (when its process stops, and at the end of the run).
    pub fn add(&mut self, m: &engine::Metrics) {
        self.pushed += m.member_records_pushed;
        self.exchanged += m.member_records_exchanged;
        self.piggybacked += m.member_records_piggybacked;
        self.summaries += m.member_summaries_exchanged;
        self.health_summaries += m.member_health_summaries;
        self.lower_bound += m.member_records_learned;
        self.pulls_triggered += m.member_pulls_triggered;
        self.total = self.pushed + self.exchanged + self.piggybacked + self.health_summaries;
        self.ratio = (self.lower_bound > 0).then(|| self.total as f64 / self.lower_bound as f64);
    }
}

/// `Wire.encrypted`: a varint, set when the payload is sealed.
const WIRE_ENCRYPTED: u64 = 1;
/// `Wire.payload`: the (plaintext) `Rumor` bytes.
const WIRE_PAYLOAD: u64 = 3;
/// `Rumor.type`: the [`RumorType`] number.
const RUMOR_TYPE: u64 = 1;
/// `Rumor.batch`: the `RumorBatch` of a `Batch` rumor.
const RUMOR_BATCH: u64 = 12;
/// `RumorBatch.rumors`: one occurrence per rumor in the batch.
const BATCH_RUMORS: u64 = 1;

/// Classifies a stream frame (see the module documentation).
pub fn classify(frame: &[u8]) -> Content {
    let Some(payload) = field(frame, WIRE_PAYLOAD) else {
        return Content::Other;
    };
    if field_varint(frame, WIRE_ENCRYPTED).is_some_and(|encrypted| encrypted != 0) {
        return Content::Other;
    }
    let kind = field_varint(payload, RUMOR_TYPE)
        .and_then(|t| i32::try_from(t).ok())
        .and_then(|t| RumorType::try_from(t).ok());
    match kind {
        Some(RumorType::Member | RumorType::MemberSync) => Content::Membership,
        Some(
            RumorType::Service
            | RumorType::Election
            | RumorType::ServiceConfig
            | RumorType::ServiceFile
            | RumorType::Fake
            | RumorType::Fake2
            | RumorType::ElectionUpdate
            | RumorType::Departure,
        ) => Content::Rumors(1),
        Some(RumorType::Batch) => {
            // The membership push batches Member rumors; the rumor push batches the others.
            let (members, rumors) = field(payload, RUMOR_BATCH).map_or((0, 0), batch_kinds);
            if members > 0 && rumors == 0 {
                Content::Membership
            } else {
                Content::Rumors(rumors)
            }
        }
        Some(RumorType::RumorSync) => Content::RumorSync,
        Some(RumorType::Zone) | None => Content::Other,
    }
}

/// A varint at the start of `b`: its value and length.
fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// Protobuf wire types (the low three bits of a field's tag), not rumor types.
const WIRETYPE_VARINT: u64 = 0;
const WIRETYPE_FIXED64: u64 = 1;
const WIRETYPE_LEN: u64 = 2;
const WIRETYPE_FIXED32: u64 = 5;

/// Walks the top-level fields of a message: (field number, wire type, value bytes or varint).
fn walk<'a>(mut b: &'a [u8], mut visit: impl FnMut(u64, Value<'a>) -> bool) {
    while !b.is_empty() {
        let Some((tag, n)) = varint(b) else { return };
        b = &b[n..];
        let value = match tag & 7 {
            WIRETYPE_VARINT => {
                let Some((v, n)) = varint(b) else { return };
                b = &b[n..];
                Value::Varint(v)
            }
            WIRETYPE_FIXED64 => {
                let Some(rest) = b.get(8..) else { return };
                b = rest;
                Value::Fixed
            }
            WIRETYPE_LEN => {
                let Some((len, n)) = varint(b) else { return };
                let Some(bytes) = usize::try_from(len)
                    .ok()
                    .and_then(|len| b.get(n..n.checked_add(len)?))
                else {
                    return;
                };
                b = &b[n + bytes.len()..];
                Value::Bytes(bytes)
            }
            WIRETYPE_FIXED32 => {
                let Some(rest) = b.get(4..) else { return };
                b = rest;
                Value::Fixed
            }
            _ => return,
        };
        if !visit(tag >> 3, value) {
            return;
        }
    }
}

enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// The first length-delimited field `number` of a message.
fn field(b: &[u8], number: u64) -> Option<&[u8]> {
    let mut out = None;
    walk(b, |n, v| match v {
        Value::Bytes(bytes) if n == number => {
            out = Some(bytes);
            false
        }
        _ => true,
    });
    out
}

/// The first varint field `number` of a message.
fn field_varint(b: &[u8], number: u64) -> Option<u64> {
    let mut out = None;
    walk(b, |n, v| match v {
        Value::Varint(x) if n == number => {
            out = Some(x);
            false
        }
        _ => true,
    });
    out
}

/// The rumors of a `RumorBatch`: how many are Member rumors, and how many are others.
fn batch_kinds(batch: &[u8]) -> (u32, u32) {
    let (mut members, mut others) = (0, 0);
    walk(batch, |n, v| {
        if n == BATCH_RUMORS {
            let is_member = match v {
                Value::Bytes(inner) => {
                    field_varint(inner, RUMOR_TYPE).is_some_and(|t| t == RumorType::Member as u64)
                }
                _ => false,
            };
            if is_member {
                members += 1;
            } else {
                others += 1;
            }
        }
        true
    });
    (members, others)
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::wire::{self, RumorPayload};

    fn frame(rumor: &wire::Rumor) -> Vec<u8> {
        wire::seal_plain(rumor)
    }

    fn departure(n: u128) -> wire::Rumor {
        wire::Rumor {
            r#type: RumorType::Departure as i32,
            tag: Vec::new(),
            from_id: Some(format!("{n:032x}")),
            payload: Some(RumorPayload::Departure(wire::Departure {
                member_id: Some(format!("{n:032x}")),
                signature: None,
            })),
        }
    }

    #[test]
    fn classifies_rumors_batches_and_syncs() {
        assert_eq!(classify(&frame(&departure(1))), Content::Rumors(1));
        let batch = wire::Rumor {
            r#type: RumorType::Batch as i32,
            tag: Vec::new(),
            from_id: Some(format!("{:032x}", 9)),
            payload: Some(RumorPayload::Batch(wire::RumorBatch {
                rumors: vec![departure(1), departure(2), departure(3)],
            })),
        };
        assert_eq!(classify(&frame(&batch)), Content::Rumors(3));
        let sync = wire::Rumor {
            r#type: RumorType::MemberSync as i32,
            tag: Vec::new(),
            from_id: None,
            payload: Some(RumorPayload::MemberSync(wire::MemberSync::default())),
        };
        assert_eq!(classify(&frame(&sync)), Content::Membership);
        // The membership push: a batch of Member rumors is membership, not rumor copies.
        let member = || wire::Rumor {
            r#type: RumorType::Member as i32,
            tag: Vec::new(),
            from_id: None,
            payload: Some(RumorPayload::Member(wire::Membership::default())),
        };
        let push = wire::Rumor {
            r#type: RumorType::Batch as i32,
            tag: Vec::new(),
            from_id: Some(format!("{:032x}", 9)),
            payload: Some(RumorPayload::Batch(wire::RumorBatch {
                rumors: vec![member(), member()],
            })),
        };
        assert_eq!(classify(&frame(&push)), Content::Membership);
        assert_eq!(classify(b"\xff\xff\xff"), Content::Other);
        assert_eq!(classify(&[]), Content::Other);
        let mut t = Traffic::default();
        t.stream(&frame(&batch));
        t.stream(&frame(&sync));
        t.datagram(&[0; 10]);
        assert_eq!(
            (t.stream.messages, t.rumors.messages, t.rumor_copies),
            (2, 1, 3)
        );
        assert_eq!(t.datagram.bytes, 10);
    }
}
