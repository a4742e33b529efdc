//! Election and ElectionUpdate rumors and their merge rule: Butterfly's "highlander" variant
//! of the Bully algorithm. Every member of a service group votes for the most suitable
//! candidate it has heard of (higher suitability, then higher member id); votes merge as the
//! rumor spreads, so one election devolves into a single rumor that names one candidate, and
//! the candidate finishes it once every Alive member of the group has voted for it and the
//! group has quorum. The engine's side (who votes, quorum, finishing, restarts) lives in
//! `engine/src/engine/elections/`; the rule here is the part every member applies, voter or not.

use std::cmp::Ordering;

use crate::id::MemberId;
use crate::rumor::{RumorKey, ServiceGroup, Verdict};

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

/// Which of a group's two elections: the leader election or the update election (Butterfly's
/// `ElectionUpdate`, which picks the member that updates first in a rolling update). Each has
/// its own rumor and runs the same algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ElectionKind {
    /// The leader election.
    Leader,
    /// The update election.
    Update,
}

impl ElectionKind {
    /// Both kinds, leader first.
    pub const ALL: [ElectionKind; 2] = [ElectionKind::Leader, ElectionKind::Update];

    /// Where the rumor of this kind for `group` is filed.
    pub fn key(self, group: &ServiceGroup) -> RumorKey {
        match self {
            ElectionKind::Leader => RumorKey::Election {
                group: group.clone(),
            },
            ElectionKind::Update => RumorKey::ElectionUpdate {
                group: group.clone(),
            },
        }
    }

    /// A short snake_case name (`election`, `election_update`), as in [`RumorKind::as_str`](crate::rumor::RumorKind::as_str).
    pub fn as_str(self) -> &'static str {
        match self {
            ElectionKind::Leader => "election",
            ElectionKind::Update => "election_update",
        }
    }
}

/// A leader election (or update election) for a service group. One of each per group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Election {
    /// The candidate this election currently favours (the leader once Finished).
    pub member_id: MemberId,
    /// The group electing.
    pub group: ServiceGroup,
    /// The term; a new election for the group has a higher one.
    pub term: u64,
    /// The candidate's suitability.
    pub suitability: u64,
    /// Status.
    pub status: ElectionStatus,
    /// Members that voted for the candidate, in id order without duplicates (the merge rule
    /// keeps them so; a peer's unordered list is put in order when merged).
    pub votes: Vec<MemberId>,
}

impl Election {
    /// A new election in `group` at `term`, in which `member` stands with `suitability` and
    /// votes for itself.
    pub fn new(member: MemberId, group: ServiceGroup, term: u64, suitability: u64) -> Election {
        Election {
            member_id: member,
            group,
            term,
            suitability,
            status: ElectionStatus::Running,
            votes: vec![member],
        }
    }

    /// The candidate's rank: suitability first, then member id. The higher rank wins.
    pub fn rank(&self) -> (u64, MemberId) {
        (self.suitability, self.member_id)
    }

    /// Whether `member` voted for the candidate.
    pub fn has_vote(&self, member: MemberId) -> bool {
        self.votes.contains(&member)
    }

    /// Whether the election is Finished (its candidate is the leader).
    pub fn is_finished(&self) -> bool {
        self.status == ElectionStatus::Finished
    }

    /// How far along the merge rule's history this election is: its term, then whether it is
    /// Finished (adopted over an unfinished election of its term), then how many votes it
    /// holds (within a term votes only merge into a union). A member holding an election
    /// further along than one it receives knows its sender has missed something.
    pub fn progress(&self) -> (u64, bool, usize) {
        (self.term, self.is_finished(), self.votes.len())
    }

    /// The leader, once Finished.
    pub fn leader(&self) -> Option<MemberId> {
        self.is_finished().then_some(self.member_id)
    }

    /// The merge rule, in order:
    ///
    /// 1. An identical election is nothing new ([`Verdict::Same`]).
    /// 2. A Finished election with a term ≥ ours is adopted. Two Finished elections of the same
    ///    term (two sides of a healed partition) keep the higher-ranked leader, so every member
    ///    settles on the same one (Butterfly adopts whichever arrives last).
    /// 3. A lower term is older; so is an unfinished election of the term we hold Finished.
    /// 4. A higher term replaces ours (whether a voter *joins* the new term is the engine's
    ///    decision, made before this rule runs).
    /// 5. Same term, neither Finished: the votes merge and the higher-ranked candidate is
    ///    kept (with its status); [`Verdict::Same`] if that changes nothing.
    pub fn merge(held: &Election, incoming: Election) -> Verdict<Election> {
        if *held == incoming {
            return Verdict::Same;
        }
        if incoming.is_finished() && incoming.term >= held.term {
            if held.is_finished() && held.term == incoming.term && incoming.rank() <= held.rank() {
                return Verdict::Older;
            }
            return Verdict::Replace(incoming);
        }
        match incoming.term.cmp(&held.term) {
            Ordering::Less => return Verdict::Older,
            Ordering::Greater => return Verdict::Replace(incoming),
            Ordering::Equal if held.is_finished() => return Verdict::Older,
            Ordering::Equal => {}
        }
        let votes = union(&held.votes, &incoming.votes);
        let mut merged = if incoming.rank() > held.rank() {
            incoming
        } else {
            held.clone()
        };
        merged.votes = votes;
        if merged == *held {
            Verdict::Same
        } else {
            Verdict::Replace(merged)
        }
    }
}

