//! Judging the scenario's expectations while the run goes on.
//!
//! A *liveness* expectation (`converged`, `detected`) holds when its condition is true at some
//! checked moment in its window `[after, after + within]`. Moments are checked at the window's
//! start, at every sample, after every timeline action, and after every view change that can
//! make the condition true (a view turning Alive for `converged`, a selected member turning
//! Confirmed or Departed for `detected`) — so a condition that holds only briefly between two
//! samples is still seen.
//!
//! The *safety* expectation `no_false_positives` fails if, at any moment of its window, an
//! observer marks a member Confirmed while that member is live, not paused, and reachable from
//! the observer both ways (no partition, isolation or cut between them; random loss does not
//! make a member unreachable).
//!
//! `rumor_everywhere` is a liveness expectation like `converged`, also checked whenever a
//! rumor version becomes held by every live member. For services it needs, for every live
//! member of the group's `[[service]]`, that member's Service rumor at the version (or newer)
//! held by every live member.
//!
//! `departed` combines both: at some checked moment in the window every live member (other
//! than the departed one) holds each selected member Departed and the selected members are not
//! running; from then until the end of the window no live member may hold one of them in
//! another health (a restart of theirs included: they must be refused and stop again); and at
//! the end of the window the first condition holds again.
//!
//! The election kinds (see [`crate::elections`] for what the run tracks): `leader_elected` and
//! `no_quorum` are liveness expectations, also checked after every election event;
//! `single_leader` is safety, judged on every `ElectionFinished` against the reachability the
//! network model has at that moment.

use engine::{Health, MemberId, RumorKey};
use serde::Serialize;

use crate::metrics::Metrics;
use crate::plan::{Expectation, RumorTarget};
use crate::scenario::ExpectKind;

/// The verdict on one expectation, as written to `summary.json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outcome {
    /// The expectation's kind.
    pub kind: &'static str,
    /// Whether it held.
    pub passed: bool,
    /// What was seen, for a person.
    pub detail: String,
    /// For an expectation that held at an instant (`converged`, `detected`, a rumor
    /// everywhere, …): seconds from the start of its window (`after`) to that instant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub met_after_s: Option<f64>,
}

/// Tracks every expectation of a run.
#[derive(Clone, Debug)]
pub struct Judge {
    items: Vec<Item>,
}

#[derive(Clone, Debug)]
struct Item {
    exp: Expectation,
    /// `detected`: which members are selected.
    selected: Vec<bool>,
    met_at_ns: Option<u64>,
    /// Best progress seen in the window: convergence, or members detected.
    best: f64,
    violations: u64,
    first_violation: Option<(u64, u32, u32)>,
    /// `rumor_everywhere`: the keys (with the member running the service, for services).
    keys: Vec<(RumorKey, Option<u32>)>,
    /// `rumor_everywhere`: the least version.
    version: u64,
    /// `departed`: the first time a selected member was held otherwise after the condition
    /// was met: (time, member, health held).
    relapse: Option<(u64, u32, Health)>,
    /// `departed`: whether the condition held at the last check at the window's end.
    end_ok: Option<bool>,
    /// `leader_elected`: the (leader, term) agreed when met.
    leader: Option<(u32, u64)>,
    /// `single_leader`: the first split brain, described.
    split: Option<String>,
}

