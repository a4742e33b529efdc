//! Rumors: what the ring knows besides membership — services, service configs and files,
//! elections and operator departures — held in a [`RumorStore`] under Butterfly's merge rules
//! and spread by one of two dissemination strategies.
//!
//! * [`group`](ServiceGroup): the `service.group[@org]` name rumors are filed under.
//! * `kinds`, `election`: the typed rumors and their merge rules ([`Service::merge`], …).
//! * `codec`: conversion to and from the `prost` messages in [`wire`](crate::wire).
//! * `store`: the [`RumorStore`], keyed by [`RumorKey`].
//! * `digest`: compact digests for anti-entropy.
//! * `dissemination`: Butterfly's per-destination heat and the bounded retransmission queue.

mod codec;
mod digest;
mod dissemination;
mod election;
mod group;
mod kinds;
mod store;

use std::fmt;

pub use election::{Election, ElectionKind, ElectionStatus};
pub use group::{ParseServiceGroupError, ServiceGroup, MAX_SERVICE_GROUP_LEN};
pub use kinds::{Departure, Service, ServiceConfig, ServiceFile, ServiceSpec, SysInfo, Topology};
pub use store::{RumorStore, StoreOutcome};

pub(crate) use codec::decode_batch;
pub use codec::{decode_rumor, encode_rumor};
pub(crate) use digest::{keys_with_hashes, Digest, DigestEntry, MAX_BUCKETS};
pub(crate) use dissemination::Disseminator;

use crate::id::{Incarnation, MemberId};

/// The kinds of rumor the store holds (membership rumors live in the member list).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RumorKind {
    /// A service a member runs.
    Service,
    /// A service group's configuration.
    ServiceConfig,
    /// A file for a service group.
    ServiceFile,
    /// A leader election.
    Election,
    /// An update election.
    ElectionUpdate,
    /// An operator's departure of a member.
    Departure,
}

impl RumorKind {
    /// Every kind, in order.
    pub const ALL: [RumorKind; 6] = [
        RumorKind::Service,
        RumorKind::ServiceConfig,
        RumorKind::ServiceFile,
        RumorKind::Election,
        RumorKind::ElectionUpdate,
        RumorKind::Departure,
    ];

    /// A short snake_case name (for metrics labels and reports).
    pub fn as_str(self) -> &'static str {
        match self {
            RumorKind::Service => "service",
            RumorKind::ServiceConfig => "service_config",
            RumorKind::ServiceFile => "service_file",
            RumorKind::Election => "election",
            RumorKind::ElectionUpdate => "election_update",
            RumorKind::Departure => "departure",
        }
    }
}

impl fmt::Display for RumorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a rumor is filed: its kind, its service group and its id within the group (Butterfly's
/// `(kind, key, id)`: the member for services, the file name for files, nothing for configs and
/// elections; departures have no group, only the member).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RumorKey {
    /// The service `member` runs in `group`.
    Service {
        /// Group.
        group: ServiceGroup,
        /// The member running it.
        member: MemberId,
    },
    /// The configuration of `group`.
    ServiceConfig {
        /// Group.
        group: ServiceGroup,
    },
    /// The file `filename` of `group`.
    ServiceFile {
        /// Group.
        group: ServiceGroup,
        /// File name.
        filename: String,
    },
    /// The election of `group`.
    Election {
        /// Group.
        group: ServiceGroup,
    },
    /// The update election of `group`.
    ElectionUpdate {
        /// Group.
        group: ServiceGroup,
    },
    /// The departure of `member`.
    Departure {
        /// The departed member.
        member: MemberId,
    },
}

impl RumorKey {
    /// The kind of rumor filed here.
    pub fn kind(&self) -> RumorKind {
        match self {
            RumorKey::Service { .. } => RumorKind::Service,
            RumorKey::ServiceConfig { .. } => RumorKind::ServiceConfig,
            RumorKey::ServiceFile { .. } => RumorKind::ServiceFile,
            RumorKey::Election { .. } => RumorKind::Election,
            RumorKey::ElectionUpdate { .. } => RumorKind::ElectionUpdate,
            RumorKey::Departure { .. } => RumorKind::Departure,
        }
    }

