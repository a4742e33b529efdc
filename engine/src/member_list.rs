//! The member list: every member we know of, its health, and the merge rules.
//!
//! Entries are kept compact (40 bytes each, sorted by id in one `Vec`) because an engine in
//! the simulator holds thousands of them and the simulator holds thousands of engines.

use std::cell::Cell;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use crate::id::{Incarnation, MemberId};
use crate::member::{Health, Member, Membership};

const PERSISTENT: u8 = 1;
const DEPARTED: u8 = 2;
const IPV6: u8 = 4;
/// We have heard from the member directly, at the address this entry holds.
const HEARD: u8 = 8;

/// One member, compactly: the id split in two words so the entry needs 8-byte alignment only.
#[derive(Clone, Copy, Debug)]
struct Entry {
    id_hi: u64,
    id_lo: u64,
    incarnation: u64,
    /// An IPv4 address, or with `IPV6` set an index into `MemberList::v6`.
    ip: u32,
    swim_port: u16,
    gossip_port: u16,
    health: Health,
    flags: u8,
    /// Seconds (engine clock) of the last health change, for the Confirmed → Departed sweep
    /// and to tell stale suspicion deadlines from current ones. Fits in padding.
    changed_at_s: u32,
}

/// What a merge did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergeOutcome {
    /// The member was unknown and is now held with the given health.
    Inserted,
    /// The member was known; its record was replaced. `from` is the health held before.
    Updated {
        /// Health held before the update.
        from: Health,
    },
    /// The update was not newer than what we hold.
    Stale,
    /// The member was unknown, and the list already holds `max_members`: refused.
    Full,
}

/// Every member we know of (never ourselves), in id order.
///
/// Besides the entries it keeps the view digest up to date as they change: the XOR of every
/// entry's [`view_hash`] (the whole-view check a probe carries) and the same split into as
/// many buckets as the finest digest exchange asks for, which any coarser bucket count is a
/// fold of. A view check or the first stage of a digest exchange so costs a fold of the
/// buckets, not a pass over every entry (at 10,000 members, 400 KB read per check).
#[derive(Clone, Debug, Default)]
pub struct MemberList {
    entries: Vec<Entry>,
    v6: Vec<Ipv6Addr>,
    counts: [usize; 4],
    /// XOR of every entry's view hash.
    whole: u64,
    /// Bucket `b` is the XOR of the view hashes of the entries whose `view_bucket` among
    /// `fine.len()` is `b`; empty until the list holds a member.
    fine: Vec<u64>,
    /// Where the last lookup ended: records of a digest exchange arrive in id order, so the
    /// next one is usually at or just after it (a look at one or two neighbouring entries
    /// instead of a search from scratch). Only a hint: every answer is checked.
    finger: Cell<usize>,
    /// The id at the finger when it was set, kept beside it so that a lookup far from the
    /// finger (a random one: a probe's Ack, a piggybacked record) decides to search from
    /// scratch without reading the finger's entry, a cache miss of its own. `None` until a
    /// lookup sets the finger.
    finger_key: Cell<Option<(u64, u64)>>,
}

impl MemberList {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty list with room for `n` members.
    pub fn with_capacity(n: usize) -> Self {
        MemberList {
            entries: Vec::with_capacity(n),
            ..Self::default()
        }
    }

    /// How many members are held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many members are held in `health`.
    pub fn count(&self, health: Health) -> usize {
        self.counts[health.index()]
    }

    /// The member at position `i` (id order), `i < len()`.
    pub fn at(&self, i: usize) -> Option<Membership> {
        self.entries.get(i).map(|e| self.expand(e))
    }

    /// Health of the member at position `i`.
    pub fn health_at(&self, i: usize) -> Option<Health> {
        self.entries.get(i).map(|e| e.health)
    }

    /// Whether the member at position `i` is persistent.
    pub fn persistent_at(&self, i: usize) -> bool {
        self.entries
            .get(i)
            .is_some_and(|e| e.flags & PERSISTENT != 0)
    }

    /// Whether we have heard from the member at position `i` directly, at the address we hold
    /// for it (a datagram it sent from there, or its answer to our probe).
    pub fn heard_at(&self, i: usize) -> bool {
        self.entries.get(i).is_some_and(|e| e.flags & HEARD != 0)
    }

