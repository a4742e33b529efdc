//! The [`RumorStore`]: every rumor a member holds, keyed by [`RumorKey`], merged by the rules
//! of each kind.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use prost::Message;

use crate::id::{Incarnation, MemberId};
use crate::rumor::{
    encode_rumor, Election, Rumor, RumorKey, RumorKind, Service, ServiceConfig, ServiceFile,
    ServiceGroup, Verdict,
};
use crate::wire;

/// What [`RumorStore::merge`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreOutcome {
    /// Nothing was held under the key; the rumor is now.
    Inserted,
    /// The rumor replaced (or was merged into) the one held, whose incarnation was `from`.
    Replaced {
        /// The incarnation held before.
        from: Incarnation,
    },
    /// Nothing new: the store already held this rumor or an equal version.
    Same,
    /// The rumor is older than the one held; the store is unchanged.
    Older,
}

impl StoreOutcome {
    /// Whether the store changed.
    pub fn changed(self) -> bool {
        matches!(self, StoreOutcome::Inserted | StoreOutcome::Replaced { .. })
    }
}

/// Every rumor one member holds, in key order (deterministic iteration).
#[derive(Clone, Debug, Default)]
pub struct RumorStore {
    rumors: BTreeMap<RumorKey, Rumor>,
    counts: [usize; RumorKind::ALL.len()],
    /// Payload bytes held, per kind.
    bytes: [usize; RumorKind::ALL.len()],
    /// How many times the store has changed (inserted or replaced a rumor).
    changes: u64,
}

