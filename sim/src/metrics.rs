//! What a run measures, kept incrementally from the engines' events (never an N² scan).
//!
//! **Truth.** A member is *live* while its process exists (running or paused) and it has not
//! departed; crashed, departed and not-yet-joined members are *dead*.
//!
//! **Views.** For every subject the simulator counts how many live observers (other than the
//! subject itself) hold it in each health. Each engine event `from → to` moves one count;
//! when an observer starts or stops, its whole view is added or removed once (O(its view)).
//!
//! **Convergence** is the share of ordered pairs (observer, subject) of distinct live members
//! in which the observer holds the subject Alive:
//! `live_alive / (live × (live − 1))`, and 1 when fewer than two members are live. The ring is
//! *converged* when that share is exactly 1. Views of dead subjects are reported beside it
//! (`dead_*` columns) but do not enter the share.
//!
//! **Detection** of each crash is timed from the crash to the first observer holding the
//! member Suspect (or worse: a Confirmed rumor implies someone suspected it), to the first
//! observer holding it Confirmed (or Departed), and to the first moment every live member
//! holds it Confirmed or Departed. A restart ends the measurement of that crash.
//!
//! **Rumors** are covered by [`crate::coverage`] (per rumor version: live holders, and when it
//! reached 50/99/100 % of the live members) and **traffic** by [`crate::traffic`] (per channel,
//! and what the stream frames carry). *Member-seconds* integrate the live count over virtual
//! time, so traffic per member per second is `bytes / member-seconds` even when members come
//! and go.

use engine::{Health, RumorKey};

use crate::coverage::Coverage;
use crate::traffic::Traffic;

/// Counts of views by health, indexed by `Health::index()`.
pub type HealthCounts = [u64; 4];

/// One row of `timeseries.csv`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Virtual time, nanoseconds.
    pub at_ns: u64,
    /// Live members.
    pub live: u32,
    /// View convergence (see the module documentation).
    pub convergence: f64,
    /// Views of live subjects by health held.
    pub live_views: HealthCounts,
    /// Pairs of distinct live members in which the observer does not know the subject.
    pub live_unknown: u64,
    /// Views of dead subjects (held by live observers) by health.
    pub dead_views: HealthCounts,
    /// Messages sent so far (datagrams and stream frames).
    pub messages_sent: u64,
    /// Bytes sent so far.
    pub bytes_sent: u64,
    /// Messages and bytes sent so far per channel: `[datagram, stream]` × `[messages, bytes]`.
    pub by_channel: [[u64; 2]; 2],
}

/// Detection timing of one crash, nanoseconds of virtual time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Crash {
    /// The crashed member.
    pub member: u32,
    /// When it crashed.
    pub at_ns: u64,
    /// First Suspect (or worse) view after the crash.
    pub first_suspect_ns: Option<u64>,
    /// First Confirmed (or Departed) view after the crash.
    pub first_confirmed_ns: Option<u64>,
    /// First moment every live member held it Confirmed or Departed.
    pub all_confirmed_ns: Option<u64>,
}

/// The incremental counters of a run.
#[derive(Clone, Debug)]
pub struct Metrics {
    live: Vec<bool>,
    live_count: u32,
    held: Vec<[u32; 4]>,
    live_views: HealthCounts,
    dead_views: HealthCounts,
    open_crash: Vec<Option<u32>>,
    crashes: Vec<Crash>,
    /// Messages sent (datagrams and stream frames).
    pub messages_sent: u64,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Messages and bytes sent per channel: `[datagram, stream]` × `[messages, bytes]`.
    pub by_channel: [[u64; 2]; 2],
    /// Times an observer marked a live, unpaused, reachable member Suspect.
    pub false_suspected: u64,
    /// Times an observer marked a live, unpaused, reachable member Confirmed.
    pub false_confirmed: u64,
    /// Rumor coverage.
    pub coverage: Coverage,
    /// Elections of the groups with a leader topology (set by the world from the plan).
    pub elections: crate::elections::Elections,
    /// Traffic per channel and content.
    pub traffic: Traffic,
    /// Rumor copies needed: rumors applied by a member that did not create them.
    pub rumor_copies_needed: u64,
    /// Rumors received but rejected (stale, oversized, invalid).
    pub rumors_rejected: u64,
    live_member_ns: u128,
    last_ns: u64,
}

