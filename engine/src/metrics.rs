//! Counters kept by every engine: traffic per channel and dropped input by reason.

use std::fmt;

/// The two transports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    /// SWIM traffic over UDP.
    Datagram = 0,
    /// Rumor streams over TCP.
    Stream = 1,
}

impl Channel {
    /// Both channels.
    pub const ALL: [Channel; 2] = [Channel::Datagram, Channel::Stream];

    /// `"datagram"` or `"stream"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Datagram => "datagram",
            Channel::Stream => "stream",
        }
    }
}

/// Why input was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReason {
    /// Larger than the configured limit.
    Oversized = 0,
    /// Did not decode as protobuf / as the expected message.
    Malformed = 1,
    /// Decoded but a required field is missing or invalid (bad id, bad address, …).
    Invalid = 2,
    /// Claimed to come from ourselves, or otherwise not meant for us.
    NotForUs = 3,
    /// The member list is full.
    TooManyMembers = 4,
    /// Encrypted where we expect plaintext or the reverse, or failed to authenticate.
    Unauthenticated = 5,
    /// From a member that has departed.
    FromDeparted = 6,
    /// We have departed and no longer take part.
    SelfDeparted = 7,
    /// A rumor whose payload (service config, file, exported config) exceeds
    /// `Config::max_rumor_payload`.
    PayloadTooLarge = 8,
    /// An incarnation (or a config or file version) that jumps further past the one held than
    /// `Config::max_incarnation_step` allows, or past `MAX_INCARNATION`: a claim no honest
    /// member makes, and one that would lock a member out if taken.
    Implausible = 9,
    /// A sealed datagram whose sequence number its author already used: a replay.
    Replayed = 10,
    /// An operator's Departure that no trusted operator key signed
    /// (see [`Engine::set_operator_keys`](crate::Engine::set_operator_keys)).
    Unsigned = 11,
}

impl DropReason {
    /// Every reason, in order.
    pub const ALL: [DropReason; 12] = [
        DropReason::Oversized,
        DropReason::Malformed,
        DropReason::Invalid,
        DropReason::NotForUs,
        DropReason::TooManyMembers,
        DropReason::Unauthenticated,
        DropReason::FromDeparted,
        DropReason::SelfDeparted,
        DropReason::PayloadTooLarge,
        DropReason::Implausible,
        DropReason::Replayed,
        DropReason::Unsigned,
    ];

    /// A short snake_case name (for metrics labels).
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Oversized => "oversized",
            DropReason::Malformed => "malformed",
            DropReason::Invalid => "invalid",
            DropReason::NotForUs => "not_for_us",
            DropReason::TooManyMembers => "too_many_members",
            DropReason::Unauthenticated => "unauthenticated",
            DropReason::FromDeparted => "from_departed",
            DropReason::SelfDeparted => "self_departed",
            DropReason::PayloadTooLarge => "payload_too_large",
            DropReason::Implausible => "implausible",
            DropReason::Replayed => "replayed",
            DropReason::Unsigned => "unsigned",
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Messages and bytes in one direction on one channel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Messages (datagrams or stream frames).
    pub messages: u64,
    /// Bytes, as handed to / received from the transport.
    pub bytes: u64,
}

impl Traffic {
    fn add(&mut self, bytes: usize) {
        self.messages += 1;
        self.bytes += bytes as u64;
    }
}

/// All counters of one engine.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metrics {
    sent: [Traffic; 2],
    received: [Traffic; 2],
    dropped: [u64; DropReason::ALL.len()],
    /// Probes started.
    pub probes: u64,
    /// PingReqs sent as the asking member.
    pub pingreqs_sent: u64,
    /// Times we refuted a claim about ourselves.
    pub refutations: u64,
    /// ProbePings sent to check a Confirmed rumor.
    pub probe_pings_sent: u64,
    /// With a ring key: second-hand Alive records raising a member's incarnation (refutations,
    /// restarts) checked with the member before being believed.
    pub refutations_checked: u64,
    /// Membership anti-entropy exchanges started (digest exchanges over a stream).
    pub push_pulls: u64,
    /// Anti-entropy checks sent on a Ping (our view hash, our rumor store hash); only those
    /// answered with a different hash start an exchange.
    pub view_checks: u64,
    /// Rumor anti-entropy checks sent on a Ping (see `view_checks`).
    pub rumor_checks: u64,
    /// Frames of membership updates pushed on the gossip channel.
    pub member_pushes: u64,
    /// Rumors (service, config, file, election, departure) that changed our store, whether
    /// from the network, a command or an import.
    pub rumors_applied: u64,
    /// Rumors received that were older than the one held (not counted: exact duplicates).
    pub rumors_stale: u64,
    /// Rumors refused because the store was full for their kind (count or payload bytes).
    pub rumors_refused_full: u64,
    /// Rumor push frames sent by the dissemination strategy.
    pub rumor_pushes: u64,
    /// Rumor anti-entropy exchanges started.
    pub anti_entropy_syncs: u64,
    /// Membership records sent in membership pushes (Member rumors and their batches).
    pub member_records_pushed: u64,
    /// Membership records sent in membership digest exchanges (pull).
    pub member_records_exchanged: u64,
    /// Record summaries (id, incarnation, health) sent in membership digest exchanges instead
    /// of whole records (pull-first, while pulling): not record copies, but what let the
    /// exchange send only the records the peer lacks.
    pub member_summaries_exchanged: u64,
    /// Health changes sent as summaries in membership digest exchanges instead of whole
    /// records (with `member_summaries`, while pulling): records the peer held at the same
    /// incarnation with a better health. Each stands for a record copy.
    pub member_health_summaries: u64,
    /// Membership records piggybacked on SWIM datagrams (the target's own entry included).
    pub member_records_piggybacked: u64,
    /// Second-hand membership records that changed our view: records we lacked. Summed over
    /// a ring, the least number of record copies any dissemination could have sent.
    pub member_records_learned: u64,
    /// Membership digest exchanges started because a peer's push showed us news (pull-first
    /// dissemination; counted in `push_pulls` too).
    pub member_pulls_triggered: u64,
    /// Compat mode: rumors and exchanges not sent to a Butterfly peer because it would refuse,
    /// mis-handle or panic on them (batches are unpacked, not counted).
    pub compat_withheld: u64,
}

impl Metrics {
    /// Counts a message sent.
    pub fn record_sent(&mut self, channel: Channel, bytes: usize) {
        self.sent[channel as usize].add(bytes);
    }

    /// Counts a message received.
    pub fn record_received(&mut self, channel: Channel, bytes: usize) {
        self.received[channel as usize].add(bytes);
    }

    /// Counts dropped input.
    pub fn record_drop(&mut self, reason: DropReason) {
        self.dropped[reason as usize] += 1;
    }

    /// Traffic sent on `channel`.
    pub fn sent(&self, channel: Channel) -> Traffic {
        self.sent[channel as usize]
    }

    /// Traffic received on `channel`.
    pub fn received(&self, channel: Channel) -> Traffic {
        self.received[channel as usize]
    }

    /// Input dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped[reason as usize]
    }

    /// All dropped input.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }
}
