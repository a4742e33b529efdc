//! swallowtail's protocol engine.
//!
//! This crate is a deterministic state machine for a gossip ring in the manner of Chef
//! Habitat's Butterfly: SWIM membership and failure detection over datagrams, with membership
//! spread by piggybacking and anti-entropy over streams. It performs **no I/O**: it never opens
//! a socket, never spawns a thread, never reads the wall clock and never touches a global RNG.
//! Time comes from a [`Clock`], output goes to a [`Network`], and randomness from one seeded
//! ChaCha generator. The same seed and the same inputs give the same bytes out, which is what
//! lets the simulator replay a run of thousands of members exactly.
//!
//! Start with [`Engine`]: its documentation gives the calling contract.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod census;
pub mod config;
pub mod crypto;
pub mod engine;
pub mod event;
pub mod id;
pub mod lifeguard;
pub mod member;
pub mod member_list;
pub mod metrics;
pub mod network;
pub mod rumor;
pub mod time;
pub mod wire;

mod broadcast;
mod membership;
mod probe;
mod replay;
mod timer;

pub use census::{Census, CensusGroup, CensusMember};
pub use config::{Config, ConfigError, Dissemination};
pub use engine::{for_butterfly, Engine, ImportReport, BUTTERFLY_CLIENT};
pub use event::{Event, MemberEvent, MemberEventKind, RumorRejectReason};
pub use id::{Incarnation, MemberId};
pub use member::{Health, Member, Membership};
pub use member_list::MemberList;
pub use metrics::{Channel, DropReason, Metrics, Traffic};
pub use network::{Network, Outbox};
pub use rumor::{Rumor, RumorError, RumorKey, RumorKind, RumorStore, ServiceGroup, ServiceSpec};
pub use time::{Clock, Instant, ManualClock};

/// The README's example of driving the engine by hand, compiled and run as a doctest so that
/// it cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