    /// The service group, for every kind but departures.
    pub fn group(&self) -> Option<&ServiceGroup> {
        match self {
            RumorKey::Service { group, .. }
            | RumorKey::ServiceConfig { group }
            | RumorKey::ServiceFile { group, .. }
            | RumorKey::Election { group }
            | RumorKey::ElectionUpdate { group } => Some(group),
            RumorKey::Departure { .. } => None,
        }
    }
}

impl fmt::Display for RumorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RumorKey::Service { group, member } => write!(f, "service/{group}/{member}"),
            RumorKey::ServiceConfig { group } => write!(f, "service_config/{group}"),
            RumorKey::ServiceFile { group, filename } => {
                write!(f, "service_file/{group}/{filename}")
            }
            RumorKey::Election { group } => write!(f, "election/{group}"),
            RumorKey::ElectionUpdate { group } => write!(f, "election_update/{group}"),
            RumorKey::Departure { member } => write!(f, "departure/{member}"),
        }
    }
}

/// One rumor of any kind the store holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rumor {
    /// A service a member runs.
    Service(Service),
    /// A service group's configuration.
    ServiceConfig(ServiceConfig),
    /// A file for a service group.
    ServiceFile(ServiceFile),
    /// A leader election.
    Election(Election),
    /// An update election.
    ElectionUpdate(Election),
    /// An operator's departure of a member.
    Departure(Departure),
}

impl Rumor {
    /// Where this rumor is filed.
    pub fn key(&self) -> RumorKey {
        match self {
            Rumor::Service(s) => RumorKey::Service {
                group: s.group.clone(),
                member: s.member_id,
            },
            Rumor::ServiceConfig(c) => RumorKey::ServiceConfig {
                group: c.group.clone(),
            },
            Rumor::ServiceFile(f) => RumorKey::ServiceFile {
                group: f.group.clone(),
                filename: f.filename.clone(),
            },
            Rumor::Election(e) => RumorKey::Election {
                group: e.group.clone(),
            },
            Rumor::ElectionUpdate(e) => RumorKey::ElectionUpdate {
                group: e.group.clone(),
            },
            Rumor::Departure(d) => RumorKey::Departure {
                member: d.member_id,
            },
        }
    }

    /// Its kind.
    pub fn kind(&self) -> RumorKind {
        match self {
            Rumor::Service(_) => RumorKind::Service,
            Rumor::ServiceConfig(_) => RumorKind::ServiceConfig,
            Rumor::ServiceFile(_) => RumorKind::ServiceFile,
            Rumor::Election(_) => RumorKind::Election,
            Rumor::ElectionUpdate(_) => RumorKind::ElectionUpdate,
            Rumor::Departure(_) => RumorKind::Departure,
        }
    }

    /// The number the merge rule orders by: the incarnation of services, configs and files,
    /// the term of elections, 0 for departures (which never change).
    pub fn incarnation(&self) -> Incarnation {
        match self {
            Rumor::Service(s) => s.incarnation,
            Rumor::ServiceConfig(c) => c.incarnation,
            Rumor::ServiceFile(f) => f.incarnation,
            Rumor::Election(e) | Rumor::ElectionUpdate(e) => Incarnation(e.term),
            Rumor::Departure(_) => Incarnation(0),
        }
    }

    /// Size of the opaque payload that `Config::max_rumor_payload` limits: a service's exported
    /// config, a service config, a file's body.
    pub fn payload_len(&self) -> usize {
        match self {
            Rumor::Service(s) => s.cfg.len(),
            Rumor::ServiceConfig(c) => c.config.len(),
            Rumor::ServiceFile(f) => f.body.len(),
            Rumor::Election(_) | Rumor::ElectionUpdate(_) | Rumor::Departure(_) => 0,
        }
    }

