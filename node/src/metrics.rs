//! Every metric engine-node exports on `GET /metrics`, defined once: its name, Prometheus type
//! and help text. The driver pairs the transport metrics with values when it takes a snapshot;
//! the gateway renders them ([`crate::gateway::render::metrics`]). A metric is named here and
//! nowhere else, so the page and the driver cannot disagree about what exists.

use std::fmt::Write as _;

use engine::Metrics;

/// A Prometheus metric type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only ever grows.
    Counter,
    /// A value now.
    Gauge,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
        }
    }
}

/// One exported metric (a family, when it has labels).
#[derive(Debug)]
pub struct Metric {
    /// The full name, `swallowtail_…`.
    pub name: &'static str,
    /// Its type line.
    pub kind: Kind,
    /// Its help line.
    pub help: &'static str,
}

impl Metric {
    const fn counter(name: &'static str, help: &'static str) -> Self {
        Self {
            name,
            kind: Kind::Counter,
            help,
        }
    }

    const fn gauge(name: &'static str, help: &'static str) -> Self {
        Self {
            name,
            kind: Kind::Gauge,
            help,
        }
    }

    /// Appends the `# HELP` and `# TYPE` lines.
    pub fn header(&self, out: &mut String) {
        let (name, help, kind) = (self.name, self.help, self.kind.as_str());
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    /// Appends the header and one unlabelled sample.
    pub fn sample(&self, out: &mut String, value: impl std::fmt::Display) {
        self.header(out);
        let _ = writeln!(out, "{} {value}", self.name);
    }
}

/// Messages by channel and direction (labels `channel`, `direction`).
pub const MESSAGES: Metric = Metric::counter(
    "swallowtail_messages_total",
    "Messages by channel and direction.",
);
/// Bytes by channel and direction (labels `channel`, `direction`).
pub const BYTES: Metric =
    Metric::counter("swallowtail_bytes_total", "Bytes by channel and direction.");
/// Other members known, by health (label `health`).
pub const MEMBERS: Metric = Metric::gauge(
    "swallowtail_members",
    "Other members known, by the health held.",
);
/// Input the engine dropped, by reason (label `reason`).
pub const DROPPED_INPUT: Metric = Metric::counter(
    "swallowtail_dropped_input_total",
    "Input dropped by the engine, by reason.",
);
/// Rumors held, by kind (label `kind`).
pub const RUMORS: Metric = Metric::gauge("swallowtail_rumors", "Rumors held, by kind.");
/// This member's incarnation.
pub const INCARNATION: Metric = Metric::gauge("swallowtail_incarnation", "Our incarnation.");
/// Seconds since start.
pub const UPTIME: Metric = Metric::gauge(
    "swallowtail_uptime_seconds",
    "Seconds since the node started.",
);

/// Reads one of the engine's counters.
pub type Read = fn(&Metrics) -> u64;

/// The engine's own counters, each with the field of [`Metrics`] it reads.
pub const ENGINE_COUNTERS: [(Metric, Read); 11] = [
    (
        Metric::counter("swallowtail_probes_total", "Probes started."),
        |m| m.probes,
    ),
    (
        Metric::counter("swallowtail_pingreqs_sent_total", "PingReqs sent."),
        |m| m.pingreqs_sent,
    ),
    (
        Metric::counter("swallowtail_refutations_total", "Claims about us refuted."),
        |m| m.refutations,
    ),
    (
        Metric::counter("swallowtail_probe_pings_sent_total", "ProbePings sent."),
        |m| m.probe_pings_sent,
    ),
    (
        Metric::counter(
            "swallowtail_refutations_checked_total",
            "Second-hand refutations checked with the member itself before being believed (ring key set).",
        ),
        |m| m.refutations_checked,
    ),
    (
        Metric::counter(
            "swallowtail_push_pulls_total",
            "Membership digest exchanges started.",
        ),
        |m| m.push_pulls,
    ),
    (
        Metric::counter(
            "swallowtail_view_checks_total",
            "Membership anti-entropy checks sent on a Ping.",
        ),
        |m| m.view_checks,
    ),
    (
        Metric::counter(
            "swallowtail_rumor_checks_total",
            "Rumor anti-entropy checks sent on a Ping.",
        ),
        |m| m.rumor_checks,
    ),
    (
        Metric::counter(
            "swallowtail_anti_entropy_syncs_total",
            "Rumor digest exchanges started.",
        ),
        |m| m.anti_entropy_syncs,
    ),
    (
        Metric::counter(
            "swallowtail_rumors_refused_full_total",
            "Rumors refused because the store was full for their kind.",
        ),
        |m| m.rumors_refused_full,
    ),
    (
        Metric::counter(
            "swallowtail_compat_withheld_total",
            "Rumors and exchanges not sent to a Habitat Supervisor (--compat habitat) because it would refuse, mis-handle or panic on them.",
        ),
        |m| m.compat_withheld,
    ),
];

// The transports' figures (crate::transport::TransportStats and the stream pool). They are
// exported as gauges, counts that only grow among them, under the names operators already
// scrape.

/// Datagrams the kernel refused to send.
pub const UDP_SEND_FAILED: Metric = Metric::gauge(
    "swallowtail_transport_udp_send_failed",
    "Datagrams the kernel refused to send.",
);
/// Stream frames dropped because a peer queue or the byte budget was full.
pub const STREAM_QUEUE_FULL: Metric = Metric::gauge(
    "swallowtail_transport_stream_queue_full",
    "Stream frames dropped: peer queue or byte budget full.",
);
/// Stream frames dropped because too many peers were connected.
pub const STREAM_TOO_MANY_PEERS: Metric = Metric::gauge(
    "swallowtail_transport_stream_too_many_peers",
    "Stream frames dropped: too many peers connected.",
);
/// Outbound gossip connections that failed or timed out.
pub const CONNECT_FAILED: Metric = Metric::gauge(
    "swallowtail_transport_connect_failed",
    "Outbound gossip connections that failed or timed out.",
);
/// Outbound gossip connections closed after a write error or timeout.
pub const WRITE_FAILED: Metric = Metric::gauge(
    "swallowtail_transport_write_failed",
    "Outbound gossip connections closed after a write error or timeout.",
);
/// Outbound gossip connections opened.
pub const CONNECTIONS_OPENED: Metric = Metric::gauge(
    "swallowtail_transport_connections_opened",
    "Outbound gossip connections opened.",
);
/// Outbound gossip connections open now.
pub const OUTBOUND_CONNECTIONS: Metric = Metric::gauge(
    "swallowtail_transport_outbound_connections",
    "Outbound gossip connections open now.",
);
/// Bytes queued for outbound gossip connections now.
pub const QUEUED_BYTES: Metric = Metric::gauge(
    "swallowtail_transport_queued_bytes",
    "Bytes queued for outbound gossip connections now.",
);
/// Inbound gossip connections open now.
pub const INBOUND_CONNECTIONS: Metric = Metric::gauge(
    "swallowtail_transport_inbound_connections",
    "Inbound gossip connections open now.",
);
/// Inbound gossip connections refused because too many were open.
pub const INBOUND_REFUSED: Metric = Metric::gauge(
    "swallowtail_transport_inbound_refused",
    "Inbound gossip connections refused: too many open.",
);
/// Inbound gossip connections closed for bad framing.
pub const INBOUND_BAD_FRAMING: Metric = Metric::gauge(
    "swallowtail_transport_inbound_bad_framing",
    "Inbound gossip connections closed for bad framing.",
);
/// Inbound frames dropped because the engine's input queue was full.
pub const INPUT_QUEUE_FULL: Metric = Metric::gauge(
    "swallowtail_transport_input_queue_full",
    "Inbound frames dropped: the engine's input queue was full.",
);

/// Inbound connections refused: too many from one source address.
pub const INBOUND_SOURCE_REFUSED: Metric = Metric::gauge(
    "swallowtail_transport_inbound_source_refused",
    "Inbound gossip connections refused: too many from one address.",
);
/// Inbound connections closed because the frame budget was full.
pub const INBOUND_BUDGET_FULL: Metric = Metric::gauge(
    "swallowtail_transport_inbound_budget_full",
    "Inbound gossip connections closed: the inbound frame memory budget was full.",
);
/// Inbound connections closed for sending no accepted frame in time.
pub const INBOUND_UNTRUSTED_TIMEOUT: Metric = Metric::gauge(
    "swallowtail_transport_inbound_untrusted_timeout",
    "Inbound gossip connections closed: no accepted frame in time.",
);
/// Inbound connections closed after the engine dropped one of their frames.
pub const INBOUND_REJECTED: Metric = Metric::gauge(
    "swallowtail_transport_inbound_rejected",
    "Inbound gossip connections closed: a frame was malformed or unauthenticated.",
);
/// Bytes of inbound frames held now.
pub const INBOUND_FRAME_BYTES: Metric = Metric::gauge(
    "swallowtail_transport_inbound_frame_bytes",
    "Bytes of inbound gossip frames held now (read or waiting for the engine).",
);
/// The limit on inbound connections, derived from the descriptor limit.
pub const INBOUND_CONNECTION_LIMIT: Metric = Metric::gauge(
    "swallowtail_transport_inbound_connection_limit",
    "Inbound gossip connections allowed at once.",
);

#[cfg(test)]
mod tests {
    use super::*;

