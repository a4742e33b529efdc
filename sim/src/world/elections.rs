//! Election metrics: the engines' election events feed [`crate::elections`] (through the
//! metrics) and the judge. A `leader:GROUP` selector in a timeline action's `members` is
//! resolved when the action runs, to the member most live members of the group hold as leader
//! (ties: the lowest index; nobody when no live member holds a Finished leader), and listed in
//! `commands` (`resolve_leader`).

use engine::rumor::{ElectionKind, ElectionStatus};
use engine::{Event, ServiceGroup};

use super::{Process, World};

impl World<'_> {
    /// Records one of member `observer`'s election events; other events are ignored.
    pub(super) fn on_election(&mut self, observer: u32, event: Event) {
        match event {
            Event::ElectionStarted { kind, group, term } => {
                self.metrics
                    .elections
                    .started(self.now, observer, kind, &group, term);
                self.judge.elections_changed(self.now, &self.metrics);
            }
            Event::ElectionNoQuorum { kind, group, term } => {
                self.metrics
                    .elections
                    .no_quorum(observer, kind, &group, term);
                self.judge.elections_changed(self.now, &self.metrics);
            }
            Event::ElectionFinished {
                kind,
                group,
                term,
                leader,
            } => {
                let leader = self.ids.get(&leader).copied();
                let conflicts = self
                    .metrics
                    .election_finished(self.now, observer, kind, &group, term, leader);
                for split in conflicts {
                    // A stopped member cannot be reached (its old finishes do not count).
                    let other = split.other.0;
                    if self.metrics.is_live(other) && self.network.reachable(observer, other) {
                        self.judge.split_brain(self.now, &split);
                    }
                }
                self.judge.elections_changed(self.now, &self.metrics);
            }
            _ => {}
        }
    }

    /// Recomputes the election groups' sides from the network's reachability.
    pub(super) fn update_sides(&mut self) {
        if self.metrics.elections.is_empty() {
            return;
        }
        let network = &self.network;
        self.metrics
            .elections
            .set_sides(|a, b| network.reachable(a, b));
    }

    /// The current leader of each of `groups` (see the module documentation), recorded in
    /// `commands`.
    pub(super) fn resolve_leaders(&mut self, groups: &[ServiceGroup]) -> Vec<u32> {
        let mut out = Vec::new();
        for group in groups {
            let mut votes: std::collections::BTreeMap<u32, u32> = Default::default();
            let mut live = 0u32;
            for sv in self.plan.services.iter().filter(|sv| &sv.group == group) {
                for &m in &sv.members {
                    let engine = match &self.slots[m as usize].process {
                        Process::Running(e) | Process::Paused(e, _) => e,
                        Process::Absent | Process::Down => continue,
                    };
                    live += 1;
                    if let Some(&l) = engine.leader(group).and_then(|id| self.ids.get(&id)) {
                        *votes.entry(l).or_default() += 1;
                    }
                }
            }
            // Most votes; among equals the lowest index (the map iterates in index order).
            let best = votes
                .iter()
                .fold(None, |best: Option<(u32, u32)>, (&m, &c)| match best {
                    Some((_, bc)) if bc >= c => best,
                    _ => Some((m, c)),
                });
            let (ok, detail) = match best {
                Some((m, c)) => {
                    out.push(m);
                    (
                        Ok(()),
                        format!(
                            "leader:{group} is member {m} (held by {c} of {live} live members)"
                        ),
                    )
                }
                None => (
                    Err(format!("no live member holds a leader ({live} live)")),
                    format!("leader:{group}"),
                ),
            };
            let member = best.map(|(m, _)| m);
            self.record("resolve_leader", member, ok, detail);
        }
        out
    }

    /// Reads what member `i`'s engine holds of the tracked elections (after a restart, which
    /// restores elections without events).
    pub(super) fn sync_elections(&mut self, i: u32) {
        if self.metrics.elections.is_empty() {
            return;
        }
        let Process::Running(engine) = &self.slots[i as usize].process else {
            return;
        };
        let groups: Vec<ServiceGroup> = self
            .metrics
            .elections
            .groups()
            .filter(|(_, members)| members.binary_search(&i).is_ok())
            .map(|(g, _)| g.clone())
            .collect();
        let mut held = Vec::new();
        for g in groups {
            for kind in [ElectionKind::Leader, ElectionKind::Update] {
                let h = engine.election(kind, &g).map(|e| crate::elections::Held {
                    status: e.status,
                    term: e.term,
                    leader: (e.status == ElectionStatus::Finished)
                        .then(|| self.ids.get(&e.member_id).copied())
                        .flatten(),
                });
                held.push((g.clone(), kind, h));
            }
        }
        for (g, kind, h) in held {
            self.metrics.elections.set_held(&g, kind, i, h);
        }
    }
}