impl Judge {
    /// A judge for `expectations` over the members whose ids are `ids` (by index).
    pub fn new(expectations: &[Expectation], ids: &[MemberId]) -> Self {
        let items = expectations
            .iter()
            .map(|exp| {
                let mut selected = Vec::new();
                if matches!(exp.kind, ExpectKind::Detected | ExpectKind::Departed) {
                    selected = vec![false; ids.len()];
                    for &m in &exp.members {
                        selected[m as usize] = true;
                    }
                }
                let (keys, version) = match &exp.rumor {
                    None => (Vec::new(), 0),
                    Some(RumorTarget::Config { group, version }) => (
                        vec![(
                            RumorKey::ServiceConfig {
                                group: group.clone(),
                            },
                            None,
                        )],
                        *version,
                    ),
                    Some(RumorTarget::File {
                        group,
                        file,
                        version,
                    }) => (
                        vec![(
                            RumorKey::ServiceFile {
                                group: group.clone(),
                                filename: file.clone(),
                            },
                            None,
                        )],
                        *version,
                    ),
                    Some(RumorTarget::Service {
                        group,
                        members,
                        version,
                    }) => (
                        members
                            .iter()
                            .map(|&m| {
                                let key = RumorKey::Service {
                                    group: group.clone(),
                                    member: ids[m as usize],
                                };
                                (key, Some(m))
                            })
                            .collect(),
                        *version,
                    ),
                };
                Item {
                    exp: exp.clone(),
                    selected,
                    met_at_ns: None,
                    best: 0.0,
                    violations: 0,
                    first_violation: None,
                    keys,
                    version,
                    relapse: None,
                    end_ok: None,
                    leader: None,
                    split: None,
                }
            })
            .collect();
        Judge { items }
    }

    /// Checks the `rumor_everywhere` expectations (after a rumor version became held by every
    /// live member).
    pub fn rumors_changed(&mut self, now: u64, metrics: &Metrics) {
        for item in &mut self.items {
            if item.exp.kind == ExpectKind::RumorEverywhere {
                item.check(now, metrics);
            }
        }
    }

    /// Checks the `leader_elected` and `no_quorum` expectations (after an election event).
    pub fn elections_changed(&mut self, now: u64, metrics: &Metrics) {
        for item in &mut self.items {
            if matches!(
                item.exp.kind,
                ExpectKind::LeaderElected | ExpectKind::NoQuorum
            ) {
                item.check(now, metrics);
            }
        }
    }

    /// Records two leaders finished for one term by members that reach each other.
    pub fn split_brain(&mut self, now: u64, split: &crate::elections::SplitBrain) {
        for item in &mut self.items {
            if item.exp.kind == ExpectKind::SingleLeader
                && item.in_window(now)
                && item.exp.group.as_ref().is_none_or(|g| g == &split.group)
            {
                item.violations += 1;
                let show = |l: Option<u32>| {
                    l.map_or("an unknown member".to_string(), |l| format!("member {l}"))
                };
                item.split.get_or_insert_with(|| {
                    format!(
                        "at {} member {} finished {} term {} with leader {} while member {}, which it can reach, finished it with leader {}",
                        secs(now),
                        split.observer.0,
                        split.group,
                        split.term,
                        show(split.observer.1),
                        split.other.0,
                        show(split.other.1)
                    )
                });
            }
        }
    }

    /// The times at which the judge needs a check beyond the samples: every window's start,
    /// and the end of every `departed` window.
    pub fn check_times(&self) -> Vec<u64> {
        let mut times = Vec::new();
        for item in &self.items {
            times.push(item.exp.after_ns);
            if item.exp.kind == ExpectKind::Departed {
                times.push(item.exp.until_ns);
            }
        }
        times
    }

    /// Checks every liveness expectation whose window contains `now`.
    pub fn check(&mut self, now: u64, metrics: &Metrics) {
        for item in &mut self.items {
            item.check(now, metrics);
        }
    }

    /// Checks what a view change of `subject` to `to` can have made true.
    pub fn view_changed(&mut self, now: u64, metrics: &Metrics, subject: u32, to: Health) {
        for item in &mut self.items {
            let relevant = match item.exp.kind {
                ExpectKind::Converged => to == Health::Alive,
                ExpectKind::Detected => to >= Health::Confirmed && item.selected[subject as usize],
                ExpectKind::Departed if item.selected[subject as usize] => {
                    if to != Health::Departed
                        && item.met_at_ns.is_some()
                        && item.in_window(now)
                        && item.relapse.is_none()
                    {
                        item.relapse = Some((now, subject, to));
                    }
                    to == Health::Departed
                }
                ExpectKind::NoFalsePositives
                | ExpectKind::RumorEverywhere
                | ExpectKind::Departed
                | ExpectKind::LeaderElected
                | ExpectKind::NoQuorum
                | ExpectKind::SingleLeader => false,
            };
            if relevant {
                item.check(now, metrics);
            }
        }
    }

