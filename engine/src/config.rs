//! Every timing and limit of the protocol, with presets and validation.
//!
//! Durations are written in TOML as human-readable strings (`"9300ms"`, `"3s"`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The protocol's knobs. Build one from a preset ([`Config::habitat`], [`Config::lan`],
/// [`Config::local`]), change fields, then [`Config::validate`] it (the engine does so too).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Time between the starts of two probes (SWIM's protocol period T').
    /// Must not be zero and must be at least `ping_timeout + pingreq_timeout`.
    #[serde(with = "humantime_serde")]
    pub protocol_period: Duration,
    /// How long to wait for a direct Ack before asking helpers (PingReq). Must not be zero.
    #[serde(with = "humantime_serde")]
    pub ping_timeout: Duration,
    /// How long after sending PingReqs to wait for any Ack before suspecting. Must not be zero.
    #[serde(with = "humantime_serde")]
    pub pingreq_timeout: Duration,
    /// How long a member stays Suspect before it is Confirmed. Must not be zero.
    #[serde(with = "humantime_serde")]
    pub suspicion_timeout: Duration,
    /// How many members are asked to probe a silent target for us (SWIM's k).
    pub pingreq_fanout: usize,
    /// At most this many membership entries, besides the receiver's own, ride on each
    /// Ping/Ack/PingReq (always limited further by `max_datagram_size`).
    pub piggyback_max: usize,
    /// A membership update is piggybacked at most `retransmit_mult * ceil(log10(n + 1))` times
    /// (memberlist's rule), where n is the number of known members; with the `bounded`
    /// dissemination strategy, each rumor is pushed that many times too. Must not be zero.
    pub retransmit_mult: u32,
    /// How many members a gracefully departing member tells directly.
    pub departure_fanout: usize,
    /// How often a member exchanges its full membership with one random member (anti-entropy,
    /// as memberlist's push/pull). It also does so at once with a member it held Confirmed and
    /// hears from again. Must not be zero.
    #[serde(with = "humantime_serde")]
    pub push_pull_interval: Duration,
    /// While we know no other member, how often the bootstrap peers are pinged again.
    #[serde(with = "humantime_serde")]
    pub join_retry_interval: Duration,
    /// A Confirmed member is considered Departed after this long.
    #[serde(with = "humantime_serde")]
    pub confirmed_to_departed: Duration,
    /// The largest datagram sent or accepted, in bytes (Butterfly: 1024). At least 512, at most
    /// 65,507.
    pub max_datagram_size: usize,
    /// The largest stream frame accepted, in bytes. At least `max_datagram_size`.
    pub max_stream_frame_size: usize,
    /// The most members one engine keeps; updates about further members are dropped and counted.
    pub max_members: usize,
    /// The largest service config or file payload, in bytes (Butterfly: 64 KiB).
    pub max_rumor_payload: usize,
    /// How service, config, file, election and departure rumors spread: `"bounded"` (the
    /// default in every preset, `habitat` included, since the presets are about timings) or
    /// `"habitat"` (Butterfly's per-destination heat, for comparison). See
    /// [`Dissemination`].
    #[serde(default)]
    pub dissemination: Dissemination,
    /// Pull-first membership dissemination (with `dissemination = "bounded"` only; ignored
    /// with `"habitat"`, which keeps Butterfly's behaviour). While many updates are queued (a
    /// join storm, a healed partition, a rack of crashes), an update heard second-hand is
    /// pushed on only a few more times and one pulled in a digest exchange not at all; the
    /// bulk moves by digest exchanges, started when a peer's push or a probe's check shows
    /// that our views differ. A lone update (a crash, a suspicion, a refutation) is pushed as
    /// before. `false` pushes every update `retransmit_mult · ⌈log10(n + 1)⌉` times from
    /// every member that learns it (push-only, for comparison). See docs/protocol.md.
    #[serde(default = "default_member_pull")]
    pub member_pull: bool,
    /// With `dissemination = "bounded"` only: a rumor new to us (received, or made here) is
    /// pushed to `gossip_fanout` members a moment after it arrives (`gossip_interval / 50`, so
    /// a burst goes out in one round) instead of at our next gossip round, half a round later
    /// on average. The count of pushes per rumor is unchanged; each hop of a fresh rumor
    /// takes milliseconds instead of half a second. `false` waits for the round (for
    /// comparison). See docs/protocol.md.
    #[serde(default = "default_fresh_push")]
    pub fresh_push: bool,
    /// With pull-first only: while pulling, a digest exchange whose answer would hold 32
    /// records or more answers with (id, incarnation, health) summaries instead; only the
    /// records either side lacks or holds at an older incarnation cross whole, in one more
    /// round trip, and a change of health alone crosses as its summary. Probes then also
    /// check rumor stores while pulling. At 1,000 members it cuts record copies by 12 % and
    /// CPU by 6 %. Off by default: at 1,000 members a healed cut's views are whole 0.65 s
    /// later on average, and a join storm's first rumors reach everyone a little later. A
    /// ring under 32 members runs the same either way. See docs/protocol.md and
    /// docs/performance.md.
    #[serde(default)]
    pub member_summaries: bool,
    /// With `member_summaries`: every digest exchange of a ring of 32 members or more asks for
    /// summaries, not only those started while pulling. The first exchange after a healed cut
    /// (started by a member whose own view had been at rest) then carries summaries instead
    /// of two whole views, and a record the answer shows Alive where we hold it Confirmed is
    /// answered with our Confirmed summary (the answerer checks the claim with its member,
    /// which refutes) instead of our checking every such member with a ProbePing. A healed
    /// cut so mends through refutations: at 1,000 members the simulator's heal costs half
    /// the CPU, and views are whole a few seconds later; at 10,000 members it saves no CPU
    /// and the heal takes 33 s instead of 13 s. Off by default; `scale_1k_lean.toml` sets
    /// it. See docs/performance.md.
    #[serde(default)]
    pub member_summaries_at_rest: bool,
    /// With pull-first only: during a mass change, how many more times a member pushes an
    /// update it heard second-hand or reached on its own (a suspicion's deadline); the rest of
    /// the way is pulled. Updates only we can be the source of, refutations of a suspicion and
    /// departures are always pushed in full, and outside a mass change every update is. 3 by
    /// default; 1 (with `member_summaries`) is `scale_10k_lean.toml`'s setting: at 10,000
    /// members fewer record copies and less CPU than summaries alone, at the cost of crashes
    /// during a mass change confirmed everywhere a few seconds later. Must not be zero. See
    /// docs/protocol.md and docs/performance.md.
    #[serde(default = "default_push_hops")]
    pub push_hops: u32,
    /// How often rumors are pushed over streams (Butterfly: 1 s). Must not be zero.
    #[serde(with = "humantime_serde", default = "default_gossip_interval")]
    pub gossip_interval: Duration,
    /// How many members each rumor push goes to per `gossip_interval` (Butterfly: 5). Must not
    /// be zero.
    #[serde(default = "default_gossip_fanout")]
    pub gossip_fanout: usize,
    /// How often (with the `bounded` strategy) a member exchanges a digest of its rumors with one
    /// random live member, each then sending the other only what it lacks. Scaled like
    /// `push_pull_interval` beyond 32 members. Must not be zero.
    #[serde(with = "humantime_serde", default = "default_anti_entropy_interval")]
    pub anti_entropy_interval: Duration,
    /// At most this many ProbePings (checks of Confirmed claims about members we hold Alive,
    /// and of Alive reports about members we hold Confirmed) are started per protocol period.
    /// After a heal a single full exchange can carry a thousand such claims, and every member
    /// receives several; beyond the budget a claim is left unchecked and our own view kept
    /// (our own probes still find a member that really failed). At least 1.
    #[serde(default = "default_probe_ping_budget")]
    pub probe_ping_budget: u32,
    /// How far one second-hand record may raise a member's incarnation past the one held (and
    /// a claim about us past ours), and a config or file version past the one in force. An
    /// honest member raises its incarnation by one per refutation or restart; a record that
    /// jumps further is dropped as implausible, so no message can push an incarnation where
    /// its member cannot outbid it. Must not be zero.
    #[serde(default = "default_max_incarnation_step")]
    pub max_incarnation_step: u64,
    /// How far a config or file version may jump past the one in force (versions are often
    /// timestamps, so this is generous); the first version of a group's config or file may not
    /// pass 2^53. No message can then push a version where an operator cannot outbid it. Must
    /// not be zero.
    #[serde(default = "default_max_version_step")]
    pub max_version_step: u64,
    /// The most rumors of one kind (services, configs, files, elections, departures) the store
    /// holds; a new one past it is refused and counted. Must not be zero.
    #[serde(default = "default_max_rumors_per_kind")]
    pub max_rumors_per_kind: usize,
    /// The most payload bytes (service configs, group configs, files) the rumors of one kind
    /// hold together; a rumor that would pass it is refused and counted. Must not be below
    /// `max_rumor_payload`.
    #[serde(default = "default_max_rumor_bytes_per_kind")]
    pub max_rumor_bytes_per_kind: usize,
    /// Members we never heard from directly cannot crowd out the ones we have: after a probe
    /// of a member we never heard from fails, the next probe goes to a member that has
    /// answered us, and PingReq helpers are taken from such members first (topped up with
    /// others; only the heard ones' missing Nacks count against us under Lifeguard). A
    /// stranger who invents hundreds of members so slows only the probing of the invented
    /// ones. Until such a probe fails the order is SWIM's round-robin; `false` keeps it
    /// always (Butterfly).
    #[serde(default = "default_true")]
    pub fair_probing: bool,
    /// Lifeguard (Dadgar, Phillips, Currey 2018): the master switch for the three mechanisms
    /// below, each of which also has its own switch. Off in the `habitat` preset (Butterfly has
    /// none of them), on in `lan` and `local`.
    pub lifeguard: bool,
    /// Local health awareness: a member that misses Acks and Nacks it should have had, or has
    /// to refute suspicions about itself, stretches its own probe period and timeouts by up to
    /// `awareness_max_multiplier`, and relaxes as probes succeed. PingReq helpers answer with
    /// a Nack when the target stays silent.
    pub lifeguard_awareness: bool,
    /// Dynamic suspicion timeout: a suspicion starts at `suspicion_max_multiplier` times the
    /// minimum and shrinks toward the minimum (`suspicion_timeout`) as independent members
    /// confirm it.
    pub lifeguard_dynamic_suspicion: bool,
    /// Buddy system: a probe of a member we hold Suspect carries that suspicion first, so the
    /// member can refute at once. (Butterfly always piggybacks the target's own entry first,
    /// which has the same effect; with `lifeguard = false` that faithful behaviour is kept, and
    /// only `lifeguard = true, lifeguard_buddy = false` turns it off, for comparison.)
    pub lifeguard_buddy: bool,
    /// Upper bound of the local health multiplier (memberlist: 8). At least 1.
    pub awareness_max_multiplier: u32,
    /// A fresh suspicion lasts this many times the minimum before any confirmation, scaled by
    /// log10 of the ring size (memberlist's SuspicionMaxTimeoutMult: 6). At least 1.
    pub suspicion_max_multiplier: u32,
    /// Independent confirmations after which a suspicion lasts only `suspicion_timeout`
    /// (memberlist: suspicion multiplier − 2 = 2). At least 1.
    pub suspicion_confirmations: u32,
    /// Wire compatibility with other implementations: `"none"` (the default) or `"habitat"`,
    /// to share a ring with Chef Habitat Supervisors (Butterfly). See [`Compat`].
    #[serde(default)]
    pub compat: Compat,
}

