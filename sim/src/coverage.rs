//! Rumor coverage: for every rumor version, how many live members hold it, and when it first
//! reached 50 %, 99 % and 100 % of the live members — kept incrementally from the engines'
//! `RumorApplied` events.
//!
//! A member *holds* version `v` of the rumor filed under a key when the last `RumorApplied`
//! it reported for that key had an incarnation ≥ `v` (so a member that jumped from version 1
//! to 3 holds 2 as well). A member that stops (crash, departure) holds nothing, and comes
//! back with an empty store after a restart. Every version that any member ever applied is a
//! *tracked version*, born when it was first applied anywhere.
//!
//! **Coverage** of a tracked version is `live holders / live members`; it reaches *p %* at
//! the first moment `live holders × 100 ≥ p × live members` (members joining later do not
//! undo a reached mark). The cost is O(tracked versions of the key) per event and
//! O(keys + incomplete versions) when a member stops.

use std::collections::HashMap;

use engine::{MemberId, RumorKey, RumorKind};
use serde::Serialize;

use crate::metrics::Latency;

/// The coverage marks of one tracked version, nanoseconds of virtual time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    /// The version (incarnation; term for elections; 0 for departures).
    pub version: u64,
    /// When it was first applied anywhere.
    pub born_ns: u64,
    /// Live members holding it (or a newer version) now.
    pub holders: u32,
    /// When it first reached 50 % of the live members.
    pub t50_ns: Option<u64>,
    /// … 99 %.
    pub t99_ns: Option<u64>,
    /// … 100 %.
    pub t100_ns: Option<u64>,
}

/// One key's tracking.
#[derive(Clone, Debug)]
pub struct KeyTrack {
    /// The key.
    pub key: RumorKey,
    /// Per member: 1 + the incarnation it holds, 0 when it holds none.
    held: Vec<u64>,
    /// Tracked versions, ascending.
    pub versions: Vec<Version>,
}

/// Coverage of every rumor seen in a run.
#[derive(Clone, Debug, Default)]
pub struct Coverage {
    members: u32,
    index: HashMap<RumorKey, u32>,
    tracks: Vec<KeyTrack>,
    /// Versions that have not reached 100 % yet: (track, version position).
    incomplete: usize,
    /// Set when a version is (again) held by every live member; cleared by
    /// [`Coverage::take_completed`].
    completed: bool,
}

impl Coverage {
    /// Coverage for a run of `members` members.
    pub fn new(members: u32) -> Self {
        Coverage {
            members,
            ..Coverage::default()
        }
    }

    /// Member `m` applied the rumor under `key` at `incarnation`, at `now`. `live` tells
    /// which members are live; `live_count` how many.
    pub fn applied(
        &mut self,
        m: u32,
        key: &RumorKey,
        incarnation: u64,
        now: u64,
        live: &[bool],
        live_count: u32,
    ) {
        let t = match self.index.get(key) {
            Some(&t) => t as usize,
            None => {
                self.index.insert(key.clone(), self.tracks.len() as u32);
                self.tracks.push(KeyTrack {
                    key: key.clone(),
                    held: vec![0; self.members as usize],
                    versions: Vec::new(),
                });
                self.tracks.len() - 1
            }
        };
        let track = &mut self.tracks[t];
        let prev = track.held[m as usize];
        let new = incarnation.saturating_add(1);
        if new <= prev {
            return; // Not newer than what it holds (a stale report): nothing changes.
        }
        track.held[m as usize] = new;
        let inserted = match track
            .versions
            .binary_search_by_key(&incarnation, |v| v.version)
        {
            Ok(_) => false,
            Err(pos) => {
                // A new version: count its live holders once (O(members)), `m` included.
                let holders = track
                    .held
                    .iter()
                    .zip(live)
                    .filter(|&(&h, &l)| l && h > incarnation)
                    .count() as u32;
                let mut v = Version {
                    version: incarnation,
                    born_ns: now,
                    holders,
                    t50_ns: None,
                    t99_ns: None,
                    t100_ns: None,
                };
                self.incomplete += 1;
                Self::mark(
                    &mut v,
                    now,
                    live_count,
                    &mut self.incomplete,
                    &mut self.completed,
                );
                track.versions.insert(pos, v);
                true
            }
        };
        if !live[m as usize] {
            return;
        }
        for v in &mut track.versions {
            // Held now, not before: prev ≤ version < new (held values are 1 + incarnation).
            let newly_held = v.version >= prev && v.version < new;
            let counted = inserted && v.version == incarnation;
            if newly_held && !counted {
                v.holders += 1;
                Self::mark(
                    v,
                    now,
                    live_count,
                    &mut self.incomplete,
                    &mut self.completed,
                );
            }
        }
    }