    /// Records that `observer` marked the live, reachable `subject` Confirmed at `now`.
    pub fn false_confirmed(&mut self, now: u64, observer: u32, subject: u32) {
        for item in &mut self.items {
            if item.exp.kind == ExpectKind::NoFalsePositives && item.in_window(now) {
                item.violations += 1;
                item.first_violation.get_or_insert((now, observer, subject));
            }
        }
    }

    /// The verdicts, in the scenario's order.
    pub fn outcomes(&self) -> Vec<Outcome> {
        self.items.iter().map(Item::outcome).collect()
    }

    /// Whether every expectation held.
    pub fn all_passed(&self) -> bool {
        self.items.iter().all(|i| i.outcome().passed)
    }
}

impl Item {
    fn in_window(&self, now: u64) -> bool {
        self.exp.after_ns <= now && now <= self.exp.until_ns
    }

    fn check(&mut self, now: u64, metrics: &Metrics) {
        if self.exp.kind == ExpectKind::Departed {
            return self.check_departed(now, metrics);
        }
        if self.met_at_ns.is_some() || !self.in_window(now) {
            return;
        }
        let (met, progress) = match self.exp.kind {
            ExpectKind::RumorEverywhere => {
                let live = metrics.live_count();
                let mut complete = 0usize;
                let mut needed = 0usize;
                let mut least = 1.0f64;
                for (key, runner) in &self.keys {
                    if runner.is_some_and(|m| !metrics.is_live(m)) {
                        continue;
                    }
                    needed += 1;
                    let holders = metrics.coverage.holders(key, self.version);
                    if live > 0 && holders >= live {
                        complete += 1;
                    } else {
                        least = least.min(f64::from(holders) / f64::from(live.max(1)));
                    }
                }
                // Progress: the least covered rumor's share (1 when all are complete).
                (needed > 0 && complete == needed, least)
            }
            ExpectKind::Departed => return,
            ExpectKind::Converged => (metrics.converged(), metrics.convergence()),
            ExpectKind::Detected => {
                let done = self
                    .exp
                    .members
                    .iter()
                    .filter(|&&m| metrics.detected(m))
                    .count();
                (done == self.exp.members.len(), done as f64)
            }
            ExpectKind::NoFalsePositives | ExpectKind::SingleLeader => return,
            ExpectKind::LeaderElected => {
                let Some(group) = &self.exp.group else { return };
                let (met, progress, leader) = metrics
                    .elections
                    .leader_elected(group, |m| metrics.is_live(m));
                if met {
                    self.leader = leader;
                }
                (met, progress)
            }
            ExpectKind::NoQuorum => {
                let Some(group) = &self.exp.group else { return };
                let n = metrics
                    .elections
                    .no_quorum_count(group, &self.exp.members, |m| metrics.is_live(m));
                (n == self.exp.members.len(), n as f64)
            }
        };
        self.best = self.best.max(progress);
        if met {
            self.met_at_ns = Some(now);
        }
    }

    /// `departed` (see the module documentation).
    fn check_departed(&mut self, now: u64, metrics: &Metrics) {
        if !self.in_window(now) {
            return;
        }
        let live = metrics.live_count();
        let mut done = 0usize;
        for &m in &self.exp.members {
            let others = live - u32::from(metrics.is_live(m));
            let held_otherwise = [Health::Alive, Health::Suspect, Health::Confirmed]
                .iter()
                .find(|&&h| metrics.held(m, h) > 0);
            if let Some(&h) = held_otherwise {
                if self.met_at_ns.is_some() && self.relapse.is_none() {
                    self.relapse = Some((now, m, h));
                }
            }
            if metrics.held(m, Health::Departed) == others && !metrics.is_live(m) {
                done += 1;
            }
        }
        let all = done == self.exp.members.len();
        self.best = self.best.max(done as f64);
        if all && self.met_at_ns.is_none() {
            self.met_at_ns = Some(now);
        }
        if now == self.exp.until_ns {
            self.end_ok = Some(all);
        }
    }

