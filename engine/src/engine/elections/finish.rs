//! Finish: the candidate finishes the election once it has quorum and every Alive member of
//! the group has voted for it, and once its view of the group has been still for a while and
//! two rumor pulls since it last changed have been answered, so a late joiner does not finish
//! a term alone before it has heard the group's rumors.

use crate::engine::Engine;
use crate::member::Health;
use crate::network::Network;
use crate::rumor::{Election, ElectionStatus, ServiceGroup};
use crate::time::Clock;

impl<C: Clock, N: Network> Engine<C, N> {
    /// The status of `e` after a check: NoQuorum without quorum; Finished when we are its
    /// candidate, every Alive member of the group voted for us and our view of the group has
    /// settled (pulling the ring's rumors again if that is what is missing); else Running.
    pub(super) fn status(
        &mut self,
        group: &ServiceGroup,
        e: &Election,
        quorum: bool,
    ) -> ElectionStatus {
        if !quorum {
            return ElectionStatus::NoQuorum;
        }
        if e.member_id != self.me.id || !self.all_alive_voted(group, e) {
            return ElectionStatus::Running;
        }
        if self.settled(group) {
            return ElectionStatus::Finished;
        }
        if !self.pull_confirmed(group) {
            self.pull_again_if_due();
        }
        // Look again on a later gossip tick.
        if let Some(g) = self.elections.voters.get_mut(group) {
            g.check = true;
        }
        ElectionStatus::Running
    }

    /// How long a candidate's view of its group must have been still before it finishes an
    /// election: three gossip rounds, and at least one protocol period. Members that announce
    /// a service at about the same time have then heard of each other's Service rumors (or
    /// are Suspect), so a candidate does not finish alone in a group it has not seen yet, and
    /// no two candidates finish the same term with different leaders.
    pub(super) fn election_settle(&self) -> std::time::Duration {
        (self.config.gossip_interval * 3).max(self.config.protocol_period)
    }

    /// The candidate's view of the group has been still for `election_settle`, and what the ring
    /// holds was pulled since it last changed (see `pull_confirmed`): a late joiner that has not
    /// yet heard the group's Service and Election rumors must not finish a term alone.
    pub(super) fn settled(&self, group: &ServiceGroup) -> bool {
        let settle = self.election_settle();
        self.pull_confirmed(group)
            && self
                .elections
                .voters
                .get(group)
                .is_some_and(|g| self.now() >= g.changed_at + settle)
    }

    /// How far apart the two answers of a confirmed pull must be, and how old the second:
    /// half of `election_settle`, far more than the round trip that brings the rumors an
    /// answer showed we lack.
    pub(super) fn pull_gap(&self) -> std::time::Duration {
        self.election_settle() / 2
    }

    /// Whether we pulled what the ring holds since our view of `group` last changed (or we
    /// joined it), or there is nobody to pull from: we know no live member and have no
    /// bootstrap peers (a member still joining is not alone, it just has not met the ring yet).
    ///
    /// One answer is not enough. A digest answer only shows what we lack; the rumors come in a
    /// later reply, and a candidate that took the answer for the rumors could finish a term
    /// alone, beside the group's leader of that term, before they arrived, or for good if the
    /// reply is lost. So it takes two answers after the change, the second at least `pull_gap`
    /// after the first and at least `pull_gap` ago: the second exchange asks again for whatever
    /// the first one's reply lost, and whatever either brought that changes the group's view
    /// starts the count again. Only two lost replies in a row can still mislead it.
    pub(super) fn pull_confirmed(&self, group: &ServiceGroup) -> bool {
        if self.view.members.count(Health::Alive) == 0 && self.bootstrap.is_empty() {
            return true;
        }
        let Some(g) = self.elections.voters.get(group) else {
            return false;
        };
        let since = g.joined_at.max(g.changed_at);
        let (gap, now) = (self.pull_gap(), self.now());
        let mut answers = self.elections.pull_answers.iter().filter(|&&a| a >= since);
        let Some(&first) = answers.next() else {
            return false;
        };
        answers.any(|&a| a >= first + gap && now >= a + gap)
    }

    /// Pulls again unless we asked, or were answered, within `pull_gap`.
    pub(super) fn pull_again_if_due(&mut self) {
        let gap = self.pull_gap();
        let now = self.now();
        let last = self
            .elections
            .pull_asked_at
            .max(self.elections.pull_answers.back().copied());
        if last.is_none_or(|t| now >= t + gap) {
            self.pull_rumors();
        }
    }

    /// Starts a rumor digest exchange with a random live member, whatever the dissemination
    /// strategy, to learn what the ring holds.
    pub(super) fn pull_rumors(&mut self) {
        self.elections.pull_asked_at = Some(self.now());
        self.rumor_sync_with_random_member();
    }

    /// Whether every Alive member of the group voted for the candidate.
    pub(super) fn all_alive_voted(&self, group: &ServiceGroup, e: &Election) -> bool {
        let alive = self.elections.voters.get(group).map_or(0, |g| g.alive);
        let votes = e.votes.iter().filter(|&&v| self.alive_in(group, v)).count();
        u32::try_from(votes).unwrap_or(u32::MAX) >= alive
    }
}
