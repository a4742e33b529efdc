//! What members' engines report: view changes go to `events.csv`, the metrics and the judge;
//! rumor, refutation and drop events to the metrics; election events to [`super::elections`].

use engine::{Event, Health};

use super::{Process, World};

impl World<'_> {
    pub(super) fn on_event(&mut self, observer: u32, event: Event) {
        let e = match event {
            Event::Member(e) => e,
            Event::Refuted { .. } => {
                self.refutations += 1;
                return;
            }
            Event::Dropped { .. } => {
                self.dropped_inputs += 1;
                return;
            }
            Event::RumorApplied {
                key, incarnation, ..
            } => {
                self.metrics.rumor_applied(
                    observer,
                    &key,
                    incarnation.0,
                    self.now,
                    self.local_command,
                );
                if self.metrics.coverage.take_completed() {
                    self.judge.rumors_changed(self.now, &self.metrics);
                }
                return;
            }
            Event::RumorRejected { .. } => {
                self.metrics.rumors_rejected += 1;
                return;
            }
            Event::DepartedByOperator => {
                self.pending_stop.push(observer);
                return;
            }
            event @ (Event::ElectionStarted { .. }
            | Event::ElectionNoQuorum { .. }
            | Event::ElectionFinished { .. }) => {
                self.on_election(observer, event);
                return;
            }
            // Events added later do not change these metrics.
            #[allow(unreachable_patterns)]
            _ => return,
        };
        let Some(&subject) = self.ids.get(&e.subject) else {
            return;
        };
        if subject == observer || e.from == Some(e.to) {
            return;
        }
        self.view_changes += 1;
        if let Err(err) =
            self.recorder
                .event(self.now, observer, subject, e.from, e.to, e.incarnation.0)
        {
            self.io_error = Some(err);
        }
        self.metrics.view_change(subject, e.from, e.to, self.now);
        if matches!(e.to, Health::Suspect | Health::Confirmed)
            && self.reachable_and_up(observer, subject)
        {
            if e.to == Health::Suspect {
                self.metrics.false_suspected += 1;
            } else {
                self.metrics.false_confirmed += 1;
                self.judge.false_confirmed(self.now, observer, subject);
            }
        }
        self.judge
            .view_changed(self.now, &self.metrics, subject, e.to);
    }

    /// Whether `subject` is live, running (not paused) and reachable from `observer` both ways.
    pub(super) fn reachable_and_up(&self, observer: u32, subject: u32) -> bool {
        matches!(self.slots[subject as usize].process, Process::Running(_))
            && self.network.reachable(observer, subject)
    }
}