    fn outcome(&self) -> Outcome {
        let e = &self.exp;
        let window = format!("[{}, {}]", secs(e.after_ns), secs(e.until_ns));
        let (passed, detail) = match e.kind {
            ExpectKind::Departed => self.departed_outcome(&window),
            ExpectKind::RumorEverywhere => match self.met_at_ns {
                Some(at) => (
                    true,
                    format!(
                        "{} held by every live member {}",
                        self.rumor_name(),
                        self.when(at)
                    ),
                ),
                None => (
                    false,
                    format!(
                        "{} not held by every live member in {window}; the least covered rumor reached at best {:.1} % of the live members",
                        self.rumor_name(),
                        self.best * 100.0
                    ),
                ),
            },
            ExpectKind::NoFalsePositives => match self.first_violation {
                None => (true, format!("no live, reachable member was Confirmed in {window}")),
                Some((at, o, s)) => (
                    false,
                    format!(
                        "{} false Confirmed views in {window}; first at {}: member {o} confirmed live member {s}",
                        self.violations,
                        secs(at)
                    ),
                ),
            },
            ExpectKind::SingleLeader => match &self.split {
                None => (
                    true,
                    format!("no two leaders finished for one term among members that reach each other in {window}"),
                ),
                Some(first) => (
                    false,
                    format!("{} split-brain finishes in {window}; first {first}", self.violations),
                ),
            },
            ExpectKind::LeaderElected => match (self.met_at_ns, self.leader) {
                (Some(at), Some((leader, term))) => (
                    true,
                    format!(
                        "member {leader} leads {} (term {term}) on the majority side {}",
                        self.group_name(),
                        self.when(at)
                    ),
                ),
                _ => (
                    false,
                    format!(
                        "no leader of {} held by every live member of the majority side in {window}; at best {:.1} % agreed",
                        self.group_name(),
                        self.best * 100.0
                    ),
                ),
            },
            ExpectKind::NoQuorum => match self.met_at_ns {
                Some(at) => (
                    true,
                    format!(
                        "{} members hold {} NoQuorum {}",
                        e.members.len(),
                        self.group_name(),
                        self.when(at)
                    ),
                ),
                None => (
                    false,
                    format!(
                        "not NoQuorum in {window}; at best {} of {} members held {} NoQuorum",
                        self.best as u64,
                        e.members.len(),
                        self.group_name()
                    ),
                ),
            },
            kind => match self.met_at_ns {
                Some(at) => (
                    true,
                    format!("{} {}", verb(kind), self.when(at)),
                ),
                None if kind == ExpectKind::Converged => (
                    false,
                    format!("not converged in {window}; best convergence {:.4}", self.best),
                ),
                None => (
                    false,
                    format!(
                        "not detected in {window}; at best {} of {} members were held Confirmed or Departed by every live member",
                        self.best as u64,
                        e.members.len()
                    ),
                ),
            },
        };
        let met_after_s = self
            .met_at_ns
            .filter(|_| passed && e.kind != ExpectKind::Departed)
            .map(|at| at.saturating_sub(e.after_ns) as f64 / 1e9);
        Outcome {
            kind: e.kind.as_str(),
            passed,
            detail,
            met_after_s,
        }
    }
}

impl Item {
    /// When the expectation was met, and how long after its window opened:
    /// `at 12.000s (2.000s after 10.000s)`.
    fn when(&self, at: u64) -> String {
        let after = self.exp.after_ns;
        format!(
            "at {} ({} after {})",
            secs(at),
            secs(at - after),
            secs(after)
        )
    }

