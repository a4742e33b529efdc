//! What the engine reports: [`Event`]s drained with `Engine::poll_event`.

use crate::id::{Incarnation, MemberId};
use crate::member::Health;
use crate::metrics::DropReason;
use crate::rumor::{ElectionKind, RumorKey, RumorKind, ServiceGroup};

/// Something the application, the operator or the simulator may want to know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The observer's view of `subject` changed.
    Member(MemberEvent),
    /// Someone said we were not Alive; we raised our incarnation to refute it.
    Refuted {
        /// Our new incarnation.
        incarnation: Incarnation,
        /// What we were accused of.
        accused: Health,
    },
    /// Input was dropped (malformed, oversized, stale, from an unknown sender, …).
    Dropped {
        /// Why.
        reason: DropReason,
    },
    /// A rumor changed our rumor store (received, commanded or imported).
    RumorApplied {
        /// Its kind.
        kind: RumorKind,
        /// Where it is filed.
        key: RumorKey,
        /// Its incarnation (term for elections, 0 for departures).
        incarnation: Incarnation,
    },
    /// A rumor was received but not applied.
    RumorRejected {
        /// Where it would have been filed, when it decoded that far.
        key: Option<RumorKey>,
        /// Why.
        reason: RumorRejectReason,
    },
    /// An operator departed us (we received our own Departure rumor): the engine has left the
    /// ring like after `depart` and ignores all further input. It must not rejoin with this id.
    DepartedByOperator,
    /// This member started (or joined, or restarted) an election of `group` at `term`, voting
    /// in it.
    ElectionStarted {
        /// Leader or update election.
        kind: ElectionKind,
        /// The group.
        group: ServiceGroup,
        /// The term.
        term: u64,
    },
    /// The election of `group` this member holds is now Finished with `leader` (it finished it
    /// as the candidate, or adopted a peer's Finished election).
    ElectionFinished {
        /// Leader or update election.
        kind: ElectionKind,
        /// The group.
        group: ServiceGroup,
        /// The term.
        term: u64,
        /// The leader.
        leader: MemberId,
    },
    /// The election of `group` this member holds is now NoQuorum: no more than half of the
    /// group's Alive, Suspect and Confirmed members are Alive.
    ElectionNoQuorum {
        /// Leader or update election.
        kind: ElectionKind,
        /// The group.
        group: ServiceGroup,
        /// The term.
        term: u64,
    },
}

/// Why a received rumor was not applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RumorRejectReason {
    /// Older than the rumor held under the same key (an exact duplicate is not reported).
    Stale,
    /// Its payload exceeds `Config::max_rumor_payload` (also counted as
    /// [`DropReason::PayloadTooLarge`]).
    PayloadTooLarge,
    /// A field is missing or invalid (also counted as [`DropReason::Invalid`]).
    Invalid,
    /// The store holds `Config::max_rumors_per_kind` rumors of its kind, or their payloads
    /// would pass `Config::max_rumor_bytes_per_kind` (counted in `Metrics::rumors_refused_full`).
    StoreFull,
    /// A config or file version further past the one in force than
    /// `Config::max_version_step`, or a first version past 2^53 (also counted as
    /// [`DropReason::Implausible`]).
    Implausible,
    /// An operator's Departure that no trusted operator key signed (also counted as
    /// [`DropReason::Unsigned`]).
    Unsigned,
}

/// A change in one member's health as seen by the engine that reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemberEvent {
    /// The engine's own member id.
    pub observer: MemberId,
    /// The member whose health changed.
    pub subject: MemberId,
    /// What kind of change this is.
    pub kind: MemberEventKind,
    /// Health held before (`None` when the member was unknown).
    pub from: Option<Health>,
    /// Health held now.
    pub to: Health,
    /// The subject's incarnation as now held.
    pub incarnation: Incarnation,
}

/// The kinds of [`MemberEvent`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemberEventKind {
    /// A member we did not know (in any health).
    Joined,
    /// Now Suspect.
    Suspected,
    /// Now Confirmed.
    Confirmed,
    /// Now Departed.
    Departed,
    /// Alive again after Suspect/Confirmed/Departed (it refuted, or we heard it directly).
    Alive,
}

impl MemberEventKind {
    /// The kind for a change from `from` to `to`.
    pub fn classify(from: Option<Health>, to: Health) -> Self {
        match (from, to) {
            (None, _) => MemberEventKind::Joined,
            (_, Health::Alive) => MemberEventKind::Alive,
            (_, Health::Suspect) => MemberEventKind::Suspected,
            (_, Health::Confirmed) => MemberEventKind::Confirmed,
            (_, Health::Departed) => MemberEventKind::Departed,
        }
    }
}
