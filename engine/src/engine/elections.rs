//! Leader elections and update elections in the engine: Butterfly's "highlander" Bully
//! variant, per service group, for each [`ElectionKind`] in its own rumor.
//!
//! Every member stores and spreads election rumors by the merge rule of
//! [`Election::merge`], and (beyond Butterfly) spreads its own again when it receives one
//! behind it ([`Election::progress`]: a lower term, unfinished where it holds the term
//! Finished, fewer votes), so a late joiner or a candidate short of a vote catches up. A
//! member that runs a service in the group is a *voter*, and does more:
//!
//! * **Start** — announcing a service with [`Topology::Leader`] starts the leader election
//!   (term 0), or joins the one held; [`Engine::start_update_election`] does the same for the
//!   update election. A voter that receives an election of its group for which it holds
//!   nothing joins it at that term.
//! * **Vote** — a voter adds its vote to the election it holds, for the better of the
//!   candidate and itself (suitability, then member id).
//! * **Higher term** — an unfinished election with a higher term than ours is joined (we start
//!   our own at that term, then merge) unless we hold a Finished election whose leader is
//!   still here and did not vote in the new term: that is someone else's mistaken restart, and
//!   we keep our leader. The leader itself always joins, with maximal suitability, so it
//!   wins the new term and its followers accept it ("the previous leader said so").
//! * **Quorum** — more than half of the group's Alive, Suspect and Confirmed members are
//!   Alive (the group: members with a live Service rumor in it; this member counts as Alive).
//!   Without it the status is NoQuorum; with it again, Running.
//! * **Finish** — the candidate finishes the election once it has quorum and every Alive
//!   member of the group has voted for it, and (beyond Butterfly) once its view of the group
//!   has been still for a while and two rumor pulls since it last changed have been answered,
//!   so a late joiner does not finish a term alone before it has heard the group's rumors.
//! * **Restart** (term + 1) — when the Finished leader is Confirmed, Departed, unknown (only
//!   once our pull is confirmed and no live Service rumor of it is held: the member list
//!   forgets no one, so an unknown leader is usually one a joiner has not heard of yet) or no
//!   longer in the group; when we are the leader and have lost quorum (the former leader
//!   restarts with maximal suitability, so it keeps leading if it can); and, beyond
//!   Butterfly, when the candidate of an unfinished election is gone, since only it could
//!   finish it.
//!
//! In the update election a leader topology's leader stands with suitability 0 and everyone
//! else with at least 1, so a follower becomes update leader.
//!
//! Cost: per voter group a few counters (Alive and total population) kept incrementally on
//! member health changes; a change of the group's Service rumors only marks the group for a
//! recount (O(group)), done at most once per gossip tick. Checks that follow membership
//! changes are batched the same way, so no input ever costs O(members × group).
//!
//! Butterfly's issue #1994 (elections hang as the electorate grows): nothing there re-examines
//! an election when members join a group, so a NoQuorum election with Confirmed members in the
//! group stays NoQuorum, and a newcomer that missed the rumor never votes. Here a change in the
//! group triggers a recount and a re-check (NoQuorum → Running → Finished), and growth of the
//! group re-spreads the elections held so newcomers vote.

use std::collections::{BTreeMap, VecDeque};

use crate::engine::rumors::Origin;
use crate::engine::Engine;
use crate::event::Event;
use crate::id::MemberId;
use crate::member::Health;
use crate::network::Network;
use crate::rumor::{
    Election, ElectionKind, ElectionStatus, Rumor, RumorError, RumorKey, ServiceGroup,
    StoreOutcome, Topology,
};
use crate::time::{Clock, Instant};

/// The engine's election state: per group this member runs a service in, its topology,
/// counters and pending work; per group, the suitability the application set.
#[derive(Clone, Debug, Default)]
pub(crate) struct Elections {
    /// Groups this member votes in (it runs a service there).
    voters: BTreeMap<ServiceGroup, VoterGroup>,
    /// Suitability per group, as set by the application (0 when never set).
    suitability: BTreeMap<ServiceGroup, u64>,
    /// When the last [`PULL_ANSWERS_KEPT`] rumor digest exchanges we started were answered,
    /// oldest first. An answer only shows what the other side holds that we lack; those rumors
    /// come in a later reply, which can be lost, so a candidate finishes only after two answers
    /// far enough apart with its view of the group unchanged (see `pull_confirmed`).
    pull_answers: VecDeque<Instant>,
    /// When we last asked for such a pull (asked again while unconfirmed).
    pull_asked_at: Option<Instant>,
}