    fn group_name(&self) -> String {
        self.exp
            .group
            .as_ref()
            .map_or_else(|| "every group".to_string(), ToString::to_string)
    }

    fn rumor_name(&self) -> String {
        match &self.exp.rumor {
            Some(RumorTarget::Config { group, version }) => format!("config {group} v{version}"),
            Some(RumorTarget::File {
                group,
                file,
                version,
            }) => format!("file {group}/{file} v{version}"),
            Some(RumorTarget::Service {
                group,
                members,
                version,
            }) => format!(
                "the services of {} members in {group} (v{version} or newer)",
                members.len()
            ),
            None => "rumor".into(),
        }
    }

    fn departed_outcome(&self, window: &str) -> (bool, String) {
        let n = self.exp.members.len();
        match (self.met_at_ns, self.relapse, self.end_ok) {
            (None, _, _) => (
                false,
                format!(
                    "not departed in {window}; at best {} of {n} members were held Departed by every live member and stopped",
                    self.best as u64
                ),
            ),
            (Some(at), Some((when, m, h)), _) => (
                false,
                format!(
                    "departed everywhere at {}, but at {} a live member held member {m} {}",
                    secs(at),
                    secs(when),
                    h.as_str()
                ),
            ),
            (Some(at), None, Some(true)) => (
                true,
                format!(
                    "{n} members departed everywhere at {} and still at {}",
                    secs(at),
                    secs(self.exp.until_ns)
                ),
            ),
            (Some(at), None, _) => (
                false,
                format!(
                    "departed everywhere at {}, but not at the end of the window ({}): a member is running again or not held Departed by every live member",
                    secs(at),
                    secs(self.exp.until_ns)
                ),
            ),
        }
    }
}

fn verb(kind: ExpectKind) -> &'static str {
    match kind {
        ExpectKind::Converged => "converged",
        ExpectKind::Detected => "detected",
        ExpectKind::NoFalsePositives
        | ExpectKind::RumorEverywhere
        | ExpectKind::Departed
        | ExpectKind::LeaderElected
        | ExpectKind::NoQuorum
        | ExpectKind::SingleLeader => "held",
    }
}

