//! The typed rumors that are not elections: [`Service`], [`ServiceConfig`], [`ServiceFile`]
//! and [`Departure`], each with its merge rule.

use crate::id::{Incarnation, MemberId};
use crate::rumor::{ServiceGroup, Verdict};

/// A service a member runs in a service group (Butterfly's `Service` rumor). One per
/// (group, member); only that member changes it, bumping `incarnation` on every change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    /// The member running it.
    pub member_id: MemberId,
    /// Its service group.
    pub group: ServiceGroup,
    /// Bumped by the member on every change.
    pub incarnation: Incarnation,
    /// Whether the service has started.
    pub initialized: bool,
    /// Package identifier (`origin/name/version/release`).
    pub pkg: String,
    /// The configuration the service exports to its group (TOML bytes).
    pub cfg: Vec<u8>,
    /// Butterfly's package incarnation (0 when absent), kept so that relaying loses nothing.
    pub pkg_incarnation: u64,
    /// Host information, if the member sent any. Boxed: its five fields would make every
    /// rumor in the store (an enum, so sized by its largest kind) about 100 bytes larger.
    pub sys: Option<Box<SysInfo>>,
    /// A tombstone: the member no longer runs the service (swallowtail extension, wire field
    /// `Service.withdrawn = 14`; old peers ignore it and keep showing the service).
    pub withdrawn: bool,
}

/// What a member says about a service it runs: the parts of a [`Service`] rumor the
/// application chooses (the engine fills in the member, group and incarnation).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceSpec {
    /// Package identifier (`origin/name/version/release`).
    pub pkg: String,
    /// The configuration the service exports to its group (TOML bytes), at most
    /// `Config::max_rumor_payload` bytes.
    pub cfg: Vec<u8>,
    /// Whether the service has started.
    pub initialized: bool,
    /// Host information.
    pub sys: Option<SysInfo>,
    /// How the group is organized. Local to this member: the Service rumor does not carry it
    /// (Butterfly's has no such field); a [`Topology::Leader`] service starts (or joins) the
    /// group's leader election when announced.
    pub topology: Topology,
}

/// How a service group is organized (Habitat's `--topology`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Topology {
    /// Every member is alike; no election is started.
    #[default]
    Standalone,
    /// One member leads: announcing the service starts the group's leader election.
    Leader,
}

/// Host information carried by a [`Service`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SysInfo {
    /// IP address.
    pub ip: String,
    /// Host name.
    pub hostname: String,
    /// Gossip IP address.
    pub gossip_ip: String,
    /// Gossip port.
    pub gossip_port: u16,
    /// HTTP gateway IP address.
    pub http_gateway_ip: String,
    /// HTTP gateway port.
    pub http_gateway_port: u16,
    /// Butterfly's control gateway IP, when the member sent one.
    pub ctl_gateway_ip: Option<String>,
    /// Butterfly's control gateway port, when the member sent one.
    pub ctl_gateway_port: Option<u16>,
}

/// A service group's configuration (Butterfly's `ServiceConfig` rumor). One per group; the
/// incarnation is the operator's version number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceConfig {
    /// The group it configures.
    pub group: ServiceGroup,
    /// The operator's version number.
    pub incarnation: Incarnation,
    /// Whether `config` is sealed to the group's public key.
    pub encrypted: bool,
    /// The configuration (TOML) or its ciphertext.
    pub config: Vec<u8>,
}

/// A file shared with a service group (Butterfly's `ServiceFile` rumor). One per
/// (group, file name); the incarnation is the operator's version number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceFile {
    /// The group it is for.
    pub group: ServiceGroup,
    /// The operator's version number.
    pub incarnation: Incarnation,
    /// Whether `body` is sealed to the group's public key.
    pub encrypted: bool,
    /// The file's name.
    pub filename: String,
    /// Its contents or their ciphertext.
    pub body: Vec<u8>,
}

/// An operator's departure of a member (Butterfly's `Departure` rumor): that member is
/// Departed everywhere, for good.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Departure {
    /// The departed member.
    pub member_id: MemberId,
    /// An operator key's signature of the departure, if it was signed.
    pub signature: Option<[u8; crate::crypto::SIGNATURE_LEN]>,
}

/// Butterfly's rule for services, configs and files: replace only on a strictly higher
/// incarnation.
fn by_incarnation<T>(held: Incarnation, incoming: Incarnation, value: T) -> Verdict<T> {
    match incoming.cmp(&held) {
        std::cmp::Ordering::Greater => Verdict::Replace(value),
        std::cmp::Ordering::Equal => Verdict::Same,
        std::cmp::Ordering::Less => Verdict::Older,
    }
}

impl Service {
    /// Merge rule: a strictly higher incarnation replaces.
    pub fn merge(held: &Service, incoming: Service) -> Verdict<Service> {
        by_incarnation(held.incarnation, incoming.incarnation, incoming)
    }
}

impl ServiceConfig {
    /// Merge rule: a strictly higher incarnation (version) replaces.
    pub fn merge(held: &ServiceConfig, incoming: ServiceConfig) -> Verdict<ServiceConfig> {
        by_incarnation(held.incarnation, incoming.incarnation, incoming)
    }
}

impl ServiceFile {
    /// Merge rule: a strictly higher incarnation (version) replaces.
    pub fn merge(held: &ServiceFile, incoming: ServiceFile) -> Verdict<ServiceFile> {
        by_incarnation(held.incarnation, incoming.incarnation, incoming)
    }
}

impl Departure {
    /// Merge rule: a departure never changes once set, except that a signed copy replaces an
    /// unsigned one (so the signature travels on to members that demand it).
    pub fn merge(held: &Departure, incoming: Departure) -> Verdict<Departure> {
        if held.signature.is_none() && incoming.signature.is_some() {
            Verdict::Replace(incoming)
        } else {
            Verdict::Same
        }
    }
}