impl Metrics {
    /// Counters for `members` members, all dead (absent) to begin with.
    pub fn new(members: u32) -> Self {
        let n = members as usize;
        Metrics {
            live: vec![false; n],
            live_count: 0,
            held: vec![[0; 4]; n],
            live_views: [0; 4],
            dead_views: [0; 4],
            open_crash: vec![None; n],
            crashes: Vec::new(),
            messages_sent: 0,
            bytes_sent: 0,
            by_channel: [[0; 2]; 2],
            false_suspected: 0,
            false_confirmed: 0,
            coverage: Coverage::new(members),
            elections: crate::elections::Elections::default(),
            traffic: Traffic::default(),
            rumor_copies_needed: 0,
            rumors_rejected: 0,
            live_member_ns: 0,
            last_ns: 0,
        }
    }

    /// Moves the clock of the member-seconds integral to `now` (call before any change of the
    /// live set, and at the end of the run).
    pub fn advance(&mut self, now: u64) {
        if now > self.last_ns {
            self.live_member_ns += u128::from(self.live_count) * u128::from(now - self.last_ns);
            self.last_ns = now;
        }
    }

    /// Live members integrated over virtual time so far, in member-seconds.
    pub fn member_seconds(&self) -> f64 {
        self.live_member_ns as f64 / 1e9
    }

    /// Member `m` applied the rumor under `key` at `incarnation`; `local`: a command on `m`
    /// created it (so no copy was needed).
    pub fn rumor_applied(
        &mut self,
        m: u32,
        key: &RumorKey,
        incarnation: u64,
        now: u64,
        local: bool,
    ) {
        if !local {
            self.rumor_copies_needed += 1;
        }
        self.coverage
            .applied(m, key, incarnation, now, &self.live, self.live_count);
    }

    /// Member `observer` holds the election of `kind` in `group` Finished at `term` with
    /// `leader`: see [`crate::elections::Elections::finished`].
    pub fn election_finished(
        &mut self,
        now: u64,
        observer: u32,
        kind: engine::rumor::ElectionKind,
        group: &engine::ServiceGroup,
        term: u64,
        leader: Option<u32>,
    ) -> Vec<crate::elections::SplitBrain> {
        self.elections
            .finished(now, observer, kind, group, term, leader, &self.live)
    }

    /// How many members are live.
    pub fn live_count(&self) -> u32 {
        self.live_count
    }

    /// Whether member `i` is live.
    pub fn is_live(&self, i: u32) -> bool {
        self.live[i as usize]
    }

    /// Member `i` starts (or restarts) with `view` (subject index, health held).
    pub fn member_up(&mut self, i: u32, view: impl IntoIterator<Item = (u32, Health)>) {
        if self.live[i as usize] {
            return;
        }
        self.live[i as usize] = true;
        self.live_count += 1;
        self.open_crash[i as usize] = None;
        for h in 0..4 {
            let c = u64::from(self.held[i as usize][h]);
            self.dead_views[h] -= c;
            self.live_views[h] += c;
        }
        for (s, health) in view {
            self.add_view(s, health);
        }
        self.check_all_confirmed_open(0);
    }

    /// Member `i` stops (crash or departure) holding `view`, at `at_ns`.
    pub fn member_down(
        &mut self,
        i: u32,
        view: impl IntoIterator<Item = (u32, Health)>,
        at_ns: u64,
    ) {
        if !self.live[i as usize] {
            return;
        }
        for (s, health) in view {
            self.remove_view(s, health);
        }
        self.live[i as usize] = false;
        self.live_count -= 1;
        for h in 0..4 {
            let c = u64::from(self.held[i as usize][h]);
            self.live_views[h] -= c;
            self.dead_views[h] += c;
        }
        self.check_all_confirmed_open(at_ns);
        self.coverage.member_down(i, at_ns, self.live_count);
    }

