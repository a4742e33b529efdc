//! Leader elections as the simulator sees them (issue 4).
//!
//! For every service group some `[[service]]` runs with `topology = "leader"`, [`Elections`]
//! keeps, per member of the group, the election each member holds (status, term, leader) as its
//! engine reported it (`ElectionStarted`, `ElectionFinished`, `ElectionNoQuorum`; read back
//! from the engine after a restart), and the group's *sides*: the classes of its members under
//! the network's reachability (both ways, closed transitively: gossip crosses intermediaries),
//! recomputed after every timeline action.
//!
//! From these it answers the election expectations of [`crate::expect`]:
//!
//! - the *majority side* of a group is the side holding more than half of the group's live
//!   members (none when no side does); `leader_elected` holds when every live member of it
//!   holds the same Finished leader, and that leader is live and on the majority side;
//! - `no_quorum` holds when every selected member is live and holds NoQuorum;
//! - `single_leader` (safety) is checked on every `ElectionFinished`: every member that ever
//!   finished the same group, kind and term is remembered with its leader, and a different
//!   leader finished by a member the observer can reach at that moment is a violation.
//!
//! It also times every election: for each (group, kind, term), the first `ElectionStarted`
//! anywhere, the first `ElectionFinished`, and the first moment every live member of the group
//! holds it Finished ([`ElectionRecord`], listed in `summary.json`).

use std::collections::BTreeMap;

use engine::rumor::{ElectionKind, ElectionStatus};
use engine::ServiceGroup;
use serde::Serialize;

use crate::plan::ServicePlan;
use crate::scenario::Topology;

/// What one member holds for one election kind of a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Held {
    /// The status.
    pub status: ElectionStatus,
    /// The term.
    pub term: u64,
    /// The leader (index), when Finished and known.
    pub leader: Option<u32>,
}

/// One election's timing, as listed in `summary.json` (`elections`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ElectionRecord {
    /// The service group.
    pub group: String,
    /// `leader` or `update`.
    pub kind: &'static str,
    /// The term.
    pub term: u64,
    /// First `ElectionStarted` at this term anywhere (virtual seconds), if seen.
    pub started_s: Option<f64>,
    /// First `ElectionFinished` at this term anywhere.
    pub first_finished_s: Option<f64>,
    /// First moment every live member of the group held it Finished.
    pub finished_all_s: Option<f64>,
    /// `finished_all_s - started_s`.
    pub duration_s: Option<f64>,
    /// The leader first finished (member index).
    pub leader: Option<u32>,
    /// Members that reported NoQuorum at this term.
    pub no_quorum_members: u32,
}

#[derive(Clone, Debug, Default)]
struct Timing {
    started_ns: Option<u64>,
    first_finished_ns: Option<u64>,
    finished_all_ns: Option<u64>,
    leader: Option<u32>,
    no_quorum: Vec<u32>,
}

#[derive(Clone, Debug)]
struct Group {
    group: ServiceGroup,
    /// Its members (sorted, distinct).
    members: Vec<u32>,
    /// Per member (by position), per kind (leader, update).
    held: Vec<[Option<Held>; 2]>,
    /// Per member (by position): its side (class under reachability).
    side: Vec<u32>,
}

/// A violation of `single_leader`: two leaders for one term among members that reach each
/// other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitBrain {
    /// The group.
    pub group: ServiceGroup,
    /// The term.
    pub term: u64,
    /// The member that just finished, and its leader.
    pub observer: (u32, Option<u32>),
    /// The reachable member that finished the same term with another leader, and its leader.
    pub other: (u32, Option<u32>),
}

/// Election state of the groups with a leader topology; see the module documentation.
#[derive(Clone, Debug, Default)]
pub struct Elections {
    groups: Vec<Group>,
    timings: BTreeMap<Term, Timing>,
    /// Every Finished seen: (group, kind, term) → (member, leader).
    finished: BTreeMap<Term, Vec<(u32, Option<u32>)>>,
}

/// (group position, kind index, term).
type Term = (usize, usize, u64);

fn kind_index(kind: ElectionKind) -> usize {
    match kind {
        ElectionKind::Leader => 0,
        ElectionKind::Update => 1,
    }
}

fn kind_name(k: usize) -> &'static str {
    if k == 0 {
        "leader"
    } else {
        "update"
    }
}