    /// Marks `id` as heard from directly, if we hold it at `addr` (its SWIM address).
    pub fn mark_heard(&mut self, id: MemberId, addr: SocketAddr) {
        let Some(i) = self.position(id) else {
            return;
        };
        if self.expand(&self.entries[i]).member.addr == addr {
            self.entries[i].flags |= HEARD;
        }
    }

    /// The id of the member at position `i`.
    pub fn id_at(&self, i: usize) -> Option<MemberId> {
        self.entries.get(i).map(entry_id)
    }

    /// The member `id` and its health, if known.
    pub fn get(&self, id: MemberId) -> Option<Membership> {
        self.position(id).map(|i| self.expand(&self.entries[i]))
    }

    /// The health we hold `id` in, if known.
    pub fn health(&self, id: MemberId) -> Option<Health> {
        self.position(id).map(|i| self.entries[i].health)
    }

    /// All members in id order.
    pub fn iter(&self) -> impl Iterator<Item = Membership> + '_ {
        self.entries.iter().map(|e| self.expand(e))
    }

    /// Applies the merge rule (`supersedes`): accept if the member is unknown or `update`
    /// supersedes what we hold. `max_members` bounds insertions.
    pub fn merge(&mut self, update: &Membership, max_members: usize, now_s: u32) -> MergeOutcome {
        match self.search(update.member.id) {
            Ok(i) => {
                let e = self.entries[i];
                if !supersedes(update, Incarnation(e.incarnation), e.health) {
                    return MergeOutcome::Stale;
                }
                let from = e.health;
                self.rehash(i, update.member.incarnation.0, update.health);
                self.replace(i, update);
                if from != update.health {
                    self.entries[i].changed_at_s = now_s;
                } else {
                    self.entries[i].changed_at_s = e.changed_at_s;
                }
                MergeOutcome::Updated { from }
            }
            Err(i) => {
                if self.entries.len() >= max_members {
                    return MergeOutcome::Full;
                }
                let mut e = self.compact(update);
                e.changed_at_s = now_s;
                self.entries.insert(i, e);
                // The finger may have pointed at or right of `i`: point it at the new entry.
                self.set_finger(i);
                self.counts[update.health.index()] += 1;
                self.hash_in(&e);
                MergeOutcome::Inserted
            }
        }
    }

    /// Merges many records at once. Into an empty list this is a sort and a bulk build
    /// (O(n log n)) rather than n sorted inserts (O(n²) moves), which matters when thousands of
    /// engines each start from a converged view of thousands of members.
    pub fn merge_all(&mut self, mut updates: Vec<Membership>, max_members: usize, now_s: u32) {
        if !self.entries.is_empty() {
            for u in &updates {
                self.merge(u, max_members, now_s);
            }
            return;
        }
        updates.sort_by_key(|u| u.member.id);
        // Keep, per id, the record that wins by the merge rule.
        updates.dedup_by(|later, kept| {
            if later.member.id != kept.member.id {
                return false;
            }
            if supersedes(later, kept.member.incarnation, kept.health) {
                *kept = *later;
            }
            true
        });
        updates.truncate(max_members);
        self.finger_key.set(None);
        self.entries.reserve_exact(updates.len());
        for u in &updates {
            let mut e = self.compact(u);
            e.changed_at_s = now_s;
            self.counts[u.health.index()] += 1;
            self.entries.push(e);
        }
        self.rebuild_hashes();
    }

    /// Sets the health of a known member without the merge rule (local decisions: Suspect
    /// after a failed probe, Confirmed after the suspicion timeout, Alive on direct contact).
    /// Returns the previous health.
    pub fn set_health(&mut self, id: MemberId, health: Health, now_s: u32) -> Option<Health> {
        let i = self.position(id)?;
        let from = self.entries[i].health;
        self.rehash(i, self.entries[i].incarnation, health);
        if from != health {
            self.entries[i].changed_at_s = now_s;
        }
        self.counts[from.index()] -= 1;
        self.counts[health.index()] += 1;
        self.entries[i].health = health;
        if health == Health::Departed {
            self.entries[i].flags |= DEPARTED;
        }
        Some(from)
    }

    /// Seconds (engine clock) when the member at position `i` last changed health.
    pub fn changed_at_s(&self, i: usize) -> u32 {
        self.entries.get(i).map_or(0, |e| e.changed_at_s)
    }

    /// Position of `id` in the list.
    pub fn position(&self, id: MemberId) -> Option<usize> {
        self.search(id).ok()
    }

    /// Finds `id`. Member ids are random, so an id's rank is close to its value's share of
    /// the id space: a few interpolation steps narrow the range to a handful of neighbouring
    /// entries (a cache miss or two), then a binary search finishes. Ids that are not uniform
    /// only cost the bounded number of interpolation steps before the binary search, so the
    /// worst case stays O(log n). A plain binary search costs a cache miss per step, and in
    /// the simulator thousands of engines each look up thousands of entries.
    fn search(&self, id: MemberId) -> Result<usize, usize> {
        let key = split(id);
        let found = self
            .search_near_finger(key)
            .unwrap_or_else(|| self.search_from_scratch(key));
        let f = match found {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        self.set_finger(f);
        found
    }

    fn set_finger(&self, f: usize) {
        self.finger.set(f);
        self.finger_key
            .set(self.entries.get(f).map(|e| (e.id_hi, e.id_lo)));
    }

    /// Whether `key`, right of the finger's `at`, is likely within a gallop of it: its
    /// distance in ids, in average gaps between neighbouring ids (ids are random, so a
    /// uniform spread is the rule; a skewed list only takes the other path).
    fn near_finger(&self, at: (u64, u64), key: (u64, u64)) -> bool {
        let (Some(first), Some(last)) = (self.entries.first(), self.entries.last()) else {
            return false;
        };
        let n = self.entries.len() as u64;
        let gap = (last.id_hi.saturating_sub(first.id_hi) / n).max(1);
        key.0.saturating_sub(at.0) / gap <= 32
    }

    /// Looks for `key` at the finger and just right of it (a few entries, galloping): the
    /// answer if it lies there, `None` to search the whole list.
    fn search_near_finger(&self, key: (u64, u64)) -> Option<Result<usize, usize>> {
        let cmp = |e: &Entry| (e.id_hi, e.id_lo).cmp(&key);
        let f = self.finger.get();
        // Decided on the kept key where that suffices: left of the finger, or far right of
        // it, the search starts from scratch without touching the finger's entry.
        let at_key = self.finger_key.get()?;
        if at_key > key || (at_key < key && !self.near_finger(at_key, key)) {
            return None;
        }
        let at = self.entries.get(f)?;
        match cmp(at) {
            std::cmp::Ordering::Equal => return Some(Ok(f)),
            std::cmp::Ordering::Greater => return None,
            std::cmp::Ordering::Less => {}
        }
        // entries[f] < key: gallop right over at most 16 entries.
        let mut lo = f + 1;
        let mut step = 1;
        while step <= 16 {
            let probe = f + step;
            let Some(e) = self.entries.get(probe) else {
                let hi = self.entries.len();
                return Some(self.finish_search(key, lo, hi));
            };
            match cmp(e) {
                std::cmp::Ordering::Equal => return Some(Ok(probe)),
                std::cmp::Ordering::Greater => return Some(self.finish_search(key, lo, probe)),
                std::cmp::Ordering::Less => lo = probe + 1,
            }
            step *= 2;
        }
        None
    }

    fn finish_search(&self, key: (u64, u64), lo: usize, hi: usize) -> Result<usize, usize> {
        let cmp = |e: &Entry| (e.id_hi, e.id_lo).cmp(&key);
        match self.entries[lo..hi].binary_search_by(cmp) {
            Ok(i) => Ok(lo + i),
            Err(i) => Err(lo + i),
        }
    }

    fn search_from_scratch(&self, key: (u64, u64)) -> Result<usize, usize> {
        let cmp = |e: &Entry| (e.id_hi, e.id_lo).cmp(&key);
        let (mut lo, mut hi) = (0usize, self.entries.len());
        for _ in 0..3 {
            if hi - lo <= 16 {
                break;
            }
            let (first, last) = (self.entries[lo].id_hi, self.entries[hi - 1].id_hi);
            if key.0 < first || key.0 > last || first == last {
                break;
            }
            let span = u128::from(last - first);
            let offset = u128::from(key.0 - first) * ((hi - 1 - lo) as u128) / span;
            let guess = lo + usize::try_from(offset).unwrap_or(0).min(hi - 1 - lo);
            match cmp(&self.entries[guess]) {
                std::cmp::Ordering::Equal => return Ok(guess),
                std::cmp::Ordering::Less => {
                    // The answer is right of the guess: gallop to bracket it.
                    let mut step = 1;
                    let mut left = guess + 1;
                    while left + step < hi && cmp(&self.entries[left + step]).is_lt() {
                        left += step + 1;
                        step *= 2;
                    }
                    lo = left;
                    hi = hi.min(left + step + 1);
                }
                std::cmp::Ordering::Greater => {
                    let mut step = 1;
                    let mut right = guess;
                    while right > lo + step && cmp(&self.entries[right - step - 1]).is_gt() {
                        right -= step + 1;
                        step *= 2;
                    }
                    hi = right;
                    lo = lo.max(right.saturating_sub(step + 1));
                }
            }
        }
        self.finish_search(key, lo, hi)
    }

    /// How many buckets the kept digest has for a list of `len` members: as many as the
    /// finest digest exchange asks for (about two members a bucket; see
    /// `Engine::start_member_digest`), up to [`crate::rumor::MAX_BUCKETS`].
    fn fine_count_for(len: usize) -> usize {
        crate::rumor::Digest::bucket_count_for((len + 1) * 4) as usize
    }

    /// Adds entry `e`'s view hash to the kept digest (after an insertion).
    fn hash_in(&mut self, e: &Entry) {
        if self.fine.len() < Self::fine_count_for(self.entries.len()) {
            self.rebuild_hashes();
            return;
        }
        let id = entry_id(e);
        let h = hash_parts(id, e.incarnation, e.health);
        self.whole ^= h;
        let b = view_bucket(id, self.fine.len() as u32) as usize;
        self.fine[b] ^= h;
    }

    /// Replaces entry `i`'s view hash in the kept digest by that of `incarnation` and `health`.
    fn rehash(&mut self, i: usize, incarnation: u64, health: Health) {
        let e = self.entries[i];
        let id = entry_id(&e);
        let h = hash_parts(id, e.incarnation, e.health) ^ hash_parts(id, incarnation, health);
        self.whole ^= h;
        if let Some(count) = u32::try_from(self.fine.len()).ok().filter(|c| *c > 0) {
            self.fine[view_bucket(id, count) as usize] ^= h;
        }
    }

    /// Computes the kept digest from the entries.
    fn rebuild_hashes(&mut self) {
        let count = Self::fine_count_for(self.entries.len());
        self.fine = self.compute_buckets(count as u32);
        self.whole = self.fine.iter().fold(0, |acc, h| acc ^ h);
    }

    fn compute_buckets(&self, count: u32) -> Vec<u64> {
        let mut out = vec![0u64; count.max(1) as usize];
        for e in &self.entries {
            let id = entry_id(e);
            out[view_bucket(id, count) as usize] ^= hash_parts(id, e.incarnation, e.health);
        }
        out
    }

    /// The hash of each of `count` buckets (a power of two) of this view with `own` (our own
    /// record) added: bucket `b` is the XOR of [`view_hash`] over the members whose
    /// [`view_bucket`] is `b`. Two members whose views agree (each holding the other as the
    /// other holds itself) have equal buckets.
    pub(crate) fn view_buckets(&self, own: &Membership, count: u32) -> Vec<u64> {
        let count = count.max(1);
        let mut out = if count == 1 {
            vec![self.whole]
        } else if count as usize <= self.fine.len() {
            // Both counts are powers of two: a member's bucket among `count` is its bucket
            // among the finer count, masked.
            let mask = count as usize - 1;
            let mut out = vec![0u64; count as usize];
            for (b, h) in self.fine.iter().enumerate() {
                out[b & mask] ^= h;
            }
            out
        } else {
            self.compute_buckets(count)
        };
        out[view_bucket(own.member.id, count) as usize] ^= view_hash(own);
        out
    }

    /// The hash of the whole view with `own` (our own record) added: `view_buckets(own, 1)`.
    pub(crate) fn whole_view_hash(&self, own: &Membership) -> u64 {
        self.whole ^ view_hash(own)
    }

    /// The records (ours included) that fall in the buckets marked in `wanted` (of `count`).
    pub(crate) fn in_view_buckets(
        &self,
        own: &Membership,
        wanted: &[bool],
        count: u32,
    ) -> Vec<Membership> {
        let marked = in_buckets(wanted, count);
        let mut out = Vec::new();
        if marked(own.member.id) {
            out.push(*own);
        }
        out.extend(
            self.entries
                .iter()
                .filter(|e| marked(entry_id(e)))
                .map(|e| self.expand(e)),
        );
        out
    }

    /// What [`Self::in_view_buckets`] returns, summarised (id, incarnation, health: what the
    /// view digest compares), in id order: a summary answer of the digest exchange.
    pub(crate) fn summaries_in_view_buckets(
        &self,
        own: &Membership,
        wanted: &[bool],
        count: u32,
    ) -> Vec<Summary> {
        let marked = in_buckets(wanted, count);
        let mut out: Vec<Summary> = self
            .entries
            .iter()
            .filter(|e| marked(entry_id(e)))
            .map(|e| Summary {
                id: entry_id(e),
                incarnation: e.incarnation,
                health: e.health,
            })
            .collect();
        if marked(own.member.id) {
            let at = out.partition_point(|s| s.id < own.member.id);
            out.insert(at, Summary::of(own));
        }
        out
    }

    fn replace(&mut self, i: usize, update: &Membership) {
        let old = self.entries[i].health;
        self.counts[old.index()] -= 1;
        self.counts[update.health.index()] += 1;
        let before = self.entries[i];
        let mut e = self.compact(update);
        // Heard directly stays true while the address does.
        let same_addr = e.ip == before.ip
            && e.swim_port == before.swim_port
            && (e.flags & IPV6) == (before.flags & IPV6);
        if same_addr {
            e.flags |= before.flags & HEARD;
        }
        self.entries[i] = e;
    }

    fn compact(&mut self, m: &Membership) -> Entry {
        let (hi, lo) = split(m.member.id);
        let mut flags = 0;
        if m.member.persistent {
            flags |= PERSISTENT;
        }
        if m.member.departed || m.health == Health::Departed {
            flags |= DEPARTED;
        }
        let ip = match m.member.addr.ip() {
            IpAddr::V4(v4) => u32::from(v4),
            IpAddr::V6(v6) => {
                flags |= IPV6;
                let idx = match self.v6.iter().position(|a| *a == v6) {
                    Some(idx) => idx,
                    None => {
                        self.v6.push(v6);
                        self.v6.len() - 1
                    }
                };
                u32::try_from(idx).unwrap_or(u32::MAX)
            }
        };
        Entry {
            id_hi: hi,
            id_lo: lo,
            incarnation: m.member.incarnation.0,
            ip,
            swim_port: m.member.addr.port(),
            gossip_port: m.member.gossip_port,
            health: m.health,
            flags,
            changed_at_s: 0,
        }
    }

    fn expand(&self, e: &Entry) -> Membership {
        let ip = if e.flags & IPV6 != 0 {
            IpAddr::V6(
                self.v6
                    .get(e.ip as usize)
                    .copied()
                    .unwrap_or(Ipv6Addr::UNSPECIFIED),
            )
        } else {
            IpAddr::V4(e.ip.into())
        };
        Membership {
            member: Member {
                id: entry_id(e),
                incarnation: Incarnation(e.incarnation),
                addr: SocketAddr::new(ip, e.swim_port),
                gossip_port: e.gossip_port,
                persistent: e.flags & PERSISTENT != 0,
                departed: e.flags & DEPARTED != 0,
            },
            health: e.health,
        }
    }
}