/// Which peers besides swallowtail members the engine must be able to talk to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compat {
    /// swallowtail members only: every extension is used with every peer.
    #[default]
    None,
    /// Butterfly members too (`engine/src/compat.rs`): datagrams of at most 1,024 bytes and
    /// IPv4 only, a `from.address` left out is taken from the datagram's source, rumors go one
    /// per message to peers not known to speak swallowtail's extensions, `Rumor.from_id`
    /// names the rumor's originator, and nothing that would make Butterfly panic or
    /// mis-handle a rumor is sent to such a peer.
    Habitat,
}

/// How rumors (other than membership) spread through the ring.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dissemination {
    /// Butterfly's: a rumor is hot for each member until sent to it twice; every
    /// `gossip_interval`, up to `gossip_fanout` members with hot rumors get all of them, one
    /// rumor per frame. O(N²) traffic and memory per member; kept for comparison.
    Habitat,
    /// Each rumor is pushed `retransmit_mult · ⌈log10(n + 1)⌉` times in all (least-sent and
    /// newest first, batched per frame) to `gossip_fanout` random live members every
    /// `gossip_interval`, and anti-entropy digests every `anti_entropy_interval` repair what
    /// the pushes missed. No per-destination state.
    #[default]
    Bounded,
}

fn default_member_pull() -> bool {
    true
}