    /// Member `m` stopped at `now`: it holds nothing any more. Call after the live set has
    /// changed (`live[m]` false, `live_count` the new count): fewer live members may complete
    /// versions.
    pub fn member_down(&mut self, m: u32, now: u64, live_count: u32) {
        for track in &mut self.tracks {
            let held = std::mem::take(&mut track.held[m as usize]);
            for v in &mut track.versions {
                if held > v.version {
                    v.holders = v.holders.saturating_sub(1);
                }
            }
        }
        self.remark(now, live_count);
    }

    /// Every tracked version not at 100 % yet is checked against the live count.
    fn remark(&mut self, now: u64, live_count: u32) {
        if self.incomplete == 0 {
            return;
        }
        for track in &mut self.tracks {
            for v in &mut track.versions {
                if v.t100_ns.is_none() {
                    Self::mark(
                        v,
                        now,
                        live_count,
                        &mut self.incomplete,
                        &mut self.completed,
                    );
                }
            }
        }
    }

    fn mark(v: &mut Version, now: u64, live: u32, incomplete: &mut usize, completed: &mut bool) {
        if live == 0 {
            return;
        }
        let h = u64::from(v.holders) * 100;
        let l = u64::from(live);
        if v.t50_ns.is_none() && h >= 50 * l {
            v.t50_ns = Some(now);
        }
        if v.t99_ns.is_none() && h >= 99 * l {
            v.t99_ns = Some(now);
        }
        if v.holders >= live {
            *completed = true;
            if v.t100_ns.is_none() {
                v.t100_ns = Some(now);
                *incomplete = incomplete.saturating_sub(1);
            }
        }
    }

    /// Whether a version was held by every live member at some change since the last call.
    pub fn take_completed(&mut self) -> bool {
        std::mem::take(&mut self.completed)
    }

    /// How many live members hold `key` at `version` or newer.
    pub fn holders(&self, key: &RumorKey, version: u64) -> u32 {
        let Some(&t) = self.index.get(key) else {
            return 0;
        };
        let track = &self.tracks[t as usize];
        // Every held value is a tracked version, so "≥ version" is the smallest tracked
        // version ≥ `version`.
        let pos = track.versions.partition_point(|v| v.version < version);
        track.versions.get(pos).map_or(0, |v| v.holders)
    }

    /// Whether member `m` holds `key` at `version` or newer.
    pub fn holds(&self, m: u32, key: &RumorKey, version: u64) -> bool {
        self.index
            .get(key)
            .is_some_and(|&t| self.tracks[t as usize].held[m as usize] > version)
    }

    /// Every key tracked, in the order first seen.
    pub fn tracks(&self) -> &[KeyTrack] {
        &self.tracks
    }

    /// Tracked versions that have not reached 100 % of the live members.
    pub fn incomplete(&self) -> usize {
        self.incomplete
    }

    /// When every tracked version had reached 100 % (the latest mark), or `None` while one
    /// has not (or nothing was tracked).
    pub fn all_complete_ns(&self) -> Option<u64> {
        if self.incomplete > 0 {
            return None;
        }
        self.tracks
            .iter()
            .flat_map(|t| t.versions.iter())
            .filter_map(|v| v.t100_ns)
            .max()
    }
}

/// One entry of `summary.json`'s `rumor_convergence`: a rumor version and how fast it
/// covered the live members.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RumorConvergence {
    /// `service`, `config`, `file`, `election`, `election_update` or `departure`.
    pub kind: &'static str,
    /// The service group (none for departures).
    pub group: Option<String>,
    /// The member (index) whose service it is, or who was departed.
    pub member: Option<u32>,
    /// The file's name, for files.
    pub file: Option<String>,
    /// The version (incarnation; term for elections; 0 for departures).
    pub version: u64,
    /// When it was first applied anywhere (virtual seconds since the start).
    pub born_s: f64,
    /// Seconds from `born_s` until 50 % of the live members held it (or a newer version).
    pub seconds_to_50: Option<f64>,
    /// … 99 %.
    pub seconds_to_99: Option<f64>,
    /// … 100 %.
    pub seconds_to_100: Option<f64>,
}

/// `summary.json`'s `rumor_coverage`: totals over every tracked rumor version.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RumorTotals {
    /// Rumor versions tracked.
    pub versions: usize,
    /// How many reached 100 % of the live members.
    pub complete: usize,
    /// When every version had reached 100 % (virtual seconds since the start), or null.
    pub all_complete_at_s: Option<f64>,
    /// Seconds to 100 % over the complete versions.
    pub seconds_to_100: Latency,
}

/// The short name of a rumor kind in summaries and expectations.
pub fn kind_name(kind: RumorKind) -> &'static str {
    match kind {
        RumorKind::Service => "service",
        RumorKind::ServiceConfig => "config",
        RumorKind::ServiceFile => "file",
        RumorKind::Election => "election",
        RumorKind::ElectionUpdate => "election_update",
        RumorKind::Departure => "departure",
    }
}

