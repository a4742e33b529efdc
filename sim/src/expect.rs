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

use engine::Health;
use serde::Serialize;

use crate::metrics::Metrics;
use crate::plan::Expectation;
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
}

impl Judge {
    /// A judge for `expectations` over `members` members.
    pub fn new(expectations: &[Expectation], members: u32) -> Self {
        let items = expectations
            .iter()
            .map(|exp| {
                let mut selected = Vec::new();
                if exp.kind == ExpectKind::Detected {
                    selected = vec![false; members as usize];
                    for &m in &exp.members {
                        selected[m as usize] = true;
                    }
                }
                Item {
                    exp: exp.clone(),
                    selected,
                    met_at_ns: None,
                    best: 0.0,
                    violations: 0,
                    first_violation: None,
                }
            })
            .collect();
        Judge { items }
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
                ExpectKind::NoFalsePositives => false,
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
        if self.met_at_ns.is_some() || !self.in_window(now) {
            return;
        }
        let (met, progress) = match self.exp.kind {
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
            ExpectKind::NoFalsePositives => return,
        };
        self.best = self.best.max(progress);
        if met {
            self.met_at_ns = Some(now);
        }
    }

    fn outcome(&self) -> Outcome {
        let e = &self.exp;
        let window = format!("[{}, {}]", secs(e.after_ns), secs(e.until_ns));
        let (passed, detail) = match e.kind {
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
            kind => match self.met_at_ns {
                Some(at) => (
                    true,
                    format!("{} at {} ({} after {})", verb(kind), secs(at), secs(at - e.after_ns), secs(e.after_ns)),
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
        Outcome {
            kind: e.kind.as_str(),
            passed,
            detail,
        }
    }
}

fn verb(kind: ExpectKind) -> &'static str {
    match kind {
        ExpectKind::Converged => "converged",
        ExpectKind::Detected => "detected",
        ExpectKind::NoFalsePositives => "held",
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
        }
    }

    #[test]
    fn liveness_needs_a_moment_inside_the_window() {
        let mut m = Metrics::new(2);
        m.member_up(0, [(1, Health::Alive)]);
        m.member_up(1, [(0, Health::Alive)]);
        let mut j = Judge::new(&[exp(ExpectKind::Converged, 10, 20, vec![])], 2);
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
            3,
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
