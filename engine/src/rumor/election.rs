//! Election and ElectionUpdate rumors: the store's side of them (type, key, transport and the
//! merge hook). The election algorithm itself (votes, quorum, restarts) belongs in this module
//! and replaces [`Election::merge`]'s body.

use crate::id::MemberId;
use crate::rumor::{ServiceGroup, Verdict};

/// Where an election stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ElectionStatus {
    /// Voting.
    Running,
    /// Not enough members of the group are alive.
    NoQuorum,
    /// A leader was chosen.
    Finished,
}

/// A leader election (or update election) for a service group. One of each per group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Election {
    /// The candidate this election currently favours.
    pub member_id: MemberId,
    /// The group electing.
    pub group: ServiceGroup,
    /// The term; a new election for the group has a higher one.
    pub term: u64,
    /// The candidate's suitability.
    pub suitability: u64,
    /// Status.
    pub status: ElectionStatus,
    /// Members that voted for the candidate.
    pub votes: Vec<MemberId>,
}

impl Election {
    /// Merge rule (placeholder until the election issue): a higher term replaces, an equal
    /// term keeps the election held. The election algorithm returns
    /// [`Verdict::Replace`] with a merged election (votes combined, …) here.
    pub fn merge(held: &Election, incoming: Election) -> Verdict<Election> {
        match incoming.term.cmp(&held.term) {
            std::cmp::Ordering::Greater => Verdict::Replace(incoming),
            std::cmp::Ordering::Equal => Verdict::Same,
            std::cmp::Ordering::Less => Verdict::Older,
        }
    }
}