/// Every tracked version, sorted by kind, group, member, file and version; member ids are
/// shown as indices into `ids`.
pub fn convergence_list(c: &Coverage, ids: &[MemberId]) -> Vec<RumorConvergence> {
    let index: HashMap<MemberId, u32> = ids
        .iter()
        .enumerate()
        .map(|(i, &id)| (id, i as u32))
        .collect();
    let secs = |ns: u64| ns as f64 / 1e9;
    let mut out = Vec::new();
    for track in c.tracks() {
        let key = &track.key;
        let (member, file) = match key {
            RumorKey::Service { member, .. } | RumorKey::Departure { member } => {
                (index.get(member).copied(), None)
            }
            RumorKey::ServiceFile { filename, .. } => (None, Some(filename.clone())),
            _ => (None, None),
        };
        for v in &track.versions {
            let since = |t: Option<u64>| t.map(|t| secs(t.saturating_sub(v.born_ns)));
            out.push(RumorConvergence {
                kind: kind_name(key.kind()),
                group: key.group().map(|g| g.to_string()),
                member,
                file: file.clone(),
                version: v.version,
                born_s: secs(v.born_ns),
                seconds_to_50: since(v.t50_ns),
                seconds_to_99: since(v.t99_ns),
                seconds_to_100: since(v.t100_ns),
            });
        }
    }
    out.sort_by(|a, b| {
        (a.kind, &a.group, a.member, &a.file, a.version)
            .cmp(&(b.kind, &b.group, b.member, &b.file, b.version))
    });
    out
}

/// Totals over every tracked version.
pub fn totals(c: &Coverage) -> RumorTotals {
    let versions = c.tracks().iter().flat_map(|t| t.versions.iter());
    let to_100: Vec<u64> = versions
        .clone()
        .filter_map(|v| v.t100_ns.map(|t| t.saturating_sub(v.born_ns)))
        .collect();
    RumorTotals {
        versions: versions.count(),
        complete: to_100.len(),
        all_complete_at_s: c.all_complete_ns().map(|t| t as f64 / 1e9),
        seconds_to_100: Latency::of(to_100),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::ServiceGroup;

    fn config_key() -> RumorKey {
        let group: ServiceGroup = "redis.default".parse().expect("group");
        RumorKey::ServiceConfig { group }
    }

    #[test]
    fn coverage_marks_and_newer_versions_count_for_older_ones() {
        let live = vec![true; 4];
        let mut c = Coverage::new(4);
        let k = config_key();
        c.applied(0, &k, 1, 10, &live, 4);
        assert_eq!(c.holders(&k, 1), 1);
        c.applied(1, &k, 1, 20, &live, 4);
        let v1 = |c: &Coverage| c.tracks()[0].versions[0].clone();
        assert_eq!(v1(&c).t50_ns, Some(20));
        assert_eq!(v1(&c).t99_ns, None);
        // Member 2 jumps straight to version 3: it holds version 1 too.
        c.applied(2, &k, 3, 30, &live, 4);
        assert_eq!(c.holders(&k, 1), 3);
        assert_eq!(c.holders(&k, 2), 1, "no one applied 2: holders of 3");
        assert_eq!(c.holders(&k, 3), 1);
        assert!(!c.take_completed());
        c.applied(3, &k, 1, 40, &live, 4);
        assert_eq!(v1(&c).t100_ns, Some(40));
        assert_eq!(v1(&c).t99_ns, Some(40));
        assert!(c.take_completed());
        assert_eq!(c.incomplete(), 1, "version 3 is at 1 of 4");
        assert!(c.holds(2, &k, 3) && !c.holds(3, &k, 3));
        assert_eq!(c.all_complete_ns(), None);
    }

    #[test]
    fn a_member_stopping_drops_its_holdings_and_may_complete_a_version() {
        let mut live = vec![true; 3];
        let mut c = Coverage::new(3);
        let k = config_key();
        c.applied(0, &k, 2, 5, &live, 3);
        c.applied(1, &k, 2, 6, &live, 3);
        assert_eq!(c.tracks()[0].versions[0].t100_ns, None);
        live[2] = false;
        c.member_down(2, 7, 2);
        assert_eq!(c.tracks()[0].versions[0].t100_ns, Some(7));
        live[1] = false;
        c.member_down(1, 8, 1);
        assert_eq!(c.holders(&k, 2), 1);
        assert_eq!(c.all_complete_ns(), Some(7));
        // A dead member's report does not count among the live holders.
        c.applied(2, &k, 2, 9, &live, 1);
        assert_eq!(c.holders(&k, 2), 1);
    }
}