    /// Starts timing the detection of member `i`'s crash at `at_ns` (call after
    /// [`Metrics::member_down`]).
    pub fn crashed(&mut self, i: u32, at_ns: u64) {
        self.open_crash[i as usize] = Some(self.crashes.len() as u32);
        self.crashes.push(Crash {
            member: i,
            at_ns,
            ..Crash::default()
        });
        self.check_all_confirmed(i, at_ns);
    }

    /// Live observer `observer`'s view of `subject` changed from `from` to `to` at `at_ns`.
    pub fn view_change(&mut self, subject: u32, from: Option<Health>, to: Health, at_ns: u64) {
        if let Some(from) = from {
            self.remove_view(subject, from);
        }
        self.add_view(subject, to);
        if let Some(c) = self.open_crash[subject as usize] {
            let crash = &mut self.crashes[c as usize];
            if to != Health::Alive && crash.first_suspect_ns.is_none() {
                crash.first_suspect_ns = Some(at_ns);
            }
            if to >= Health::Confirmed && crash.first_confirmed_ns.is_none() {
                crash.first_confirmed_ns = Some(at_ns);
            }
            if to >= Health::Confirmed {
                self.check_all_confirmed(subject, at_ns);
            }
        }
    }

    /// Whether every live member holds every other live member Alive.
    pub fn converged(&self) -> bool {
        self.live_views[Health::Alive.index()] == self.pairs()
    }

    /// The current view convergence (see the module documentation).
    pub fn convergence(&self) -> f64 {
        let pairs = self.pairs();
        if pairs == 0 {
            1.0
        } else {
            self.live_views[Health::Alive.index()] as f64 / pairs as f64
        }
    }

    /// Whether every live member other than `subject` holds it Confirmed or Departed.
    pub fn detected(&self, subject: u32) -> bool {
        let held = &self.held[subject as usize];
        let others = self.live_count - u32::from(self.live[subject as usize]);
        held[Health::Confirmed.index()] + held[Health::Departed.index()] == others
    }

    /// How many live observers hold `subject` in `health`.
    pub fn held(&self, subject: u32, health: Health) -> u32 {
        self.held[subject as usize][health.index()]
    }

    /// The current row of the time series.
    pub fn sample(&self, at_ns: u64) -> Sample {
        let known: u64 = self.live_views.iter().sum();
        Sample {
            at_ns,
            live: self.live_count,
            convergence: self.convergence(),
            live_views: self.live_views,
            live_unknown: self.pairs().saturating_sub(known),
            dead_views: self.dead_views,
            messages_sent: self.messages_sent,
            bytes_sent: self.bytes_sent,
            by_channel: self.by_channel,
        }
    }

    /// Every crash of the run, in order.
    pub fn crashes(&self) -> &[Crash] {
        &self.crashes
    }

    fn pairs(&self) -> u64 {
        let l = u64::from(self.live_count);
        l * l.saturating_sub(1)
    }

    fn add_view(&mut self, s: u32, health: Health) {
        let h = health.index();
        self.held[s as usize][h] += 1;
        if self.live[s as usize] {
            self.live_views[h] += 1;
        } else {
            self.dead_views[h] += 1;
        }
    }

    fn remove_view(&mut self, s: u32, health: Health) {
        let h = health.index();
        let held = &mut self.held[s as usize][h];
        if *held == 0 {
            return; // Views and events disagree; never go negative.
        }
        *held -= 1;
        if self.live[s as usize] {
            self.live_views[h] -= 1;
        } else {
            self.dead_views[h] -= 1;
        }
    }

    fn check_all_confirmed(&mut self, subject: u32, at_ns: u64) {
        let Some(c) = self.open_crash[subject as usize] else {
            return;
        };
        if self.crashes[c as usize].all_confirmed_ns.is_none() && self.detected(subject) {
            self.crashes[c as usize].all_confirmed_ns = Some(at_ns);
        }
    }

    /// After the set of live observers changed, an open crash may now be fully detected.
    fn check_all_confirmed_open(&mut self, at_ns: u64) {
        let open: Vec<u32> = self
            .crashes
            .iter()
            .filter(|c| c.all_confirmed_ns.is_none())
            .map(|c| c.member)
            .collect();
        for m in open {
            self.check_all_confirmed(m, at_ns);
        }
    }
}

