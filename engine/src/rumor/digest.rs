//! Compact digests of a rumor store for anti-entropy.
//!
//! Each rumor is summarised as (key hash, version): a 64-bit FNV-1a hash of its key's canonical
//! bytes (stable across builds and platforms, unlike `std`'s hasher) and the number its merge
//! rule orders by ([`Rumor::incarnation`](crate::rumor::Rumor::incarnation)). The key-hash space
//! is cut into a power-of-two number of buckets; a bucket's hash is the XOR of its entries'
//! mixed (key hash, version) pairs, so two stores agree on a bucket exactly when (barring a
//! 2⁻⁶⁴ accident) they hold the same versions of the same keys in it.

use std::collections::{BTreeMap, BTreeSet};

use crate::rumor::{Rumor, RumorKey, RumorStore};

/// The most buckets a digest uses (32 KiB of bucket hashes).
pub(crate) const MAX_BUCKETS: u32 = 4096;

/// One rumor in a digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct DigestEntry {
    pub(crate) key_hash: u64,
    pub(crate) version: u64,
}

/// The (key hash, version) of every rumor in a store, sorted by key hash.
#[derive(Clone, Debug, Default)]
pub(crate) struct Digest {
    entries: Vec<DigestEntry>,
}

impl Digest {
    pub(crate) fn of(store: &RumorStore) -> Digest {
        let mut entries: Vec<DigestEntry> = store
            .iter()
            .map(|(k, r)| DigestEntry {
                key_hash: key_hash(k),
                version: version(r),
            })
            .collect();
        entries.sort_unstable();
        Digest { entries }
    }

    /// A bucket count for this many rumors: about eight per bucket, a power of two in
    /// `1..=MAX_BUCKETS`.
    pub(crate) fn bucket_count_for(n: usize) -> u32 {
        let want = u32::try_from(n / 8).unwrap_or(MAX_BUCKETS).max(1);
        want.next_power_of_two().min(MAX_BUCKETS)
    }

    /// The hash of each of `count` buckets (`count` a power of two).
    pub(crate) fn buckets(&self, count: u32) -> Vec<u64> {
        let mut out = vec![0u64; count as usize];
        for e in &self.entries {
            out[bucket_of(e.key_hash, count) as usize] ^= mix(*e);
        }
        out
    }

    /// The entries that fall in `buckets` (of `count`).
    pub(crate) fn entries_in(&self, buckets: &BTreeSet<u32>, count: u32) -> Vec<DigestEntry> {
        self.entries
            .iter()
            .filter(|e| buckets.contains(&bucket_of(e.key_hash, count)))
            .copied()
            .collect()
    }

    /// Compares our entries in `buckets` with the peer's: returns (key hashes the peer lacks or
    /// holds older, key hashes we lack or hold older).
    pub(crate) fn compare(
        &self,
        buckets: &BTreeSet<u32>,
        count: u32,
        theirs: &[DigestEntry],
    ) -> (BTreeSet<u64>, BTreeSet<u64>) {
        let ours: BTreeMap<u64, u64> = self
            .entries_in(buckets, count)
            .into_iter()
            .map(|e| (e.key_hash, e.version))
            .collect();
        let theirs: BTreeMap<u64, u64> = theirs
            .iter()
            .filter(|e| buckets.contains(&bucket_of(e.key_hash, count)))
            .map(|e| (e.key_hash, e.version))
            .collect();
        let give = ours
            .iter()
            .filter(|(h, v)| !matches!(theirs.get(h), Some(tv) if tv >= v))
            .map(|(h, _)| *h)
            .collect();
        let want = theirs
            .iter()
            .filter(|(h, v)| !matches!(ours.get(h), Some(ov) if ov >= v))
            .map(|(h, _)| *h)
            .collect();
        (give, want)
    }
}

/// The version a digest carries: the incarnation, except for elections, where it follows
/// [`Election::progress`](crate::rumor::Election::progress): term, then Finished above
/// unfinished (so a member left Running after a heal is sent the Finished one), then the
/// number of votes (so a candidate that missed a vote every other member holds is sent it;
/// without the count the stores looked equal, and it waited for that vote for good).
fn version(r: &Rumor) -> u64 {
    match r {
        Rumor::Election(e) | Rumor::ElectionUpdate(e) => {
            let (term, finished, votes) = e.progress();
            let votes = u32::try_from(votes).unwrap_or(u32::MAX);
            term.saturating_mul(1 << 33)
                .saturating_add(u64::from(finished) << 32)
                .saturating_add(u64::from(votes))
        }
        _ => r.incarnation().0,
    }
}

/// The keys in `store` whose hashes are in `hashes`, in key order.
pub(crate) fn keys_with_hashes(store: &RumorStore, hashes: &BTreeSet<u64>) -> Vec<RumorKey> {
    if hashes.is_empty() {
        return Vec::new();
    }
    store
        .iter()
        .filter(|(k, _)| hashes.contains(&key_hash(k)))
        .map(|(k, _)| k.clone())
        .collect()
}

/// Which of `count` buckets (a power of two) `hash` falls in.
pub(crate) fn bucket_of(hash: u64, count: u32) -> u32 {
    (hash & u64::from(count.max(1) - 1)) as u32
}

/// FNV-1a over the key's canonical bytes: kind tag, then its fields separated by 0xff (which
/// never occurs in UTF-8).
pub(crate) fn key_hash(key: &RumorKey) -> u64 {
    let mut h = Fnv::default();
    h.byte(key.kind() as u8);
    match key {
        RumorKey::Service { group, member } => {
            h.bytes(group.as_str().as_bytes());
            h.byte(0xff);
            h.bytes(&member.as_u128().to_be_bytes());
        }
        RumorKey::ServiceConfig { group }
        | RumorKey::Election { group }
        | RumorKey::ElectionUpdate { group } => h.bytes(group.as_str().as_bytes()),
        RumorKey::ServiceFile { group, filename } => {
            h.bytes(group.as_str().as_bytes());
            h.byte(0xff);
            h.bytes(filename.as_bytes());
        }
        RumorKey::Departure { member } => h.bytes(&member.as_u128().to_be_bytes()),
    }
    h.0
}

struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn byte(&mut self, b: u8) {
        self.0 ^= u64::from(b);
        self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
    }

    fn bytes(&mut self, bs: &[u8]) {
        for &b in bs {
            self.byte(b);
        }
    }
}

/// splitmix64 of the pair, so that XOR-ing entries does not cancel structure.
fn mix(e: DigestEntry) -> u64 {
    crate::member_list::mix64(e.key_hash ^ e.version.rotate_left(29))
}