impl RumorStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many times the store has changed since it was created (a rumor inserted or
    /// replaced); anti-entropy relaxes while this stays put.
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// How many rumors are held.
    pub fn len(&self) -> usize {
        self.rumors.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.rumors.is_empty()
    }

    /// How many rumors of `kind` are held.
    pub fn count(&self, kind: RumorKind) -> usize {
        self.counts[kind as usize]
    }

    /// The rumor filed under `key`.
    pub fn get(&self, key: &RumorKey) -> Option<&Rumor> {
        self.rumors.get(key)
    }

    /// Every rumor, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&RumorKey, &Rumor)> + '_ {
        self.rumors.iter()
    }

    /// The service `member` runs (or ran: it may be a withdrawn tombstone) in `group`.
    pub fn service(&self, group: &ServiceGroup, member: MemberId) -> Option<&Service> {
        match self.rumors.get(&RumorKey::Service {
            group: group.clone(),
            member,
        }) {
            Some(Rumor::Service(s)) => Some(s),
            _ => None,
        }
    }

    /// Every service rumor of `group` (tombstones included), in member id order.
    pub fn services<'a>(&'a self, group: &ServiceGroup) -> impl Iterator<Item = &'a Service> + 'a {
        let lo = RumorKey::Service {
            group: group.clone(),
            member: MemberId::from_u128(0),
        };
        let hi = RumorKey::Service {
            group: group.clone(),
            member: MemberId::from_u128(u128::MAX),
        };
        self.rumors.range(lo..=hi).filter_map(|(_, r)| match r {
            Rumor::Service(s) => Some(s),
            _ => None,
        })
    }

    /// The configuration of `group`.
    pub fn config(&self, group: &ServiceGroup) -> Option<&ServiceConfig> {
        match self.rumors.get(&RumorKey::ServiceConfig {
            group: group.clone(),
        }) {
            Some(Rumor::ServiceConfig(c)) => Some(c),
            _ => None,
        }
    }

    /// The file `filename` of `group`.
    pub fn file(&self, group: &ServiceGroup, filename: &str) -> Option<&ServiceFile> {
        match self.rumors.get(&RumorKey::ServiceFile {
            group: group.clone(),
            filename: filename.to_owned(),
        }) {
            Some(Rumor::ServiceFile(f)) => Some(f),
            _ => None,
        }
    }

    /// Every file of `group`, in name order.
    pub fn files<'a>(
        &'a self,
        group: &'a ServiceGroup,
    ) -> impl Iterator<Item = &'a ServiceFile> + 'a {
        let lo = RumorKey::ServiceFile {
            group: group.clone(),
            filename: String::new(),
        };
        self.rumors
            .range((Bound::Included(lo), Bound::Unbounded))
            .map_while(move |(_, r)| match r {
                Rumor::ServiceFile(f) if &f.group == group => Some(f),
                _ => None,
            })
    }

    /// The election of `group`.
    pub fn election(&self, group: &ServiceGroup) -> Option<&Election> {
        match self.rumors.get(&RumorKey::Election {
            group: group.clone(),
        }) {
            Some(Rumor::Election(e)) => Some(e),
            _ => None,
        }
    }

    /// The update election of `group`.
    pub fn election_update(&self, group: &ServiceGroup) -> Option<&Election> {
        match self.rumors.get(&RumorKey::ElectionUpdate {
            group: group.clone(),
        }) {
            Some(Rumor::ElectionUpdate(e)) => Some(e),
            _ => None,
        }
    }

    /// Whether an operator departed `member`.
    pub fn is_departed(&self, member: MemberId) -> bool {
        self.rumors.contains_key(&RumorKey::Departure { member })
    }

    /// Every member departed by an operator, in id order.
    pub fn departures(&self) -> impl Iterator<Item = MemberId> + '_ {
        self.rumors
            .range((
                Bound::Included(RumorKey::Departure {
                    member: MemberId::from_u128(0),
                }),
                Bound::Unbounded,
            ))
            .filter_map(|(k, _)| match k {
                RumorKey::Departure { member } => Some(*member),
                _ => None,
            })
    }

    /// Every service group some rumor names, in order.
    pub fn groups(&self) -> BTreeSet<ServiceGroup> {
        self.rumors
            .keys()
            .filter_map(|k| k.group().cloned())
            .collect()
    }

    /// The election of `kind` for `group`.
    pub fn election_of(
        &self,
        kind: crate::rumor::ElectionKind,
        group: &ServiceGroup,
    ) -> Option<&Election> {
        match kind {
            crate::rumor::ElectionKind::Leader => self.election(group),
            crate::rumor::ElectionKind::Update => self.election_update(group),
        }
    }

    /// Payload bytes the rumors of `kind` hold together.
    pub fn bytes(&self, kind: RumorKind) -> usize {
        self.bytes[kind as usize]
    }

    /// Keeps the payload bytes of `kind` as a rumor of `old` bytes (none when new) becomes one
    /// of `new` bytes.
    fn account(&mut self, kind: RumorKind, old: usize, new: usize) {
        let slot = &mut self.bytes[kind as usize];
        *slot = slot.saturating_sub(old) + new;
    }

    /// Stores `rumor` under its key whatever is held there, bypassing the merge rule (the
    /// election algorithm's own updates: a new term, a status, our vote).
    pub(crate) fn put(&mut self, rumor: Rumor) -> StoreOutcome {
        let key = rumor.key();
        match self.rumors.get_mut(&key) {
            None => {
                let (kind, len) = (rumor.kind(), rumor.payload_len());
                self.counts[kind as usize] += 1;
                self.changes += 1;
                self.rumors.insert(key, rumor);
                self.account(kind, 0, len);
                StoreOutcome::Inserted
            }
            Some(held) if *held == rumor => StoreOutcome::Same,
            Some(held) => {
                let (from, old) = (held.incarnation(), held.payload_len());
                let (kind, len) = (rumor.kind(), rumor.payload_len());
                *held = rumor;
                self.changes += 1;
                self.account(kind, old, len);
                StoreOutcome::Replaced { from }
            }
        }
    }

    /// Merges `rumor` by the rule of its kind (see [`Rumor::merge`]).
    pub fn merge(&mut self, rumor: Rumor) -> StoreOutcome {
        let key = rumor.key();
        match self.rumors.get_mut(&key) {
            None => {
                let (kind, len) = (rumor.kind(), rumor.payload_len());
                self.counts[kind as usize] += 1;
                self.changes += 1;
                self.rumors.insert(key, rumor);
                self.account(kind, 0, len);
                StoreOutcome::Inserted
            }
            Some(held) => match held.merge(rumor) {
                Verdict::Replace(new) => {
                    let (from, old) = (held.incarnation(), held.payload_len());
                    let (kind, len) = (new.kind(), new.payload_len());
                    *held = new;
                    self.changes += 1;
                    self.account(kind, old, len);
                    StoreOutcome::Replaced { from }
                }
                Verdict::Same => StoreOutcome::Same,
                Verdict::Older => StoreOutcome::Older,
            },
        }
    }

    /// The whole store as one encoded [`wire::RumorBatch`] (plain protobuf, no `Wire`
    /// envelope), for persistence. Read it back with `Engine::import_rumors`, which merges
    /// each rumor by the normal rules.
    pub fn export(&self) -> Vec<u8> {
        wire::RumorBatch {
            rumors: self.rumors.values().map(encode_rumor).collect(),
        }
        .encode_to_vec()
    }
}
