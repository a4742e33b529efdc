//! Heap bytes per rumor held in a [`RumorStore`] and per member entry held in a [`MemberList`].
//!
//! `cargo run --release -p benches --example memory`
//!
//! A counting global allocator (a thin wrapper over `std::alloc::System`) tracks the bytes
//! currently allocated and their peak. Each measurement takes the current count, builds the
//! structure from nothing (every rumor is constructed and merged inside the measured window,
//! so its strings and payloads are counted where they end up: in the store), reads the count
//! again and divides the difference by the number of entries. Dropping the structure must
//! bring the count back to where it started, which checks that nothing else was counted.
//!
//! The bytes are those *requested* from the allocator (`Layout::size`). The allocator itself
//! rounds each request up and adds a header; `malloc est.` models glibc's rounding
//! (`max(32, round_up(size + 8, 16))` per allocation), so it is an estimate, not a measurement.
//!
//! Contents are deterministic. Keys arrive in a scrambled but fixed order (gossip delivers
//! rumors in no particular order), which matters for a B-tree: keys inserted in ascending
//! order leave most nodes half full.

use std::hint::black_box;
use std::mem::size_of;

use engine::member_list::ENTRY_BYTES;
use engine::rumor::{
    Departure, Election, ElectionStatus, Service, ServiceConfig, ServiceFile, SysInfo,
};
use engine::{Incarnation, MemberId, MemberList, Rumor, RumorKey, RumorKind, RumorStore};

/// The counting allocator. The only `unsafe` in the benches crate; `unsafe_code` is `deny`
/// (not `forbid`) in benches/Cargo.toml so that this module alone can allow it.
#[allow(unsafe_code)]
mod counting {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    /// `System`, counting what it hands out.
    pub struct Counting;

    static CURRENT: AtomicUsize = AtomicUsize::new(0);
    static PEAK: AtomicUsize = AtomicUsize::new(0);
    static LIVE: AtomicUsize = AtomicUsize::new(0);
    static MALLOC_EST: AtomicUsize = AtomicUsize::new(0);

    /// What glibc's malloc would take for a request of `size` bytes (alignment ≤ 16): the
    /// size plus an 8-byte header, rounded up to 16, at least 32. Large requests are mmapped
    /// by page instead; none here is large enough to matter per entry.
    fn malloc_chunk(size: usize) -> usize {
        ((size + 8 + 15) & !15).max(32)
    }

    fn added(size: usize) {
        let now = CURRENT.fetch_add(size, Relaxed) + size;
        PEAK.fetch_max(now, Relaxed);
        LIVE.fetch_add(1, Relaxed);
        MALLOC_EST.fetch_add(malloc_chunk(size), Relaxed);
    }

    fn removed(size: usize) {
        CURRENT.fetch_sub(size, Relaxed);
        LIVE.fetch_sub(1, Relaxed);
        MALLOC_EST.fetch_sub(malloc_chunk(size), Relaxed);
    }

    // SAFETY: every method forwards to `System` with the caller's arguments unchanged, so
    // `System`'s guarantees carry over; the counting touches only atomics and never allocates.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: forwarded as is; the caller upholds `GlobalAlloc::alloc`'s contract.
            let p = unsafe { System.alloc(layout) };
            if !p.is_null() {
                added(layout.size());
            }
            p
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: as for `alloc`.
            let p = unsafe { System.alloc_zeroed(layout) };
            if !p.is_null() {
                added(layout.size());
            }
            p
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: `ptr` was allocated by this allocator, i.e. by `System`, with `layout`.
            unsafe { System.dealloc(ptr, layout) };
            removed(layout.size());
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: as for `dealloc`; the caller upholds `realloc`'s contract on `new_size`.
            let p = unsafe { System.realloc(ptr, layout, new_size) };
            if !p.is_null() {
                removed(layout.size());
                added(new_size);
            }
            p
        }
    }

    /// A reading of the counters.
    #[derive(Clone, Copy, Debug)]
    pub struct Snapshot {
        /// Bytes currently allocated (requested sizes).
        pub current: usize,
        /// Allocations currently live.
        pub live: usize,
        /// glibc's estimated footprint of the live allocations.
        pub malloc_est: usize,
    }

    /// The counters now.
    pub fn snapshot() -> Snapshot {
        Snapshot {
            current: CURRENT.load(Relaxed),
            live: LIVE.load(Relaxed),
            malloc_est: MALLOC_EST.load(Relaxed),
        }
    }

    /// Starts a new peak from the current count.
    pub fn reset_peak() {
        PEAK.store(CURRENT.load(Relaxed), Relaxed);
    }

    /// The highest count since the last [`reset_peak`].
    pub fn peak() -> usize {
        PEAK.load(Relaxed)
    }
}

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