/// The union of two vote lists, in id order without duplicates.
fn union(a: &[MemberId], b: &[MemberId]) -> Vec<MemberId> {
    let mut all: Vec<MemberId> = a.iter().chain(b).copied().collect();
    all.sort_unstable();
    all.dedup();
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grp() -> ServiceGroup {
        "redis.default".parse().expect("group")
    }

    fn id(n: u128) -> MemberId {
        MemberId::from_u128(n)
    }

    fn e(member: u128, term: u64, suitability: u64) -> Election {
        Election::new(id(member), grp(), term, suitability)
    }

    fn replaced(v: Verdict<Election>) -> Election {
        match v {
            Verdict::Replace(e) => e,
            other => panic!("expected Replace, got {other:?}"),
        }
    }

    #[test]
    fn higher_suitability_wins_and_takes_the_votes() {
        let merged = replaced(Election::merge(&e(9, 0, 1), e(2, 0, 5)));
        assert_eq!(merged.member_id, id(2));
        assert_eq!(merged.suitability, 5);
        assert_eq!(merged.votes, vec![id(2), id(9)]);
        // The other way round the held candidate stays and steals the incoming vote.
        let merged = replaced(Election::merge(&e(2, 0, 5), e(9, 0, 1)));
        assert_eq!(merged.member_id, id(2));
        assert_eq!(merged.votes, vec![id(2), id(9)]);
    }

    #[test]
    fn equal_suitability_goes_to_the_higher_member_id() {
        let merged = replaced(Election::merge(&e(3, 0, 7), e(4, 0, 7)));
        assert_eq!(merged.member_id, id(4));
        let merged = replaced(Election::merge(&e(4, 0, 7), e(3, 0, 7)));
        assert_eq!(merged.member_id, id(4));
        assert_eq!(merged.votes, vec![id(3), id(4)]);
    }

    #[test]
    fn votes_merge_without_duplicates_and_in_order() {
        let mut held = e(5, 0, 1);
        held.votes = vec![id(5), id(1)];
        let mut incoming = e(5, 0, 1);
        incoming.votes = vec![id(3), id(1), id(5)];
        let merged = replaced(Election::merge(&held, incoming));
        assert_eq!(merged.votes, vec![id(1), id(3), id(5)]);
        // Merging what we already have changes nothing.
        assert_eq!(Election::merge(&merged, e(5, 0, 1)), Verdict::Same);
    }

    #[test]
    fn four_voters_devolve_to_one_rumor() {
        let mut held = e(1, 0, 0);
        for other in [e(2, 0, 0), e(3, 0, 1), e(4, 0, 0)] {
            held = replaced(Election::merge(&held, other));
        }
        assert_eq!(held.member_id, id(3));
        assert_eq!(held.votes.len(), 4);
    }

    #[test]
    fn a_higher_term_wins_over_a_better_candidate() {
        let merged = replaced(Election::merge(&e(9, 1, 100), e(1, 2, 0)));
        assert_eq!((merged.term, merged.member_id), (2, id(1)));
        assert_eq!(merged.votes, vec![id(1)], "old votes do not carry over");
        assert_eq!(Election::merge(&e(1, 2, 0), e(9, 1, 100)), Verdict::Older);
    }

    #[test]
    fn a_finished_election_of_an_equal_or_higher_term_is_adopted() {
        let mut finished = e(2, 3, 0);
        finished.status = ElectionStatus::Finished;
        // Same term: adopted over a running election with a better candidate.
        let adopted = replaced(Election::merge(&e(9, 3, 100), finished.clone()));
        assert_eq!(adopted, finished);
        // Higher term: adopted too.
        let adopted = replaced(Election::merge(&e(9, 1, 100), finished.clone()));
        assert_eq!(adopted.leader(), Some(id(2)));
        // An unfinished election of the term we hold Finished is older.
        assert_eq!(Election::merge(&finished, e(9, 3, 100)), Verdict::Older);
    }

    #[test]
    fn a_finished_election_with_a_lower_term_is_ignored() {
        let mut old = e(2, 1, 0);
        old.status = ElectionStatus::Finished;
        assert_eq!(Election::merge(&e(5, 2, 0), old.clone()), Verdict::Older);
        let mut newer = e(5, 2, 0);
        newer.status = ElectionStatus::Finished;
        assert_eq!(Election::merge(&newer, old), Verdict::Older);
    }

    #[test]
    fn two_leaders_of_one_term_settle_on_the_higher_ranked() {
        let mut a = e(2, 4, 0);
        a.status = ElectionStatus::Finished;
        let mut b = e(7, 4, 0);
        b.status = ElectionStatus::Finished;
        assert_eq!(replaced(Election::merge(&a, b.clone())), b);
        assert_eq!(Election::merge(&b, a), Verdict::Older);
    }

    #[test]
    fn status_alone_does_not_churn() {
        let mut no_quorum = e(2, 0, 0);
        no_quorum.status = ElectionStatus::NoQuorum;
        assert_eq!(Election::merge(&e(2, 0, 0), no_quorum), Verdict::Same);
    }
}