impl Elections {
    /// Tracks every group one of `services` runs with a leader topology (all the group's
    /// `[[service]]` members are its members).
    pub fn new(services: &[ServicePlan]) -> Self {
        let mut groups: Vec<Group> = Vec::new();
        for s in services.iter().filter(|s| s.topology == Topology::Leader) {
            if groups.iter().any(|g| g.group == s.group) {
                continue;
            }
            let mut members: Vec<u32> = services
                .iter()
                .filter(|o| o.group == s.group)
                .flat_map(|o| o.members.iter().copied())
                .collect();
            members.sort_unstable();
            members.dedup();
            let n = members.len();
            groups.push(Group {
                group: s.group.clone(),
                members,
                held: vec![[None, None]; n],
                side: vec![0; n],
            });
        }
        Elections {
            groups,
            ..Elections::default()
        }
    }

    /// Whether no group is tracked (nothing to do).
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The tracked groups and their members.
    pub fn groups(&self) -> impl Iterator<Item = (&ServiceGroup, &[u32])> + '_ {
        self.groups.iter().map(|g| (&g.group, g.members.as_slice()))
    }

    fn find(&self, group: &ServiceGroup) -> Option<usize> {
        self.groups.iter().position(|g| &g.group == group)
    }

    fn position(&self, g: usize, member: u32) -> Option<usize> {
        self.groups[g].members.binary_search(&member).ok()
    }

    /// Records what `member` holds of group `g`'s election of kind index `k` (nothing when it
    /// is not a member of the group).
    fn hold(&mut self, g: usize, k: usize, member: u32, held: Option<Held>) {
        if let Some(p) = self.position(g, member) {
            self.groups[g].held[p][k] = held;
        }
    }

    /// What `member` holds for `kind` in `group`, if tracked.
    pub fn held(&self, group: &ServiceGroup, kind: ElectionKind, member: u32) -> Option<Held> {
        let g = self.find(group)?;
        let p = self.position(g, member)?;
        self.groups[g].held[p][kind_index(kind)]
    }

    /// Recomputes every group's sides from `reachable(a, b)` (both ways).
    pub fn set_sides(&mut self, reachable: impl Fn(u32, u32) -> bool) {
        for g in &mut self.groups {
            let n = g.members.len();
            let mut parent: Vec<usize> = (0..n).collect();
            fn root(parent: &mut [usize], mut x: usize) -> usize {
                while parent[x] != x {
                    parent[x] = parent[parent[x]];
                    x = parent[x];
                }
                x
            }
            for a in 0..n {
                for b in a + 1..n {
                    if reachable(g.members[a], g.members[b]) {
                        let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
                        if ra != rb {
                            parent[ra.max(rb)] = ra.min(rb);
                        }
                    }
                }
            }
            for p in 0..n {
                g.side[p] = root(&mut parent, p) as u32;
            }
        }
    }

    /// Member `member` stopped: it holds nothing any more.
    pub fn member_down(&mut self, member: u32) {
        for g in &mut self.groups {
            if let Ok(p) = g.members.binary_search(&member) {
                g.held[p] = [None, None];
            }
        }
    }

    /// Sets what `member` holds (read from its engine after a restart).
    pub fn set_held(
        &mut self,
        group: &ServiceGroup,
        kind: ElectionKind,
        member: u32,
        held: Option<Held>,
    ) {
        if let Some(g) = self.find(group) {
            self.hold(g, kind_index(kind), member, held);
        }
    }

    /// `observer` started or joined an election at `term`.
    pub fn started(
        &mut self,
        now: u64,
        observer: u32,
        kind: ElectionKind,
        group: &ServiceGroup,
        term: u64,
    ) {
        let Some(g) = self.find(group) else { return };
        let k = kind_index(kind);
        let t = self.timings.entry((g, k, term)).or_default();
        t.started_ns.get_or_insert(now);
        let held = Held {
            status: ElectionStatus::Running,
            term,
            leader: None,
        };
        self.hold(g, k, observer, Some(held));
    }

    /// `observer` holds NoQuorum at `term`.
    pub fn no_quorum(
        &mut self,
        observer: u32,
        kind: ElectionKind,
        group: &ServiceGroup,
        term: u64,
    ) {
        let Some(g) = self.find(group) else { return };
        let k = kind_index(kind);
        let t = self.timings.entry((g, k, term)).or_default();
        if !t.no_quorum.contains(&observer) {
            t.no_quorum.push(observer);
        }
        let held = Held {
            status: ElectionStatus::NoQuorum,
            term,
            leader: None,
        };
        self.hold(g, k, observer, Some(held));
    }

    /// `observer` holds the election Finished with `leader` at `term`. Returns the members
    /// that finished the same term with another leader (the caller keeps those it can reach
    /// as [`SplitBrain`]s); `live[i]` says whether member i is live.
    #[allow(clippy::too_many_arguments)]
    pub fn finished(
        &mut self,
        now: u64,
        observer: u32,
        kind: ElectionKind,
        group: &ServiceGroup,
        term: u64,
        leader: Option<u32>,
        live: &[bool],
    ) -> Vec<SplitBrain> {
        let Some(g) = self.find(group) else {
            return Vec::new();
        };
        let k = kind_index(kind);
        let held = Held {
            status: ElectionStatus::Finished,
            term,
            leader,
        };
        self.hold(g, k, observer, Some(held));
        let seen = self.finished.entry((g, k, term)).or_default();
        let conflicts = seen
            .iter()
            .filter(|&&(m, l)| m != observer && l != leader)
            .map(|&(m, l)| SplitBrain {
                group: group.clone(),
                term,
                observer: (observer, leader),
                other: (m, l),
            })
            .collect();
        match seen.iter_mut().find(|(m, _)| *m == observer) {
            Some(entry) => entry.1 = leader,
            None => seen.push((observer, leader)),
        }
        let all = {
            let grp = &self.groups[g];
            grp.members.iter().enumerate().all(|(p, &m)| {
                !live.get(m as usize).copied().unwrap_or(false)
                    || grp.held[p][k]
                        .is_some_and(|h| h.status == ElectionStatus::Finished && h.term == term)
            })
        };
        let t = self.timings.entry((g, k, term)).or_default();
        if t.first_finished_ns.is_none() {
            t.first_finished_ns = Some(now);
            t.leader = leader;
        }
        if all && t.finished_all_ns.is_none() {
            t.finished_all_ns = Some(now);
        }
        conflicts
    }

    /// The majority side of `group` (its live members on the side that holds more than half
    /// of the group's live members), or `None` when no side does or the group is unknown.
    pub fn majority_side(
        &self,
        group: &ServiceGroup,
        live: impl Fn(u32) -> bool,
    ) -> Option<Vec<u32>> {
        let g = &self.groups[self.find(group)?];
        let live_pos: Vec<usize> = (0..g.members.len())
            .filter(|&p| live(g.members[p]))
            .collect();
        let mut counts: BTreeMap<u32, usize> = BTreeMap::new();
        for &p in &live_pos {
            *counts.entry(g.side[p]).or_default() += 1;
        }
        let (&side, _) = counts.iter().find(|(_, &c)| c * 2 > live_pos.len())?;
        Some(
            live_pos
                .into_iter()
                .filter(|&p| g.side[p] == side)
                .map(|p| g.members[p])
                .collect(),
        )
    }

    /// `leader_elected`: (met, progress, leader and term when met). Progress is the share of
    /// the majority side holding the most common Finished leader.
    pub fn leader_elected(
        &self,
        group: &ServiceGroup,
        live: impl Fn(u32) -> bool,
    ) -> (bool, f64, Option<(u32, u64)>) {
        let Some(side) = self.majority_side(group, &live) else {
            return (false, 0.0, None);
        };
        let mut counts: BTreeMap<(u32, u64), usize> = BTreeMap::new();
        for &m in &side {
            if let Some(Held {
                status: ElectionStatus::Finished,
                term,
                leader: Some(l),
            }) = self.held(group, ElectionKind::Leader, m)
            {
                *counts.entry((l, term)).or_default() += 1;
            }
        }
        let best = counts.iter().max_by_key(|(_, &c)| c);
        let Some((&(leader, term), &count)) = best else {
            return (false, 0.0, None);
        };
        let progress = count as f64 / side.len().max(1) as f64;
        let met = count == side.len() && side.contains(&leader);
        (met, progress, met.then_some((leader, term)))
    }

    /// `no_quorum`: how many of `members` are live and hold NoQuorum in `group`.
    pub fn no_quorum_count(
        &self,
        group: &ServiceGroup,
        members: &[u32],
        live: impl Fn(u32) -> bool,
    ) -> usize {
        members
            .iter()
            .filter(|&&m| {
                live(m)
                    && self
                        .held(group, ElectionKind::Leader, m)
                        .is_some_and(|h| h.status == ElectionStatus::NoQuorum)
            })
            .count()
    }

    /// Every election seen, by group (in `[[service]]` order), kind and term.
    pub fn records(&self) -> Vec<ElectionRecord> {
        let s = |ns: Option<u64>| ns.map(|n| n as f64 / 1e9);
        self.timings
            .iter()
            .map(|(&(g, k, term), t)| ElectionRecord {
                group: self.groups[g].group.to_string(),
                kind: kind_name(k),
                term,
                started_s: s(t.started_ns),
                first_finished_s: s(t.first_finished_ns),
                finished_all_s: s(t.finished_all_ns),
                duration_s: match (t.started_ns, t.finished_all_ns) {
                    (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 / 1e9),
                    _ => None,
                },
                leader: t.leader,
                no_quorum_members: t.no_quorum.len() as u32,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::ServiceSpec;

    fn grp() -> ServiceGroup {
        "redis.default".parse().expect("group")
    }

    fn tracker(n: u32) -> Elections {
        Elections::new(&[ServicePlan {
            group: grp(),
            members: (0..n).collect(),
            topology: Topology::Leader,
            spec: ServiceSpec {
                pkg: "core/redis/1/2".into(),
                cfg: Vec::new(),
                initialized: true,
                sys: None,
                topology: engine::rumor::Topology::Leader,
            },
        }])
    }

    #[test]
    fn a_leader_is_elected_when_the_majority_side_agrees() {
        let mut e = tracker(5);
        let live = [true; 5];
        // Sides {0,1,2} and {3,4}.
        e.set_sides(|a, b| (a < 3) == (b < 3));
        for m in 0..5 {
            e.started(1, m, ElectionKind::Leader, &grp(), 0);
        }
        assert!(!e.leader_elected(&grp(), |m| live[m as usize]).0);
        for m in 0..3 {
            let c = e.finished(2, m, ElectionKind::Leader, &grp(), 0, Some(2), &live);
            assert!(c.is_empty());
        }
        let (met, _, who) = e.leader_elected(&grp(), |m| live[m as usize]);
        assert!(met);
        assert_eq!(who, Some((2, 0)));
        for m in 3..5 {
            e.no_quorum(m, ElectionKind::Leader, &grp(), 0);
        }
        assert_eq!(e.no_quorum_count(&grp(), &[3, 4], |m| live[m as usize]), 2);
        // Not every live member finished: no finished_all yet.
        let r = &e.records()[0];
        assert_eq!(r.finished_all_s, None);
        assert_eq!(r.leader, Some(2));
        assert_eq!(r.no_quorum_members, 2);
    }

    #[test]
    fn a_leader_off_the_majority_side_is_not_elected() {
        let mut e = tracker(3);
        let live = [true; 3];
        e.set_sides(|a, b| (a == 0) == (b == 0));
        for m in 1..3 {
            e.finished(1, m, ElectionKind::Leader, &grp(), 0, Some(0), &live);
        }
        assert!(!e.leader_elected(&grp(), |m| live[m as usize]).0);
        // No side has a majority when 2 of 4 live members are on each.
        let mut e = tracker(4);
        e.set_sides(|a, b| (a < 2) == (b < 2));
        assert_eq!(e.majority_side(&grp(), |_| true), None);
    }

    #[test]
    fn two_leaders_for_one_term_are_reported_and_timings_complete() {
        let mut e = tracker(3);
        let live = [true; 3];
        e.started(1_000_000_000, 0, ElectionKind::Leader, &grp(), 4);
        e.finished(
            2_000_000_000,
            0,
            ElectionKind::Leader,
            &grp(),
            4,
            Some(0),
            &live,
        );
        e.finished(
            2_500_000_000,
            1,
            ElectionKind::Leader,
            &grp(),
            4,
            Some(0),
            &live,
        );
        let c = e.finished(
            3_000_000_000,
            2,
            ElectionKind::Leader,
            &grp(),
            4,
            Some(2),
            &live,
        );
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].other, (0, Some(0)));
        let r = &e.records()[0];
        assert_eq!(r.term, 4);
        assert_eq!(r.finished_all_s, Some(3.0));
        assert_eq!(r.duration_s, Some(2.0));
        e.member_down(2);
        assert_eq!(e.held(&grp(), ElectionKind::Leader, 2), None);
    }
}