fn secs(nanos: u64) -> String {
    format!("{:.3}s", nanos as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp(kind: ExpectKind, after_s: u64, until_s: u64, members: Vec<u32>) -> Expectation {
        Expectation {
            kind,
            after_ns: after_s * 1_000_000_000,
            until_ns: until_s * 1_000_000_000,
            members,
            rumor: None,
            group: None,
        }
    }

    fn ids(n: u32) -> Vec<MemberId> {
        (0..n)
            .map(|i| MemberId::from_u128(u128::from(i) + 1))
            .collect()
    }

    const S: u64 = 1_000_000_000;

    #[test]
    fn rumor_everywhere_needs_every_live_member_to_hold_the_version() {
        let group: engine::ServiceGroup = "redis.default".parse().expect("group");
        let key = RumorKey::ServiceConfig {
            group: group.clone(),
        };
        let mut e = exp(ExpectKind::RumorEverywhere, 0, 100, vec![]);
        e.rumor = Some(RumorTarget::Config { group, version: 2 });
        let mut m = Metrics::new(3);
        for i in 0..3 {
            m.member_up(i, []);
        }
        let mut j = Judge::new(&[e], &ids(3));
        m.rumor_applied(0, &key, 2, S, true);
        m.rumor_applied(1, &key, 1, S, false);
        m.rumor_applied(2, &key, 3, S, false);
        j.check(2 * S, &m);
        assert!(!j.all_passed(), "member 1 holds only version 1");
        assert!(
            j.outcomes()[0].detail.contains("66.7 %"),
            "{:?}",
            j.outcomes()
        );
        m.member_down(1, [], 3 * S);
        assert!(m.coverage.take_completed());
        j.rumors_changed(3 * S, &m);
        assert!(j.all_passed(), "{:?}", j.outcomes());
        assert!(j.outcomes()[0].detail.contains("config redis.default v2"));
    }

    #[test]
    fn departed_must_hold_until_the_end_of_the_window() {
        let mut m = Metrics::new(3);
        let ids = ids(3);
        for i in 0..3 {
            let view: Vec<(u32, Health)> = (0..3)
                .filter(|&s| s != i)
                .map(|s| (s, Health::Alive))
                .collect();
            m.member_up(i, view);
        }
        let judge = || Judge::new(&[exp(ExpectKind::Departed, 0, 100, vec![2])], &ids);
        let mut j = judge();
        // Member 2 stops; both others hold it Departed.
        m.member_down(2, [(0, Health::Alive), (1, Health::Alive)], 5 * S);
        m.view_change(2, Some(Health::Alive), Health::Departed, 6 * S);
        j.view_changed(6 * S, &m, 2, Health::Departed);
        assert!(!j.all_passed(), "one observer still holds it Alive");
        m.view_change(2, Some(Health::Alive), Health::Departed, 7 * S);
        j.view_changed(7 * S, &m, 2, Health::Departed);
        let mut after_restart = j.clone();
        j.check(100 * S, &m);
        assert!(j.all_passed(), "{:?}", j.outcomes());
        // It restarts and is held Alive again by someone: a relapse.
        m.member_up(2, []);
        m.view_change(2, Some(Health::Departed), Health::Alive, 50 * S);
        after_restart.view_changed(50 * S, &m, 2, Health::Alive);
        after_restart.check(100 * S, &m);
        let o = &after_restart.outcomes()[0];
        assert!(
            !o.passed && o.detail.contains("held member 2 Alive"),
            "{o:?}"
        );
        // Never met at all.
        let mut fresh = Metrics::new(3);
        for i in 0..3 {
            fresh.member_up(i, []);
        }
        let mut never = judge();
        never.check(100 * S, &fresh);
        assert!(!never.all_passed());
    }

    #[test]
    fn liveness_needs_a_moment_inside_the_window() {
        let mut m = Metrics::new(2);
        m.member_up(0, [(1, Health::Alive)]);
        m.member_up(1, [(0, Health::Alive)]);
        let mut j = Judge::new(&[exp(ExpectKind::Converged, 10, 20, vec![])], &ids(2));
        j.check(5_000_000_000, &m);
        assert!(!j.all_passed(), "before the window does not count");
        j.check(25_000_000_000, &m);
        assert!(!j.all_passed(), "after the window does not count");
        j.check(15_000_000_000, &m);
        assert!(j.all_passed());
        assert!(j.outcomes()[0].detail.contains("converged at 15.000s"));
    }

    #[test]
    fn detection_and_false_positives() {
        let mut m = Metrics::new(3);
        m.member_up(0, [(2, Health::Alive)]);
        m.member_up(1, [(2, Health::Alive)]);
        let mut j = Judge::new(
            &[
                exp(ExpectKind::Detected, 0, 100, vec![2]),
                exp(ExpectKind::NoFalsePositives, 0, 100, vec![]),
            ],
            &ids(3),
        );
        m.view_change(2, Some(Health::Alive), Health::Confirmed, 1);
        j.view_changed(1, &m, 2, Health::Confirmed);
        assert!(!j.outcomes()[0].passed);
        m.view_change(2, Some(Health::Alive), Health::Confirmed, 2);
        j.view_changed(2, &m, 2, Health::Confirmed);
        assert!(j.outcomes()[0].passed);
        assert!(j.outcomes()[1].passed);
        j.false_confirmed(3, 0, 1);
        let o = j.outcomes();
        assert!(!o[1].passed && o[1].detail.contains("member 0 confirmed live member 1"));
        assert!(!j.all_passed());
    }
}