fn split(id: MemberId) -> (u64, u64) {
    let b = id.as_u128();
    ((b >> 64) as u64, b as u64)
}

/// The bucket of member `id` among `count` (a power of two) in a view digest.
pub(crate) fn view_bucket(id: MemberId, count: u32) -> u32 {
    let (hi, lo) = split(id);
    (mix64(hi ^ lo.rotate_left(32)) & u64::from(count.max(1) - 1)) as u32
}

/// Whether an id falls in one of the buckets marked in `wanted` (of `count`).
fn in_buckets(wanted: &[bool], count: u32) -> impl Fn(MemberId) -> bool + '_ {
    move |id| {
        wanted
            .get(view_bucket(id, count) as usize)
            .copied()
            .unwrap_or(false)
    }
}

/// What a view digest compares of a record, and all a summary answer of the digest exchange
/// carries of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Summary {
    pub(crate) id: MemberId,
    pub(crate) incarnation: u64,
    pub(crate) health: Health,
}

impl Summary {
    pub(crate) fn of(m: &Membership) -> Self {
        Summary {
            id: m.member.id,
            incarnation: m.member.incarnation.0,
            health: m.health,
        }
    }

    /// Whether `self` would replace `other` by the merge rule (a newer incarnation, or the
    /// same and a worse health).
    pub(crate) fn supersedes(&self, other: &Summary) -> bool {
        (self.incarnation, self.health) > (other.incarnation, other.health)
    }