/// How many answers to our rumor pulls are remembered (two are needed).
const PULL_ANSWERS_KEPT: usize = 4;

impl Elections {
    /// A digest exchange we started was answered at `now`.
    pub(super) fn note_pull(&mut self, now: Instant) {
        if self.pull_answers.len() == PULL_ANSWERS_KEPT {
            self.pull_answers.pop_front();
        }
        self.pull_answers.push_back(now);
    }
}

#[derive(Clone, Debug)]
struct VoterGroup {
    topology: Topology,
    /// Alive members of the group (us included).
    alive: u32,
    /// Alive, Suspect and Confirmed members of the group (us included).
    population: u32,
    /// The counters must be recomputed (the group's Service rumors changed).
    recount: bool,
    /// The elections must be re-checked (quorum, leader health).
    check: bool,
    /// When the counters last changed: a candidate finishes only once its view of the group
    /// has been still for `election_settle`.
    changed_at: Instant,
    /// When we started voting in this group.
    joined_at: Instant,
}

impl VoterGroup {
    fn new(topology: Topology, now: Instant) -> Self {
        VoterGroup {
            topology,
            alive: 1,
            population: 1,
            recount: true,
            check: true,
            changed_at: now,
            joined_at: now,
        }
    }

    fn quorum(&self) -> bool {
        self.alive * 2 > self.population
    }
}

/// (status, term, leader-or-candidate) of the election held, to report transitions.
type Snapshot = Option<(ElectionStatus, u64, MemberId)>;

/// What `elections_before_apply` decided about an incoming rumor.
pub(super) enum ElectionGate {
    /// Not an election rumor.
    NotElection,
    /// A higher term we do not follow (our leader is here and did not call it).
    Reject,
    /// Merge it; `before` is what we held, for the events; `behind`: it came from a peer and
    /// what we hold is further along (we spread ours again).
    Admit {
        kind: ElectionKind,
        group: ServiceGroup,
        before: Snapshot,
        behind: bool,
    },
}

fn in_count(h: Option<Health>) -> (u32, u32) {
    match h {
        Some(Health::Alive) => (1, 1),
        Some(Health::Suspect | Health::Confirmed) => (0, 1),
        _ => (0, 0),
    }
}

impl<C: Clock, N: Network> Engine<C, N> {
    // ----- getters -------------------------------------------------------------------------

    /// The election of `kind` this member holds for `group` (status, term, candidate or
    /// leader, votes).
    pub fn election(&self, kind: ElectionKind, group: &ServiceGroup) -> Option<&Election> {
        self.rumors.election_of(kind, group)
    }

    /// The leader of `group` this member holds, if its leader election is Finished.
    pub fn leader(&self, group: &ServiceGroup) -> Option<MemberId> {
        self.election(ElectionKind::Leader, group)
            .and_then(Election::leader)
    }

    /// The update leader of `group`, if its update election is Finished.
    pub fn update_leader(&self, group: &ServiceGroup) -> Option<MemberId> {
        self.election(ElectionKind::Update, group)
            .and_then(Election::leader)
    }

