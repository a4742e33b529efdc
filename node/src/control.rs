//! The control channel between the HTTP gateway (or the signal handler) and the driver.

use std::sync::Arc;
use std::time::Duration;

use smol::channel::Sender;

use super::metrics::Metric;
use super::sealed::ServiceKeys;
use engine::census::Census;
use engine::crypto::{KeyName, Keyring, RingKey};
use engine::id::MemberId;
use engine::member::{Member, Membership};
use engine::metrics::Metrics;
use engine::rumor::{Election, RumorKind, Topology};

/// A request to the task that owns the engine. Every variant that expects an answer carries
/// the sender for it; a dropped sender just means the requester went away.
#[derive(Debug)]
pub enum Command {
    /// A copy of the state the gateway shows.
    Snapshot(Sender<Snapshot>),
    /// Depart `member` on the operator's behalf.
    Depart {
        /// The member to depart.
        member: MemberId,
        /// An operator key's signature of the departure, if the operator signed it.
        signature: Option<[u8; 64]>,
        /// The outcome.
        reply: Sender<Result<(), ControlError>>,
    },
    /// An operator action on rumors (configs, files, services).
    Rumor {
        /// What to do.
        action: RumorAction,
        /// The outcome.
        reply: Sender<Result<(), ControlError>>,
    },
    /// List or change the ring keys.
    RingKeys {
        /// What to do.
        action: RingKeyAction,
        /// The keys in force afterwards, or why nothing changed.
        reply: Sender<Result<RingKeysView, ControlError>>,
    },
    /// Leave the ring gracefully, save state and stop (SIGINT/SIGTERM).
    Shutdown,
}

/// A change to the ring keys of a running node (memberlist's keyring operations).
#[derive(Clone, Debug)]
pub enum RingKeyAction {
    /// Just list them.
    List,
    /// Add a key next to the others, the primary unchanged (or start encrypting with it).
    Install(RingKey),
    /// Make a held key the one that seals.
    Use(KeyName),
    /// Drop a key that is not the primary.
    Remove(KeyName),
}

/// The ring keys in force (names only; never the keys).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RingKeysView {
    /// Every key's `NAME-REVISION`, newest first.
    pub keys: Vec<String>,
    /// The key that seals (`None`: the ring is not encrypted).
    pub primary: Option<String>,
}

impl RingKeysView {
    /// The view of `ring`.
    pub fn of(ring: Option<&Keyring>) -> Self {
        match ring {
            None => RingKeysView::default(),
            Some(r) => RingKeysView {
                keys: r.keys().iter().map(|k| k.name().to_string()).collect(),
                primary: Some(r.primary().name().to_string()),
            },
        }
    }
}

/// Operator actions carried by rumors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RumorAction {
    /// Apply a service config to a group.
    ApplyConfig {
        /// `service.group`.
        group: String,
        /// Must be higher than the version in force.
        version: u64,
        /// The config (TOML) bytes, or a sealed `BOX-1` payload if `encrypted`.
        body: Vec<u8>,
        /// The body is sealed to the group's public key.
        encrypted: bool,
    },
    /// Upload a file to a group.
    UploadFile {
        /// `service.group`.
        group: String,
        /// The file's name.
        filename: String,
        /// Must be higher than the version in force.
        version: u64,
        /// The file's bytes, or a sealed `BOX-1` payload if `encrypted`.
        body: Vec<u8>,
        /// The body is sealed to the group's public key.
        encrypted: bool,
    },
    /// Announce that this member runs a service group.
    AnnounceService {
        /// `service.group`.
        group: String,
        /// How the group is organized.
        topology: Topology,
    },
    /// Withdraw this member's announcement of a service group.
    WithdrawService {
        /// `service.group`.
        group: String,
    },
}

/// Why a control request failed; the gateway maps each to an HTTP status.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// The payload is larger than the ring carries (HTTP 413). Nothing changed.
    #[error("{0}")]
    TooLarge(String),
    /// The request names something that does not exist (HTTP 404). Nothing changed.
    #[error("{0}")]
    NotFound(String),
    /// The request cannot be carried out as asked (HTTP 409). Nothing changed.
    #[error("{0}")]
    Rejected(String),
    /// The request lacks a signature this node trusts (HTTP 403). Nothing changed.
    #[error("{0}")]
    Forbidden(String),
    /// The node is shutting down (HTTP 503). Nothing changed.
    #[error("the node is shutting down")]
    ShuttingDown,
    /// The change was made and is gossiped, but could not be saved to this node's data dir
    /// (HTTP 507 when the disk is full, 500 otherwise): it is not acknowledged as durable.
    #[error("the change is not on disk: {why}")]
    NotSaved {
        /// The disk (or the quota) is full.
        full: bool,
        /// The error.
        why: String,
    },
}

/// What the gateway shows: a copy of the engine's state at one moment.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// Our own record (current incarnation).
    pub me: Member,
    /// Whether we have departed.
    pub departed: bool,
    /// Every other member we know of, with its health.
    pub members: Vec<Membership>,
    /// The engine's counters.
    pub metrics: Metrics,
    /// The transports' figures, each with its metric.
    pub transport: Vec<(&'static Metric, u64)>,
    /// The preset in force.
    pub preset: String,
    /// Service groups this member announced (`--service`, `service announce`).
    pub services: Vec<String>,
    /// The census (services, configs, files, leaders per group).
    pub census: Census,
    /// Rumors held, per kind.
    pub rumor_counts: Vec<(RumorKind, usize)>,
    /// Members departed by an operator.
    pub departures: Vec<MemberId>,
    /// Elections held (leader and update), as stored.
    pub elections: Vec<(&'static str, Election)>,
    /// The service keys this node opens sealed payloads with.
    pub service_keys: Arc<ServiceKeys>,
    /// The ring keys in force.
    pub ring_keys: RingKeysView,
    /// Time since the node started.
    pub uptime: Duration,
}