fn default_fresh_push() -> bool {
    true
}

fn default_gossip_interval() -> Duration {
    Duration::from_secs(1)
}

fn default_gossip_fanout() -> usize {
    5
}

fn default_anti_entropy_interval() -> Duration {
    Duration::from_secs(10)
}

/// A [`Config`] that cannot work; the message names the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid protocol config: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Butterfly's timings: ping 1000 ms, PingReq 2100 ms, period 3100 ms, suspicion three
    /// periods, PingReq fan-out 5, five piggybacked members, 1024-byte datagrams.
    pub fn habitat() -> Self {
        Config {
            protocol_period: Duration::from_millis(3100),
            ping_timeout: Duration::from_millis(1000),
            pingreq_timeout: Duration::from_millis(2100),
            suspicion_timeout: Duration::from_millis(9300),
            pingreq_fanout: 5,
            piggyback_max: 5,
            retransmit_mult: 4,
            departure_fanout: 10,
            push_pull_interval: Duration::from_secs(30),
            join_retry_interval: Duration::from_millis(3100),
            confirmed_to_departed: Duration::from_secs(3 * 24 * 3600),
            max_datagram_size: 1024,
            max_stream_frame_size: 4 * 1024 * 1024,
            max_members: 100_000,
            max_rumor_payload: 64 * 1024,
            dissemination: Dissemination::Bounded,
            member_pull: true,
            fresh_push: true,
            member_summaries: false,
            member_summaries_at_rest: false,
            push_hops: default_push_hops(),
            gossip_interval: Duration::from_secs(1),
            gossip_fanout: 5,
            anti_entropy_interval: Duration::from_secs(10),
            probe_ping_budget: default_probe_ping_budget(),
            max_incarnation_step: default_max_incarnation_step(),
            max_version_step: default_max_version_step(),
            max_rumors_per_kind: default_max_rumors_per_kind(),
            max_rumor_bytes_per_kind: default_max_rumor_bytes_per_kind(),
            fair_probing: true,
            lifeguard: false,
            lifeguard_awareness: true,
            lifeguard_dynamic_suspicion: true,
            lifeguard_buddy: true,
            awareness_max_multiplier: 8,
            suspicion_max_multiplier: 6,
            suspicion_confirmations: 2,
            compat: Compat::None,
        }
    }

    /// A data-centre LAN: one-second periods, detection in a few seconds (memberlist's LAN
    /// profile in spirit).
    pub fn lan() -> Self {
        Config {
            protocol_period: Duration::from_millis(1000),
            ping_timeout: Duration::from_millis(300),
            pingreq_timeout: Duration::from_millis(600),
            suspicion_timeout: Duration::from_secs(5),
            pingreq_fanout: 3,
            piggyback_max: 8,
            max_datagram_size: 1400,
            push_pull_interval: Duration::from_secs(30),
            join_retry_interval: Duration::from_secs(1),
            lifeguard: true,
            ..Config::habitat()
        }
    }

    /// A single host or test rig: half-second periods.
    pub fn local() -> Self {
        Config {
            protocol_period: Duration::from_millis(500),
            ping_timeout: Duration::from_millis(100),
            pingreq_timeout: Duration::from_millis(300),
            suspicion_timeout: Duration::from_secs(2),
            pingreq_fanout: 3,
            piggyback_max: 8,
            max_datagram_size: 1400,
            push_pull_interval: Duration::from_secs(15),
            join_retry_interval: Duration::from_millis(500),
            gossip_interval: Duration::from_millis(500),
            anti_entropy_interval: Duration::from_secs(5),
            lifeguard: true,
            ..Config::habitat()
        }
    }

    /// Whether pull-first membership dissemination is in force (`member_pull` with the
    /// `bounded` strategy).
    pub fn pull_first(&self) -> bool {
        self.member_pull && self.dissemination == Dissemination::Bounded
    }

    /// Whether pulling digest exchanges ask for summaries (`member_summaries` with
    /// pull-first).
    pub fn summaries_on(&self) -> bool {
        self.member_summaries && self.pull_first()
    }

    /// Whether a digest exchange we start asks for summaries: with summaries on, while we
    /// pull (`pulling`), or always with `member_summaries_at_rest`.
    pub fn asks_for_summaries(&self, pulling: bool) -> bool {
        self.summaries_on() && (pulling || self.member_summaries_at_rest)
    }

    /// Whether fresh rumors are pushed at once (`fresh_push` with the `bounded` strategy).
    pub fn fresh_push_on(&self) -> bool {
        self.fresh_push && self.dissemination == Dissemination::Bounded
    }

    /// Whether local health awareness is in force.
    pub fn awareness_on(&self) -> bool {
        self.lifeguard && self.lifeguard_awareness
    }

    /// Whether the dynamic suspicion timeout is in force.
    pub fn dynamic_suspicion_on(&self) -> bool {
        self.lifeguard && self.lifeguard_dynamic_suspicion
    }

    /// Whether a probe carries the target's own entry first (the buddy system; always so
    /// without Lifeguard, as in Butterfly).
    pub fn buddy_on(&self) -> bool {
        !self.lifeguard || self.lifeguard_buddy
    }

    /// The preset called `name` (`habitat`, `lan` or `local`).
    pub fn preset(name: &str) -> Option<Self> {
        match name {
            "habitat" => Some(Self::habitat()),
            "lan" => Some(Self::lan()),
            "local" => Some(Self::local()),
            _ => None,
        }
    }

    /// Checks every documented constraint.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let nonzero = [
            ("protocol_period", self.protocol_period),
            ("ping_timeout", self.ping_timeout),
            ("pingreq_timeout", self.pingreq_timeout),
            ("suspicion_timeout", self.suspicion_timeout),
            ("push_pull_interval", self.push_pull_interval),
            ("join_retry_interval", self.join_retry_interval),
            ("confirmed_to_departed", self.confirmed_to_departed),
            ("gossip_interval", self.gossip_interval),
            ("anti_entropy_interval", self.anti_entropy_interval),
        ];
        for (name, d) in nonzero {
            if d.is_zero() {
                return Err(ConfigError(format!("{name} must not be zero")));
            }
        }
        if self.ping_timeout + self.pingreq_timeout > self.protocol_period {
            return Err(ConfigError(format!(
                "ping_timeout ({:?}) + pingreq_timeout ({:?}) must not exceed protocol_period ({:?})",
                self.ping_timeout, self.pingreq_timeout, self.protocol_period
            )));
        }
        if self.gossip_fanout == 0 {
            return Err(ConfigError("gossip_fanout must not be zero".into()));
        }
        if self.retransmit_mult == 0 {
            return Err(ConfigError("retransmit_mult must not be zero".into()));
        }
        if self.compat == Compat::Habitat && self.max_datagram_size > 1024 {
            return Err(ConfigError(format!(
                "max_datagram_size ({}) must be at most 1024 with compat = \"habitat\" (Butterfly's receive buffer)",
                self.max_datagram_size
            )));
        }
        if !(512..=65_507).contains(&self.max_datagram_size) {
            return Err(ConfigError(format!(
                "max_datagram_size must be between 512 and 65507 bytes, got {}",
                self.max_datagram_size
            )));
        }
        if self.max_stream_frame_size < self.max_datagram_size {
            return Err(ConfigError(
                "max_stream_frame_size must be at least max_datagram_size".into(),
            ));
        }
        for (name, v) in [
            ("awareness_max_multiplier", self.awareness_max_multiplier),
            ("suspicion_max_multiplier", self.suspicion_max_multiplier),
            ("suspicion_confirmations", self.suspicion_confirmations),
            ("probe_ping_budget", self.probe_ping_budget),
            ("push_hops", self.push_hops),
        ] {
            if v == 0 {
                return Err(ConfigError(format!("{name} must be at least 1")));
            }
        }
        if self.max_incarnation_step == 0 || self.max_version_step == 0 {
            return Err(ConfigError(
                "max_incarnation_step and max_version_step must be at least 1".into(),
            ));
        }
        if self.max_rumors_per_kind == 0 || self.max_rumor_bytes_per_kind < self.max_rumor_payload {
            return Err(ConfigError(
                "max_rumors_per_kind must be at least 1 and max_rumor_bytes_per_kind at least max_rumor_payload".into(),
            ));
        }
        if self.max_members < 2 {
            return Err(ConfigError("max_members must be at least 2".into()));
        }
        if self.max_rumor_payload == 0 || self.max_rumor_payload >= self.max_stream_frame_size {
            return Err(ConfigError(
                "max_rumor_payload must be non-zero and below max_stream_frame_size".into(),
            ));
        }
        Ok(())
    }
}