    /// Prometheus names: `[a-zA-Z_:][a-zA-Z0-9_:]*`, ours all under `swallowtail_`; a counter's
    /// name ends in `_total`.
    #[test]
    fn names_are_valid_and_counters_end_in_total() {
        let mut all: Vec<&Metric> = vec![&MESSAGES, &BYTES, &MEMBERS, &DROPPED_INPUT, &RUMORS];
        all.extend([&INCARNATION, &UPTIME]);
        all.extend(ENGINE_COUNTERS.iter().map(|(m, _)| m));
        all.extend([
            &UDP_SEND_FAILED,
            &STREAM_QUEUE_FULL,
            &STREAM_TOO_MANY_PEERS,
            &CONNECT_FAILED,
        ]);
        all.extend([
            &WRITE_FAILED,
            &CONNECTIONS_OPENED,
            &OUTBOUND_CONNECTIONS,
            &QUEUED_BYTES,
        ]);
        all.extend([
            &INBOUND_CONNECTIONS,
            &INBOUND_REFUSED,
            &INBOUND_BAD_FRAMING,
            &INPUT_QUEUE_FULL,
        ]);
        for m in &all {
            assert!(m.name.starts_with("swallowtail_"), "{}", m.name);
            assert!(
                m.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{}",
                m.name
            );
            if m.kind == Kind::Counter {
                assert!(m.name.ends_with("_total"), "{}", m.name);
            }
        }
        let mut names: Vec<&str> = all.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len(), "a metric name is defined twice");
    }
}
