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
//! Each rule lives in the file named after it: `join.rs` (start, vote, higher term),
//! `quorum.rs`, `finish.rs` and `restart.rs`. This file holds the state, the hooks the rest of
//! the engine calls, and the check that applies the rules in order.
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

mod finish;
mod join;
mod quorum;
mod restart;

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
use quorum::in_count;

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
        if self.join_incoming(kind, &group, incoming) {
            admit
        } else {
            ElectionGate::Reject
        }
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

    // ----- checking an election ------------------------------------------------------------

    /// A voter's re-examination of the election held: restart, our vote, status.
    fn check_election(&mut self, kind: ElectionKind, group: &ServiceGroup) {
        let Some(held) = self.election(kind, group).cloned() else {
            return;
        };
        let quorum = self.quorum(group);
        if self.restart_if_due(kind, group, &held, quorum) {
            return;
        }
        let mut e = self.with_our_vote(kind, group, held.clone());
        e.status = self.status(group, &e, quorum);
        if e != held {
            self.commit(kind, e);
        }
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
            self.on_rumor_stored(&key, crate::id::Incarnation(term), true);
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