fn default_push_hops() -> u32 {
    3
}

fn default_probe_ping_budget() -> u32 {
    256
}

fn default_max_incarnation_step() -> u64 {
    1 << 20
}

fn default_max_version_step() -> u64 {
    1 << 40
}

fn default_max_rumors_per_kind() -> usize {
    100_000
}

fn default_max_rumor_bytes_per_kind() -> usize {
    32 * 1024 * 1024
}

fn default_true() -> bool {
    true
}

impl Default for Config {
    /// The `lan` preset.
    fn default() -> Self {
        Config::lan()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid() {
        for name in ["habitat", "lan", "local"] {
            let c = Config::preset(name).expect("preset exists");
            assert_eq!(c.validate(), Ok(()), "{name}");
        }
        assert!(Config::preset("wan").is_none());
    }

    #[test]
    fn habitat_matches_butterfly() {
        let c = Config::habitat();
        assert_eq!(c.ping_timeout, Duration::from_millis(1000));
        assert_eq!(c.pingreq_timeout, Duration::from_millis(2100));
        assert_eq!(c.protocol_period, Duration::from_millis(3100));
        assert_eq!(c.suspicion_timeout, 3 * c.protocol_period);
        assert_eq!(c.pingreq_fanout, 5);
        assert_eq!(c.piggyback_max, 5);
        assert_eq!(c.max_datagram_size, 1024);
    }

    #[test]
    fn zero_and_contradictory_values_are_refused() {
        let mut c = Config::lan();
        c.suspicion_timeout = Duration::ZERO;
        let e = c.validate().expect_err("zero suspicion");
        assert!(e.0.contains("suspicion_timeout"), "{e}");

        let mut c = Config::lan();
        c.ping_timeout = Duration::from_secs(2);
        let e = c.validate().expect_err("timeouts longer than period");
        assert!(e.0.contains("protocol_period"), "{e}");

        let mut c = Config::lan();
        c.max_datagram_size = 10;
        assert!(c.validate().is_err());

        let mut c = Config::lan();
        c.push_hops = 0;
        let e = c.validate().expect_err("zero push hops");
        assert!(e.0.contains("push_hops"), "{e}");
    }

    #[test]
    fn dissemination_is_bounded_by_default_and_parses_in_lowercase() {
        for name in ["habitat", "lan", "local"] {
            let c = Config::preset(name).expect("preset");
            assert_eq!(c.dissemination, Dissemination::Bounded, "{name}");
            assert_eq!(c.gossip_fanout, 5);
        }
        assert_eq!(Config::habitat().gossip_interval, Duration::from_secs(1));
        let mut text = toml::to_string(&Config::habitat()).expect("serialize");
        assert!(text.contains("dissemination = \"bounded\""), "{text}");
        text = text.replace("\"bounded\"", "\"habitat\"");
        let c: Config = toml::from_str(&text).expect("parse");
        assert_eq!(c.dissemination, Dissemination::Habitat);
        assert!(toml::from_str::<Config>(&text.replace("\"habitat\"", "\"Habitat\"")).is_err());
        // Files written before these fields existed still load, with the defaults.
        let old: String = text
            .lines()
            .filter(|l| {
                ![
                    "dissemination",
                    "member_pull",
                    "fresh_push",
                    "member_summaries",
                    "member_summaries_at_rest",
                    "push_hops",
                    "gossip_interval",
                    "gossip_fanout",
                    "anti_entropy_interval",
                ]
                .iter()
                .any(|k| l.starts_with(k))
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let c: Config = toml::from_str(&old).expect("parse without the new fields");
        assert_eq!(c.dissemination, Dissemination::Bounded);
        assert!(c.member_pull && c.pull_first() && c.fresh_push);
        assert!(!c.member_summaries && !c.summaries_on());
        assert!(!c.member_summaries_at_rest && !c.asks_for_summaries(true));
        let summaries = Config {
            member_summaries: true,
            ..c.clone()
        };
        assert!(summaries.asks_for_summaries(true) && !summaries.asks_for_summaries(false));
        let at_rest = Config {
            member_summaries_at_rest: true,
            ..summaries.clone()
        };
        assert!(at_rest.asks_for_summaries(false), "at rest too");
        let without = Config {
            member_summaries: false,
            ..at_rest
        };
        assert!(!without.asks_for_summaries(false), "only with summaries on");
        assert_eq!(c.push_hops, 3);
        let c = Config {
            dissemination: Dissemination::Habitat,
            ..Config::lan()
        };
        assert!(!c.pull_first(), "Butterfly's strategy never pulls first");
        assert!(!c.fresh_push_on(), "nor pushes fresh rumors early");
        let mut c = Config::lan();
        c.gossip_fanout = 0;
        assert!(c
            .validate()
            .expect_err("zero fanout")
            .0
            .contains("gossip_fanout"));
        let mut c = Config::lan();
        c.anti_entropy_interval = Duration::ZERO;
        assert!(c.validate().is_err());
    }

    #[test]
    fn toml_round_trip_with_human_durations() {
        let text = toml::to_string(&Config::habitat()).expect("serialize");
        assert!(text.contains("suspicion_timeout = \"9s 300ms\""), "{text}");
        let back: Config = toml::from_str(&text).expect("parse");
        assert_eq!(back, Config::habitat());
        let bad = text.replace("piggyback_max", "piggyback_maxx");
        assert!(toml::from_str::<Config>(&bad).is_err());
    }
}