/// Latency statistics over a set of measurements, in seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Latency {
    /// How many measurements.
    pub count: usize,
    /// Median (nearest rank), or null when there are none.
    pub median_s: Option<f64>,
    /// 99th percentile (nearest rank).
    pub p99_s: Option<f64>,
    /// Largest.
    pub max_s: Option<f64>,
}

impl Latency {
    /// Statistics of `nanos`.
    pub fn of(mut nanos: Vec<u64>) -> Self {
        nanos.sort_unstable();
        let rank = |p: f64| {
            let i = ((p * nanos.len() as f64).ceil() as usize).clamp(1, nanos.len()) - 1;
            nanos[i] as f64 / 1e9
        };
        if nanos.is_empty() {
            return Latency::default();
        }
        Latency {
            count: nanos.len(),
            median_s: Some(rank(0.5)),
            p99_s: Some(rank(0.99)),
            max_s: nanos.last().map(|&n| n as f64 / 1e9),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full_view(n: u32, me: u32) -> Vec<(u32, Health)> {
        (0..n)
            .filter(|&s| s != me)
            .map(|s| (s, Health::Alive))
            .collect()
    }

    #[test]
    fn convergence_tracks_views_of_live_members() {
        let mut m = Metrics::new(3);
        for i in 0..3 {
            m.member_up(i, []);
        }
        assert_eq!(m.convergence(), 0.0);
        m.view_change(1, None, Health::Alive, 0);
        m.view_change(0, None, Health::Alive, 0);
        assert!((m.convergence() - 2.0 / 6.0).abs() < 1e-12);
        for (o, s) in [(0, 2), (1, 2), (2, 0), (2, 1)] {
            let _ = o;
            m.view_change(s, None, Health::Alive, 0);
        }
        assert!(m.converged());
        let s = m.sample(5);
        assert_eq!((s.live, s.live_unknown, s.live_views[0]), (3, 0, 6));
    }

    #[test]
    fn crash_detection_is_timed() {
        let mut m = Metrics::new(3);
        for i in 0..3 {
            m.member_up(i, full_view(3, i));
        }
        assert!(m.converged());
        m.member_down(2, full_view(3, 2), 100);
        m.crashed(2, 100);
        assert!(m.converged(), "the dead member's views no longer count");
        assert_eq!(m.sample(100).dead_views[0], 2);
        m.view_change(2, Some(Health::Alive), Health::Suspect, 150);
        m.view_change(2, Some(Health::Suspect), Health::Confirmed, 200);
        assert!(!m.detected(2));
        m.view_change(2, Some(Health::Alive), Health::Confirmed, 250);
        assert!(m.detected(2));
        let c = m.crashes()[0];
        assert_eq!(c.first_suspect_ns, Some(150));
        assert_eq!(c.first_confirmed_ns, Some(200));
        assert_eq!(c.all_confirmed_ns, Some(250));
    }

    #[test]
    fn an_observer_leaving_can_complete_detection() {
        let mut m = Metrics::new(3);
        for i in 0..3 {
            m.member_up(i, full_view(3, i));
        }
        m.member_down(2, full_view(3, 2), 10);
        m.crashed(2, 10);
        m.view_change(2, Some(Health::Alive), Health::Confirmed, 20);
        assert_eq!(m.crashes()[0].all_confirmed_ns, None);
        let view1 = vec![(0, Health::Alive), (2, Health::Alive)];
        m.member_down(1, view1, 30);
        assert_eq!(m.crashes()[0].all_confirmed_ns, Some(30));
        m.member_up(2, []);
        assert_eq!(m.live_count(), 2);
        assert_eq!(m.held(2, Health::Confirmed), 1);
    }

    #[test]
    fn latency_percentiles() {
        let l = Latency::of((1..=100).map(|s| s * 1_000_000_000).collect());
        assert_eq!(l.count, 100);
        assert_eq!(l.median_s, Some(50.0));
        assert_eq!(l.p99_s, Some(99.0));
        assert_eq!(l.max_s, Some(100.0));
        assert_eq!(Latency::of(vec![]).median_s, None);
    }
}