/// Entries per measurement.
const N: usize = 10_000;
/// Size of a service config and of a service file (the brief's "256 bytes").
const CONFIG_BYTES: usize = 256;
/// Size of the config a service exports to its group (a few TOML lines).
const EXPORTED_CFG_BYTES: usize = 64;

/// Position `i` of a fixed permutation of `0..N` (7919 is prime, so coprime with `N`).
fn scrambled(i: usize) -> usize {
    (i * 7919 + 17) % N
}

/// A pseudo-random but fixed member id, as `benches::member` derives them.
fn member_id(i: usize) -> MemberId {
    benches::member(u32::try_from(i).unwrap_or(u32::MAX)).id
}

fn group(name: &str) -> engine::ServiceGroup {
    name.parse()
        .expect("service group names built here are valid")
}

/// `s` with no spare capacity, as a string decoded off the wire would be (`format!` and
/// growing a `String` leave slack that the measurement would otherwise count as overhead).
fn exact(s: String) -> String {
    s.into_boxed_str().into()
}

/// `len` bytes of TOML-looking text, without spare capacity.
fn toml_payload(len: usize, seed: usize) -> Vec<u8> {
    let mut text = format!("# generated {seed}\nport = 6379\nmaxmemory = \"256mb\"\n");
    while text.len() < len {
        text.push_str("tcp-keepalive = 300\n");
    }
    text.as_bytes()[..len].to_vec()
}

/// Rumor `i` of `kind` (`i` < `N`, distinct keys for distinct `i`).
fn rumor(kind: RumorKind, i: usize) -> Rumor {
    // One group for every service and file (one service group run by 10,000 members, or
    // holding 10,000 files); one group per rumor for configs and elections, which are one per
    // group.
    match kind {
        RumorKind::Service => {
            let n = (i % 250) + 1;
            Rumor::Service(Service {
                member_id: member_id(i),
                group: group("redis.default"),
                incarnation: Incarnation(3),
                initialized: true,
                pkg: "core/redis/7.2.4/20240305120000".to_owned(),
                cfg: toml_payload(EXPORTED_CFG_BYTES, i),
                pkg_incarnation: 0,
                sys: Some(Box::new(SysInfo {
                    ip: exact(format!("10.0.{}.{n}", i / 250)),
                    hostname: exact(format!("redis-{i:05}")),
                    gossip_ip: exact(format!("10.0.{}.{n}", i / 250)),
                    gossip_port: 9638,
                    http_gateway_ip: "0.0.0.0".to_owned(),
                    http_gateway_port: 9631,
                    ctl_gateway_ip: None,
                    ctl_gateway_port: None,
                })),
                withdrawn: false,
            })
        }
        RumorKind::ServiceConfig => Rumor::ServiceConfig(ServiceConfig {
            group: group(&format!("app{i:05}.default")),
            incarnation: Incarnation(2),
            encrypted: false,
            config: toml_payload(CONFIG_BYTES, i),
        }),
        RumorKind::ServiceFile => Rumor::ServiceFile(ServiceFile {
            group: group("redis.default"),
            incarnation: Incarnation(1),
            encrypted: false,
            filename: exact(format!("file-{i:05}.conf")),
            body: toml_payload(CONFIG_BYTES, i),
        }),
        RumorKind::Election | RumorKind::ElectionUpdate => {
            let candidate = member_id(i);
            let e = Election {
                member_id: candidate,
                group: group(&format!("app{i:05}.default")),
                term: 1,
                suitability: 0,
                status: ElectionStatus::Finished,
                // A finished election in a three-member group: three votes.
                votes: vec![candidate, member_id(i + N), member_id(i + 2 * N)],
            };
            if kind == RumorKind::Election {
                Rumor::Election(e)
            } else {
                Rumor::ElectionUpdate(e)
            }
        }
        RumorKind::Departure => Rumor::Departure(Departure {
            member_id: member_id(i),
            signature: None,
        }),
    }
}

