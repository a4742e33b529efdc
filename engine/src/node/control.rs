//! The control channel between the HTTP gateway (or the signal handler) and the driver.

use std::time::Duration;

use smol::channel::Sender;

use crate::id::MemberId;
use crate::member::{Member, Membership};
use crate::metrics::Metrics;

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
    /// Leave the ring gracefully, save state and stop (SIGINT/SIGTERM).
    Shutdown,
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
        /// The config (TOML) bytes.
        body: Vec<u8>,
    },
    /// Upload a file to a group.
    UploadFile {
        /// `service.group`.
        group: String,
        /// The file's name.
        filename: String,
        /// Must be higher than the version in force.
        version: u64,
        /// The file's bytes.
        body: Vec<u8>,
    },
    /// Announce that this member runs a service group.
    AnnounceService {
        /// `service.group`.
        group: String,
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
    /// The engine does not implement this yet (HTTP 501). Nothing changed.
    #[error("{0} is not yet supported by this engine")]
    Unsupported(&'static str),
    /// The request cannot be carried out as asked (HTTP 400/404/409). Nothing changed.
    #[error("{0}")]
    Rejected(String),
    /// The node is shutting down (HTTP 503). Nothing changed.
    #[error("the node is shutting down")]
    ShuttingDown,
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
    /// The transports' counters, as (name, help, value).
    pub transport: Vec<(&'static str, &'static str, u64)>,
    /// The preset in force.
    pub preset: String,
    /// Service groups named with `--service` (announced once the engine supports it).
    pub services: Vec<String>,
    /// Time since the node started.
    pub uptime: Duration,
}