    /// Whether `self` supersedes `other` at the same incarnation: a change of health alone
    /// (a record's address and flags change only with its incarnation), which the summary
    /// carries whole.
    pub(crate) fn changes_health_of(&self, other: &Summary) -> bool {
        self.incarnation == other.incarnation && self.health > other.health
    }
}

/// What a view digest compares of a record: id, incarnation and health.
pub(crate) fn view_hash(m: &Membership) -> u64 {
    hash_parts(m.member.id, m.member.incarnation.0, m.health)
}

fn hash_parts(id: MemberId, incarnation: u64, health: Health) -> u64 {
    let (hi, lo) = split(id);
    mix64(hi ^ mix64(lo ^ mix64(incarnation ^ ((health as u64) << 60))))
}

/// SplitMix64's finaliser: stable across builds and platforms.
pub(crate) fn mix64(x: u64) -> u64 {
    let mut z = x ^ 0x9e37_79b9_7f4a_7c15;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Butterfly's merge rule: `update` replaces a record held at `incarnation` in `health` if its
/// incarnation is higher, or equal with a strictly worse health (Alive < Suspect < Confirmed <
/// Departed), so news of a failure spreads and only the member itself, by raising its
/// incarnation, can undo it.
fn supersedes(update: &Membership, incarnation: Incarnation, health: Health) -> bool {
    update.member.incarnation > incarnation
        || (update.member.incarnation == incarnation && update.health > health)
}

fn entry_id(e: &Entry) -> MemberId {
    MemberId::from_u128((u128::from(e.id_hi) << 64) | u128::from(e.id_lo))
}

/// Size in bytes of one member entry (reported in the README's scale figures).
pub const ENTRY_BYTES: usize = std::mem::size_of::<Entry>();

// Thousands of engines hold thousands of entries each: keep an entry within 40 bytes.
const _: () = assert!(ENTRY_BYTES <= 40);

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(id: u128, inc: u64, health: Health) -> Membership {
        Membership {
            member: Member {
                incarnation: Incarnation(inc),
                ..Member::new(
                    MemberId::from_u128(id),
                    "10.0.0.1:9638".parse().expect("addr"),
                )
            },
            health,
        }
    }

    #[test]
    fn unknown_member_is_inserted() {
        let mut l = MemberList::new();
        assert_eq!(
            l.merge(&ms(5, 0, Health::Suspect), 10, 0),
            MergeOutcome::Inserted
        );
        assert_eq!(l.health(MemberId::from_u128(5)), Some(Health::Suspect));
        assert_eq!(l.count(Health::Suspect), 1);
    }

    #[test]
    fn higher_incarnation_wins_even_if_healthier() {
        let mut l = MemberList::new();
        l.merge(&ms(1, 3, Health::Confirmed), 10, 0);
        let out = l.merge(&ms(1, 4, Health::Alive), 10, 0);
        assert_eq!(
            out,
            MergeOutcome::Updated {
                from: Health::Confirmed
            }
        );
        assert_eq!(l.health(MemberId::from_u128(1)), Some(Health::Alive));
        assert_eq!(l.count(Health::Confirmed), 0);
        assert_eq!(l.count(Health::Alive), 1);
    }

    #[test]
    fn equal_incarnation_needs_strictly_worse_health() {
        let mut l = MemberList::new();
        l.merge(&ms(1, 3, Health::Suspect), 10, 0);
        assert_eq!(
            l.merge(&ms(1, 3, Health::Alive), 10, 0),
            MergeOutcome::Stale
        );
        assert_eq!(
            l.merge(&ms(1, 3, Health::Suspect), 10, 0),
            MergeOutcome::Stale
        );
        assert_eq!(
            l.merge(&ms(1, 3, Health::Confirmed), 10, 0),
            MergeOutcome::Updated {
                from: Health::Suspect
            }
        );
        assert_eq!(
            l.merge(&ms(1, 3, Health::Departed), 10, 0),
            MergeOutcome::Updated {
                from: Health::Confirmed
            }
        );
    }

    #[test]
    fn lower_incarnation_is_stale() {
        let mut l = MemberList::new();
        l.merge(&ms(1, 3, Health::Alive), 10, 0);
        assert_eq!(
            l.merge(&ms(1, 2, Health::Departed), 10, 0),
            MergeOutcome::Stale
        );
        assert_eq!(l.health(MemberId::from_u128(1)), Some(Health::Alive));
    }

    #[test]
    fn kept_sorted_and_bounded() {
        let mut l = MemberList::new();
        for id in [9u128, 3, 7, 1] {
            l.merge(&ms(id, 0, Health::Alive), 3, 0);
        }
        assert_eq!(l.len(), 3, "max_members bounds inserts");
        let ids: Vec<u128> = l.iter().map(|m| m.member.id.as_u128()).collect();
        assert_eq!(ids, vec![3, 7, 9]);
        // Refused for want of room, not for being old; a known member still updates.
        assert_eq!(l.merge(&ms(5, 0, Health::Alive), 3, 0), MergeOutcome::Full);
        assert_eq!(l.merge(&ms(3, 0, Health::Alive), 3, 0), MergeOutcome::Stale);
        assert!(matches!(
            l.merge(&ms(3, 1, Health::Alive), 3, 0),
            MergeOutcome::Updated { .. }
        ));
    }

    #[test]
    fn ipv6_and_flags_survive_compaction() {
        let mut l = MemberList::new();
        let mut m = ms(1, 0, Health::Alive);
        m.member.addr = "[::1]:7000".parse().expect("v6");
        m.member.gossip_port = 7001;
        m.member.persistent = true;
        l.merge(&m, 10, 0);
        assert_eq!(l.get(MemberId::from_u128(1)), Some(m));
        assert!(l.persistent_at(0));
        l.set_health(MemberId::from_u128(1), Health::Departed, 5);
        assert_eq!(l.changed_at_s(0), 5);
        assert!(l
            .get(MemberId::from_u128(1))
            .is_some_and(|m| m.member.departed));
    }

    #[test]
    fn bulk_merge_matches_one_by_one() {
        let records = vec![
            ms(9, 1, Health::Alive),
            ms(3, 0, Health::Alive),
            ms(9, 1, Health::Suspect),
            ms(5, 2, Health::Confirmed),
            ms(3, 4, Health::Alive),
        ];
        let mut bulk = MemberList::new();
        bulk.merge_all(records.clone(), 10, 0);
        let mut single = MemberList::new();
        for r in &records {
            single.merge(r, 10, 0);
        }
        assert_eq!(
            bulk.iter().collect::<Vec<_>>(),
            single.iter().collect::<Vec<_>>()
        );
        assert_eq!(bulk.count(Health::Suspect), 1);
        assert_eq!(bulk.len(), 3);
        let mut bounded = MemberList::new();
        bounded.merge_all(records, 2, 0);
        assert_eq!(bounded.len(), 2);
    }

    #[test]
    fn lookups_agree_with_a_plain_binary_search_for_uniform_and_skewed_ids() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let uniform: Vec<u128> = (0..3000).map(|_| rng.gen()).collect();
        // Skewed: all in a narrow band, a cluster at the top, equal high words.
        let skewed: Vec<u128> = (0..3000u128)
            .map(|i| {
                if i % 3 == 0 {
                    (7 << 64) | i
                } else {
                    u128::MAX - i * i
                }
            })
            .collect();
        for ids in [uniform, skewed] {
            let mut l = MemberList::new();
            let all: Vec<Membership> = ids.iter().map(|&id| ms(id, 1, Health::Alive)).collect();
            l.merge_all(all, usize::MAX, 0);
            let sorted: Vec<u128> = l.iter().map(|m| m.member.id.as_u128()).collect();
            let probes = ids
                .iter()
                .flat_map(|&id| [id, id.wrapping_add(1), id.wrapping_sub(1)])
                .chain([0, u128::MAX, 1 << 127]);
            for probe in probes {
                let want = sorted.binary_search(&probe);
                assert_eq!(l.search(MemberId::from_u128(probe)), want, "{probe:#x}");
            }
        }
    }

    #[test]
    fn the_kept_digest_equals_one_computed_from_scratch_after_any_changes() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let own = ms(u128::MAX, 2, Health::Alive);
        let mut l = MemberList::new();
        let healths = [
            Health::Alive,
            Health::Suspect,
            Health::Confirmed,
            Health::Departed,
        ];
        let ids: Vec<u128> = (0..700).map(|_| rng.gen()).collect();
        for step in 0..6000u32 {
            let id = ids[rng.gen_range(0..ids.len())];
            let health = healths[rng.gen_range(0..4)];
            if rng.gen_bool(0.3) {
                l.set_health(MemberId::from_u128(id), health, step);
            } else {
                l.merge(&ms(id, rng.gen_range(0..4), health), usize::MAX, step);
            }
            if step % 500 == 0 || step == 5999 {
                for count in [1u32, 2, 64, 256, 1024, 4096] {
                    let want = {
                        let mut out = l.compute_buckets(count);
                        out[view_bucket(own.member.id, count) as usize] ^= view_hash(&own);
                        out
                    };
                    assert_eq!(l.view_buckets(&own, count), want, "{count} at {step}");
                }
                let whole = l.view_buckets(&own, 1)[0];
                assert_eq!(l.whole_view_hash(&own), whole);
            }
        }
        // A bulk build keeps it too.
        let mut bulk = MemberList::new();
        bulk.merge_all(l.iter().collect(), usize::MAX, 0);
        assert_eq!(bulk.view_buckets(&own, 512), l.view_buckets(&own, 512));
    }

    #[test]
    fn lookups_in_id_order_and_out_of_it_agree_with_a_binary_search() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut ids: Vec<u128> = (0..2000).map(|_| rng.gen()).collect();
        let mut l = MemberList::new();
        l.merge_all(
            ids.iter().map(|&id| ms(id, 1, Health::Alive)).collect(),
            usize::MAX,
            0,
        );
        ids.sort_unstable();
        // Ascending runs with gaps of every size (the finger's gallop and its fallback),
        // then descending and random orders.
        for gap in [1usize, 2, 3, 7, 17, 40, 300] {
            for i in (0..ids.len()).step_by(gap) {
                for probe in [ids[i], ids[i].wrapping_add(1)] {
                    assert_eq!(
                        l.search(MemberId::from_u128(probe)),
                        ids.binary_search(&probe),
                        "gap {gap}"
                    );
                }
            }
        }
        for &id in ids.iter().rev() {
            assert_eq!(l.search(MemberId::from_u128(id)), ids.binary_search(&id));
        }
        for _ in 0..5000 {
            let probe: u128 = if rng.gen_bool(0.5) {
                ids[rng.gen_range(0..ids.len())]
            } else {
                rng.gen()
            };
            assert_eq!(
                l.search(MemberId::from_u128(probe)),
                ids.binary_search(&probe)
            );
        }
        // After inserts move entries right of the finger (at both ends too).
        for k in 0..300 {
            let id: u128 = match k {
                0 => 0,
                1 => u128::MAX,
                _ => rng.gen(),
            };
            l.merge(&ms(id, 1, Health::Alive), usize::MAX, 0);
            if let Err(at) = ids.binary_search(&id) {
                ids.insert(at, id);
            }
            let probe = ids[rng.gen_range(0..ids.len())];
            assert_eq!(
                l.search(MemberId::from_u128(probe)),
                ids.binary_search(&probe)
            );
        }
    }

    #[test]
    fn view_buckets_agree_exactly_when_the_views_agree() {
        let own_a = ms(1, 0, Health::Alive);
        let own_b = ms(2, 0, Health::Alive);
        let mut a = MemberList::new();
        let mut b = MemberList::new();
        for id in 3..200 {
            a.merge(&ms(id, 1, Health::Alive), usize::MAX, 0);
            b.merge(&ms(id, 1, Health::Alive), usize::MAX, 0);
        }
        a.merge(&own_b, usize::MAX, 0);
        b.merge(&own_a, usize::MAX, 0);
        assert_eq!(a.view_buckets(&own_a, 32), b.view_buckets(&own_b, 32));
        // One differing health differs in exactly one bucket, and that bucket holds it.
        b.merge(&ms(77, 1, Health::Suspect), usize::MAX, 0);
        let (x, y) = (a.view_buckets(&own_a, 32), b.view_buckets(&own_b, 32));
        let differing: Vec<bool> = x.iter().zip(&y).map(|(p, q)| p != q).collect();
        assert_eq!(differing.iter().filter(|&&d| d).count(), 1);
        let held = b.in_view_buckets(&own_b, &differing, 32);
        assert!(held.iter().any(|m| m.member.id == MemberId::from_u128(77)));
        assert!(held.len() < 30, "only one bucket's records: {}", held.len());
    }
}