/// Heap bytes (and allocations) that holding `n` entries took, per entry.
struct PerEntry {
    bytes: f64,
    peak: f64,
    allocs: f64,
    malloc_est: f64,
}

/// Runs `build`, reads the counters while its result is alive, hands the result to `inspect`,
/// then drops it and checks that exactly what building it retained is freed (so nothing else
/// was counted).
fn measure<T, R>(
    n: usize,
    build: impl FnOnce() -> T,
    inspect: impl FnOnce(&T) -> R,
) -> (PerEntry, R) {
    let before = counting::snapshot();
    counting::reset_peak();
    let built = black_box(build());
    let after = counting::snapshot();
    let peak = counting::peak();
    let per = |a: usize, b: usize| a.saturating_sub(b) as f64 / n as f64;
    let result = PerEntry {
        bytes: per(after.current, before.current),
        peak: per(peak, before.current),
        allocs: per(after.live, before.live),
        malloc_est: per(after.malloc_est, before.malloc_est),
    };
    let seen = inspect(&built);
    let held = counting::snapshot().current;
    drop(built);
    assert_eq!(
        held - counting::snapshot().current,
        after.current - before.current,
        "dropping the structure must free exactly what building it retained"
    );
    (result, seen)
}

/// Builds a member list of members 1..=n.
type BuildList = fn(u32) -> MemberList;

fn main() {
    println!("swallowtail: heap per entry, N = {N} entries per row (requested bytes)\n");
    println!(
        "size_of: RumorKey {} B, Rumor {} B, BTreeMap<RumorKey, Rumor> node holds 11 of each; \
         member list Entry {} B",
        size_of::<RumorKey>(),
        size_of::<Rumor>(),
        ENTRY_BYTES
    );
    println!();
    println!(
        "{:<16} {:>10} {:>10} {:>10} {:>10} {:>12} {:>10}",
        "rumor store", "B/rumor", "payload", "overhead", "allocs", "malloc est.", "peak"
    );

    let kinds = [
        RumorKind::Service,
        RumorKind::ServiceConfig,
        RumorKind::ServiceFile,
        RumorKind::Election,
        RumorKind::Departure,
    ];
    for kind in kinds {
        let build = || {
            let mut store = RumorStore::new();
            for i in 0..N {
                let outcome = store.merge(rumor(kind, scrambled(i)));
                assert!(outcome.changed(), "every key is new");
            }
            store
        };
        let (m, payload) = measure(N, build, |store| {
            assert_eq!(store.count(kind), N);
            store.iter().map(|(_, r)| r.payload_len()).sum::<usize>() as f64 / N as f64
        });
        println!(
            "{:<16} {:>10.1} {:>10.1} {:>10.1} {:>10.2} {:>12.1} {:>10.1}",
            kind.as_str(),
            m.bytes,
            payload,
            m.bytes - payload,
            m.allocs,
            m.malloc_est,
            m.peak
        );
    }

    println!();
    println!(
        "{:<34} {:>10} {:>10} {:>12} {:>10}",
        "member list (IPv4)", "B/member", "allocs", "malloc est.", "peak"
    );
    let n = u32::try_from(N).expect("N fits in u32");
    let rows: [(&str, BuildList); 2] = [
        ("merge_all (bulk, exact capacity)", |n| {
            let mut list = MemberList::new();
            list.merge_all(benches::alive_records(n), usize::MAX, 0);
            list
        }),
        ("merge one by one (Vec doubling)", |n| {
            let mut list = MemberList::new();
            for i in 1..=n {
                let m = engine::Membership {
                    member: benches::member(i),
                    health: engine::Health::Alive,
                };
                list.merge(&m, usize::MAX, 0);
            }
            list
        }),
    ];
    for (label, build) in rows {
        let (m, ()) = measure(N, || build(n), |list| assert_eq!(list.len(), N));
        println!(
            "{:<34} {:>10.1} {:>10.4} {:>12.1} {:>10.1}",
            label, m.bytes, m.allocs, m.malloc_est, m.peak
        );
    }
}
