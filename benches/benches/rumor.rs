//! Rumor frames and the rumor store: encode and decode of a service rumor as one stream frame
//! carries it, a store filled by inserts, and merges of a stale and of a newer copy.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use engine::rumor::{decode_rumor, encode_rumor, Service, SysInfo};
use engine::wire;
use engine::{Incarnation, Rumor, RumorStore, ServiceGroup};
use std::hint::black_box;

/// Members in the store benches.
const N: u32 = 1_000;

fn group() -> ServiceGroup {
    "redis.default".parse().expect("a valid service group name")
}

/// Member `i`'s service rumor at `incarnation`, with host information and a few lines of
/// exported config, as a Supervisor sends it.
fn service(i: u32, incarnation: u64) -> Rumor {
    Rumor::Service(Service {
        member_id: benches::member(i).id,
        group: group(),
        incarnation: Incarnation(incarnation),
        initialized: true,
        pkg: "core/redis/7.2.4/20240305120000".to_owned(),
        cfg: b"port = 6379\nmaxmemory = \"256mb\"\ntcp-keepalive = 300\n".to_vec(),
        pkg_incarnation: 0,
        sys: Some(Box::new(SysInfo {
            ip: benches::addr(i).ip().to_string(),
            hostname: format!("redis-{i:05}"),
            gossip_ip: benches::addr(i).ip().to_string(),
            gossip_port: 9638,
            http_gateway_ip: "0.0.0.0".to_owned(),
            http_gateway_port: 9631,
            ctl_gateway_ip: None,
            ctl_gateway_port: None,
        })),
        withdrawn: false,
    })
}

/// One stream frame: the rumor's envelope, naming its sender.
fn frame(rumor: &Rumor) -> Vec<u8> {
    let mut envelope = encode_rumor(rumor);
    envelope.from_id = Some(benches::member(N).id.to_string());
    wire::seal_plain(&envelope)
}

fn codec(c: &mut Criterion) {
    let rumor = service(7, 3);
    let bytes = frame(&rumor);
    c.bench_function("rumor_frame_encode_service", |b| {
        b.iter(|| frame(black_box(&rumor)))
    });
    c.bench_function("rumor_frame_decode_service", |b| {
        b.iter(|| {
            let envelope: wire::Rumor =
                wire::open_plain(black_box(&bytes)).expect("the frame just encoded");
            decode_rumor(&envelope).expect("a valid service rumor")
        })
    });
}

fn store(c: &mut Criterion) {
    c.bench_function("rumor_store_insert_1k_services", |b| {
        b.iter_batched(
            || (0..N).map(|i| service(i, 1)).collect::<Vec<_>>(),
            |rumors| {
                let mut store = RumorStore::new();
                for r in rumors {
                    store.merge(r);
                }
                store
            },
            BatchSize::SmallInput,
        )
    });
    let mut full = RumorStore::new();
    for i in 0..N {
        full.merge(service(i, 1));
    }
    c.bench_function("rumor_store_merge_stale_1k", |b| {
        b.iter_batched(
            || service(N / 2, 1),
            |r| full.merge(r),
            BatchSize::SmallInput,
        )
    });
    let mut incarnation = 1;
    c.bench_function("rumor_store_merge_newer_1k", |b| {
        b.iter_batched(
            || {
                incarnation += 1;
                service(N / 2, incarnation)
            },
            |r| full.merge(r),
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, codec, store);
criterion_main!(benches);