    /// Every election of `kind` this member holds, in group order. O(rumors held).
    pub fn elections(&self, kind: ElectionKind) -> impl Iterator<Item = &Election> + '_ {
        self.rumors
            .iter()
            .filter_map(move |(_, r)| match (kind, r) {
                (ElectionKind::Leader, Rumor::Election(e))
                | (ElectionKind::Update, Rumor::ElectionUpdate(e)) => Some(e),
                _ => None,
            })
    }

    /// The suitability set for `group` with [`set_suitability`](Self::set_suitability) (0 if
    /// never set).
    pub fn suitability(&self, group: &ServiceGroup) -> u64 {
        self.elections.suitability.get(group).copied().unwrap_or(0)
    }

    // ----- commands ------------------------------------------------------------------------

    /// Sets how suitable this member is to lead `group` (higher is better; ties go to the
    /// higher member id). Used from the next election this member starts or joins; may be set
    /// before the service is announced.
    pub fn set_suitability(&mut self, group: ServiceGroup, suitability: u64) {
        self.elections.suitability.insert(group, suitability);
    }

    /// Starts the leader election of `group` (term 0), or joins the one held; nothing happens
    /// when it is Finished. Announcing a service with [`Topology::Leader`] does this; use it
    /// for other topologies. Refused with [`RumorError::NotRunning`] unless this member runs a
    /// service in `group`.
    pub fn start_election(&mut self, group: &ServiceGroup) -> Result<(), RumorError> {
        self.start_or_join(ElectionKind::Leader, group)
    }

    /// Starts the update election of `group` (term 0), or joins the one held; nothing happens
    /// when it is Finished. In a leader topology the leader stands with the least suitability,
    /// so a follower becomes update leader. Refused with [`RumorError::NotRunning`] unless
    /// this member runs a service in `group`.
    pub fn start_update_election(&mut self, group: &ServiceGroup) -> Result<(), RumorError> {
        self.start_or_join(ElectionKind::Update, group)
    }

    fn start_or_join(
        &mut self,
        kind: ElectionKind,
        group: &ServiceGroup,
    ) -> Result<(), RumorError> {
        if self.departed {
            return Err(RumorError::Departed);
        }
        if !self.elections.voters.contains_key(group) {
            return Err(RumorError::NotRunning(group.clone()));
        }
        let before = self.snapshot(kind, group);
        match self.election(kind, group).map(|e| e.term) {
            None => self.start_own(kind, group, 0, false),
            Some(_) => self.check_election(kind, group),
        }
        self.report(kind, group, before);
        Ok(())
    }

    // ----- hooks from the rest of the engine -------------------------------------------------

    /// We announced a service in `group` (or changed it).
    pub(super) fn elections_on_announce(&mut self, group: &ServiceGroup, topology: Topology) {
        let now = self.now();
        if topology == Topology::Leader && !self.elections.voters.contains_key(group) {
            // Learn what the ring already holds for this group before we could finish a term.
            self.pull_rumors();
        }
        let g = self
            .elections
            .voters
            .entry(group.clone())
            .or_insert_with(|| VoterGroup::new(topology, now));
        g.topology = topology;
        g.recount = true;
        if topology == Topology::Leader {
            let _ = self.start_or_join(ElectionKind::Leader, group);
        }
    }

    /// We withdrew our service from `group`: we vote there no more.
    pub(super) fn elections_on_withdraw(&mut self, group: &ServiceGroup) {
        self.elections.voters.remove(group);
    }

    /// Our view of `member`'s health changed from `from` to `to`.
    pub(crate) fn elections_on_member_change(
        &mut self,
        member: MemberId,
        from: Option<Health>,
        to: Health,
    ) {
        let now = self.clock.now();
        let Engine {
            elections, rumors, ..
        } = self;
        for (group, g) in elections.voters.iter_mut() {
            if rumors.service(group, member).is_none_or(|s| s.withdrawn) {
                continue;
            }
            g.check = true;
            if !g.recount {
                let (a0, p0) = in_count(from);
                let (a1, p1) = in_count(Some(to));
                if (a0, p0) != (a1, p1) {
                    g.alive = (g.alive + a1).saturating_sub(a0);
                    g.population = (g.population + p1).saturating_sub(p0);
                    g.changed_at = now;
                }
            }
        }
    }

    /// Before an incoming rumor is merged: for a voter, joins or refuses a higher term.
    pub(super) fn elections_before_apply(&mut self, rumor: &Rumor, origin: Origin) -> ElectionGate {
        let (kind, incoming) = match rumor {
            Rumor::Election(e) => (ElectionKind::Leader, e),
            Rumor::ElectionUpdate(e) => (ElectionKind::Update, e),
            _ => return ElectionGate::NotElection,
        };
        let group = incoming.group.clone();
        let before = self.snapshot(kind, &group);
        let behind = origin == Origin::Remote
            && self
                .election(kind, &group)
                .is_some_and(|held| incoming.progress() < held.progress());
        let admit = ElectionGate::Admit {
            kind,
            group: group.clone(),
            before,
            behind,
        };
        if origin != Origin::Remote
            || self.departed
            || !self.elections.voters.contains_key(&group)
            || incoming.is_finished()
        {
            return admit;
        }
        let held = self.election(kind, &group).cloned();
        match held {
            None => self.start_own(kind, &group, incoming.term, false),
            Some(h) if incoming.term > h.term => {
                if h.is_finished() {
                    let leader = h.member_id;
                    if leader == self.me.id {
                        self.start_own(kind, &group, incoming.term, true);
                    } else if self.leader_gone(&group, leader)
                        || incoming.member_id == leader
                        || incoming.has_vote(leader)
                    {
                        self.start_own(kind, &group, incoming.term, false);
                    } else {
                        return ElectionGate::Reject;
                    }
                } else {
                    self.start_own(kind, &group, incoming.term, false);
                }
            }
            Some(_) => {}
        }
        admit
    }

    /// After a rumor was merged (or refused by the merge rule).
    pub(super) fn elections_after_apply(
        &mut self,
        key: &RumorKey,
        outcome: StoreOutcome,
        gate: ElectionGate,
    ) {
        if let RumorKey::Service { group, .. } = key {
            if outcome.changed() {
                if let Some(g) = self.elections.voters.get_mut(group) {
                    g.recount = true;
                    g.check = true;
                }
            }
            return;
        }
        let ElectionGate::Admit {
            kind,
            group,
            before,
            behind,
        } = gate
        else {
            return;
        };
        if self.elections.voters.contains_key(&group) && !self.departed {
            self.check_election(kind, &group);
        }
        if behind && !outcome.changed() {
            // The sender (or whoever it heard from) missed what we hold: a late joiner standing
            // in a term the group finished, a candidate short of a vote. Spread ours again
            // rather than wait for anti-entropy to find the difference.
            self.dissemination.on_changed(&kind.key(&group));
        }
        self.report(kind, &group, before);
    }

    /// The batched work, once per gossip tick: recounts and re-checks of the groups whose
    /// membership changed.
    pub(super) fn run_election_checks(&mut self) {
        if self.departed {
            return;
        }
        let due: Vec<ServiceGroup> = self
            .elections
            .voters
            .iter()
            .filter(|(_, g)| g.check || g.recount)
            .map(|(group, _)| group.clone())
            .collect();
        for group in due {
            let grew = self.recount(&group);
            if let Some(g) = self.elections.voters.get_mut(&group) {
                g.check = false;
            }
            for kind in ElectionKind::ALL {
                let before = self.snapshot(kind, &group);
                if before.is_none() {
                    continue;
                }
                self.check_election(kind, &group);
                if grew && self.snapshot(kind, &group) == before {
                    // Newcomers to the group must hear the election to vote in it.
                    self.dissemination.on_changed(&kind.key(&group));
                }
                self.report(kind, &group, before);
            }
        }
    }

    // ----- the algorithm -------------------------------------------------------------------

    /// Recomputes the group's counters if marked; whether its population grew.
    fn recount(&mut self, group: &ServiceGroup) -> bool {
        let Some(g) = self.elections.voters.get(group) else {
            return false;
        };
        if !g.recount {
            return false;
        }
        let old = g.population;
        let (mut alive, mut population) = (0u32, 0u32);
        for s in self.rumors.services(group).filter(|s| !s.withdrawn) {
            let h = if s.member_id == self.me.id {
                Some(Health::Alive)
            } else {
                self.view.members.health(s.member_id)
            };
            let (a, p) = in_count(h);
            alive += a;
            population += p;
        }
        let now = self.now();
        if let Some(g) = self.elections.voters.get_mut(group) {
            if (g.alive, g.population) != (alive, population) {
                g.changed_at = now;
            }
            g.alive = alive;
            g.population = population;
            g.recount = false;
        }
        population > old
    }

    fn quorum(&mut self, group: &ServiceGroup) -> bool {
        self.recount(group);
        self.elections
            .voters
            .get(group)
            .is_some_and(VoterGroup::quorum)
    }

    /// Whether `member` is Alive (we are) and runs the service in `group`.
    fn alive_in(&self, group: &ServiceGroup, member: MemberId) -> bool {
        let health = if member == self.me.id {
            Some(Health::Alive)
        } else {
            self.view.members.health(member)
        };
        health == Some(Health::Alive)
            && self
                .rumors
                .service(group, member)
                .is_some_and(|s| !s.withdrawn)
    }

    /// Whether the Finished leader `leader` is gone (see `is_gone`). A leader the member list
    /// does not know counts as gone, as in Butterfly, only once our pull of the ring is confirmed
    /// and we hold no live Service rumor of it in the group: the member list forgets no one, so
    /// an unknown member is one we have not heard of yet. (A joiner that adopted the group's
    /// Finished election before the membership exchange brought its leader restarted the term,
    /// and stayed alone in it for good: the others keep a live leader that did not call it.)
    fn leader_gone(&self, group: &ServiceGroup, leader: MemberId) -> bool {
        let unknown_is_gone = self.pull_confirmed(group)
            && self
                .rumors
                .service(group, leader)
                .is_none_or(|s| s.withdrawn);
        self.is_gone(group, leader, unknown_is_gone)
    }

    /// Whether a leader (`unknown_is_gone`) or a candidate is gone: Confirmed, Departed, or
    /// out of the group (its service withdrawn); a leader also when the member list does not
    /// know it. A Service rumor not heard yet is not a departure from the group, and neither is
    /// an unknown candidate (it may have just joined).
    fn is_gone(&self, group: &ServiceGroup, member: MemberId, unknown_is_gone: bool) -> bool {
        if member == self.me.id {
            return false;
        }
        let withdrawn = self
            .rumors
            .service(group, member)
            .is_some_and(|s| s.withdrawn);
        withdrawn
            || match self.view.members.health(member) {
                Some(Health::Alive | Health::Suspect) => false,
                Some(Health::Confirmed | Health::Departed) => true,
                None => unknown_is_gone,
            }
    }

    /// The suitability we stand with in `kind` for `group`.
    fn own_suitability(
        &self,
        kind: ElectionKind,
        group: &ServiceGroup,
        former_leader: bool,
    ) -> u64 {
        let set = self.suitability(group);
        match kind {
            ElectionKind::Leader if former_leader => u64::MAX,
            ElectionKind::Leader => set,
            ElectionKind::Update => {
                let leads = self.leader(group) == Some(self.me.id)
                    && self
                        .elections
                        .voters
                        .get(group)
                        .is_some_and(|g| g.topology == Topology::Leader);
                if leads {
                    0
                } else if former_leader {
                    u64::MAX
                } else {
                    set.max(1)
                }
            }
        }
    }

    /// Starts our own election of `kind` for `group` at `term`, voting for ourselves, replacing
    /// whatever is held (the caller merges any incoming rumor after this).
    fn start_own(
        &mut self,
        kind: ElectionKind,
        group: &ServiceGroup,
        term: u64,
        former_leader: bool,
    ) {
        let suitability = self.own_suitability(kind, group, former_leader);
        let mut e = Election::new(self.me.id, group.clone(), term, suitability);
        if !self.quorum(group) {
            e.status = ElectionStatus::NoQuorum;
        }
        self.emit(Event::ElectionStarted {
            kind,
            group: group.clone(),
            term,
        });
        self.commit(kind, e);
    }

    /// A voter's re-examination of the election held: restarts, our vote, status, finishing.
    fn check_election(&mut self, kind: ElectionKind, group: &ServiceGroup) {
        let Some(held) = self.election(kind, group).cloned() else {
            return;
        };
        let quorum = self.quorum(group);
        let me = self.me.id;
        if held.is_finished() {
            if held.member_id == me {
                if !quorum {
                    self.start_own(kind, group, held.term.saturating_add(1), true);
                }
            } else if self.leader_gone(group, held.member_id) {
                self.start_own(kind, group, held.term.saturating_add(1), false);
            }
            return;
        }
        if held.member_id != me && self.is_gone(group, held.member_id, false) {
            self.start_own(kind, group, held.term.saturating_add(1), false);
            return;
        }
        let mut e = held.clone();
        if !e.has_vote(me) {
            let mine = Election::new(
                me,
                group.clone(),
                e.term,
                self.own_suitability(kind, group, false),
            );
            if let crate::rumor::Verdict::Replace(merged) = Election::merge(&e, mine) {
                e = merged;
            }
        }
        e.status = if !quorum {
            ElectionStatus::NoQuorum
        } else if e.member_id == me && self.all_alive_voted(group, &e) {
            if self.settled(group) {
                ElectionStatus::Finished
            } else {
                if !self.pull_confirmed(group) {
                    self.pull_again_if_due();
                }
                // Look again on a later gossip tick.
                if let Some(g) = self.elections.voters.get_mut(group) {
                    g.check = true;
                }
                ElectionStatus::Running
            }
        } else {
            ElectionStatus::Running
        };
        if e != held {
            self.commit(kind, e);
        }
    }

    /// How long a candidate's view of its group must have been still before it finishes an
    /// election: three gossip rounds, and at least one protocol period. Members that announce
    /// a service at about the same time have then heard of each other's Service rumors (or
    /// are Suspect), so a candidate does not finish alone in a group it has not seen yet, and
    /// no two candidates finish the same term with different leaders.
    fn election_settle(&self) -> std::time::Duration {
        (self.config.gossip_interval * 3).max(self.config.protocol_period)
    }

    /// The candidate's view of the group has been still for `election_settle`, and what the ring
    /// holds was pulled since it last changed (see `pull_confirmed`): a late joiner that has not
    /// yet heard the group's Service and Election rumors must not finish a term alone.
    fn settled(&self, group: &ServiceGroup) -> bool {
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
    fn pull_gap(&self) -> std::time::Duration {
        self.election_settle() / 2
    }

    /// Whether we pulled what the ring holds since our view of `group` last changed (or we
    /// joined it), or there is nobody to pull from: we know no live member and have no
    /// bootstrap peers (a member still joining is not alone, it just has not met the ring yet).
    ///
    /// One answer is not enough. A digest answer only shows what we lack; the rumors come in a
    /// later reply, and a candidate that took the answer for the rumors could finish a term
    /// alone, beside the group's leader of that term, before they arrived, or for good if the
    /// reply is lost. So it takes two answers after the change, the second at least `pull_gap` after the first and at least
    /// `pull_gap` ago: the second exchange asks again for whatever the first one's reply lost,
    /// and whatever either brought that changes the group's view starts the count again. Only
    /// two lost replies in a row can still mislead it.
    fn pull_confirmed(&self, group: &ServiceGroup) -> bool {
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
    fn pull_again_if_due(&mut self) {
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
    fn pull_rumors(&mut self) {
        self.elections.pull_asked_at = Some(self.now());
        self.rumor_sync_with_random_member();
    }

    /// Whether every Alive member of the group voted for the candidate.
    fn all_alive_voted(&self, group: &ServiceGroup, e: &Election) -> bool {
        let alive = self.elections.voters.get(group).map_or(0, |g| g.alive);
        let votes = e.votes.iter().filter(|&&v| self.alive_in(group, v)).count();
        u32::try_from(votes).unwrap_or(u32::MAX) >= alive
    }

    /// Stores our own update of an election and spreads it.
    fn commit(&mut self, kind: ElectionKind, e: Election) {
        let key = kind.key(&e.group);
        let term = e.term;
        let rumor = match kind {
            ElectionKind::Leader => Rumor::Election(e),
            ElectionKind::Update => Rumor::ElectionUpdate(e),
        };
        if self.rumors.put(rumor).changed() {
            self.metrics.rumors_applied += 1;
            self.dissemination.on_changed(&key);
            self.emit(Event::RumorApplied {
                kind: key.kind(),
                key,
                incarnation: crate::id::Incarnation(term),
            });
        }
    }

    fn snapshot(&self, kind: ElectionKind, group: &ServiceGroup) -> Snapshot {
        self.election(kind, group)
            .map(|e| (e.status, e.term, e.member_id))
    }

    /// Events for the change from `before` to what is held now.
    fn report(&mut self, kind: ElectionKind, group: &ServiceGroup, before: Snapshot) {
        let after = self.snapshot(kind, group);
        if after == before {
            return;
        }
        let Some((status, term, member)) = after else {
            return;
        };
        let was = before.map(|(s, t, _)| (s, t));
        match status {
            ElectionStatus::Finished => self.emit(Event::ElectionFinished {
                kind,
                group: group.clone(),
                term,
                leader: member,
            }),
            ElectionStatus::NoQuorum if was != Some((ElectionStatus::NoQuorum, term)) => {
                self.emit(Event::ElectionNoQuorum {
                    kind,
                    group: group.clone(),
                    term,
                })
            }
            _ => {}
        }
    }
}