    /// Applies the merge rule of this rumor's kind to `incoming`, `self` being the rumor held
    /// under the same key. Rumors of different kinds never share a key; if asked, the incoming
    /// one is treated as the same (kept out).
    pub fn merge(&self, incoming: Rumor) -> Verdict<Rumor> {
        match (self, incoming) {
            (Rumor::Service(h), Rumor::Service(i)) => Service::merge(h, i).map(Rumor::Service),
            (Rumor::ServiceConfig(h), Rumor::ServiceConfig(i)) => {
                ServiceConfig::merge(h, i).map(Rumor::ServiceConfig)
            }
            (Rumor::ServiceFile(h), Rumor::ServiceFile(i)) => {
                ServiceFile::merge(h, i).map(Rumor::ServiceFile)
            }
            (Rumor::Election(h), Rumor::Election(i)) => Election::merge(h, i).map(Rumor::Election),
            (Rumor::ElectionUpdate(h), Rumor::ElectionUpdate(i)) => {
                Election::merge(h, i).map(Rumor::ElectionUpdate)
            }
            (Rumor::Departure(h), Rumor::Departure(i)) => {
                Departure::merge(h, i).map(Rumor::Departure)
            }
            _ => Verdict::Same,
        }
    }
}

/// What a merge rule decided about an incoming rumor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict<T> {
    /// Store this instead of what is held (the incoming rumor, or a merge of both).
    Replace(T),
    /// Nothing new: the incoming rumor is the one held (or an equal version of it).
    Same,
    /// The incoming rumor is older than the one held.
    Older,
}

impl<T> Verdict<T> {
    /// Maps the replacement.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Verdict<U> {
        match self {
            Verdict::Replace(t) => Verdict::Replace(f(t)),
            Verdict::Same => Verdict::Same,
            Verdict::Older => Verdict::Older,
        }
    }
}

/// Why a rumor command (or an import) was refused. In every case nothing changed: no rumor
/// was stored or sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RumorError {
    /// The payload (service config, file body, exported config) is larger than
    /// `Config::max_rumor_payload`.
    #[error("payload of {size} bytes exceeds max_rumor_payload ({limit} bytes)")]
    PayloadTooLarge {
        /// The payload's size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// A config or file version must be higher than the one in force.
    #[error("version {offered} is not newer than version {held}, which is in force")]
    NotNewer {
        /// The version held.
        held: u64,
        /// The version offered.
        offered: u64,
    },
    /// `update_service` or `withdraw_service` for a group this member does not run.
    #[error("this member does not run a service in {0}")]
    NotRunning(ServiceGroup),
    /// A file needs a non-empty name.
    #[error("a file name must not be empty")]
    EmptyFileName,
    /// The engine has departed (gracefully or by an operator) and takes no commands.
    #[error("this member has departed from the ring")]
    Departed,
    /// `import_rumors` was given bytes that are not an exported rumor store.
    #[error("not an exported rumor store (undecodable protobuf)")]
    Malformed,
    /// The store is full for this kind (`Config::max_rumors_per_kind` or
    /// `max_rumor_bytes_per_kind`).
    #[error("the rumor store is full for {0:?} rumors")]
    StoreFull(RumorKind),
    /// The version jumps too far past the one in force (`Config::max_version_step`), or a
    /// first version passes 2^53.
    #[error("version {offered} is too far past the version in force (at most {max_step} more; a first version at most 2^53)")]
    VersionTooFar {
        /// The version offered.
        offered: u64,
        /// `Config::max_version_step`.
        max_step: u64,
    },
    /// The engine trusts only departures signed by an operator key
    /// ([`Engine::set_operator_keys`](crate::Engine::set_operator_keys)), and this one is
    /// unsigned or signed by no trusted key.
    #[error("departures must be signed by a trusted operator key")]
    Unsigned,
}

#[cfg(test)]
mod tests;
