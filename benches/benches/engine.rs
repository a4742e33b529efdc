//! Engine hot paths: member-list merge and a datagram handled end to end.

use std::hint::black_box;

use benches::{addr, alive_records, member};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use engine::wire::{self, Swim, SwimPayload, SwimType};
use engine::{Config, Engine, Health, Instant, ManualClock, MemberList, Membership, Outbox};

fn merge(c: &mut Criterion) {
    let records = alive_records(10_000);
    let mut full = MemberList::with_capacity(records.len());
    for r in &records {
        full.merge(r, usize::MAX, 0);
    }
    c.bench_function("member_list_merge_stale_10k", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 7919) % records.len();
            black_box(full.merge(&records[i], usize::MAX, 0))
        })
    });
    c.bench_function("member_list_merge_update_10k", |b| {
        let mut i = 0;
        let mut inc = 1;
        b.iter(|| {
            i = (i + 7919) % records.len();
            inc += 1;
            let mut r = records[i];
            r.member.incarnation = engine::Incarnation(inc);
            black_box(full.merge(&r, usize::MAX, 0))
        })
    });
    c.bench_function("member_list_build_1k_by_inserts", |b| {
        b.iter_batched(
            || records[..1000].to_vec(),
            |rs| {
                let mut l = MemberList::new();
                for r in &rs {
                    l.merge(r, usize::MAX, 0);
                }
                l.len()
            },
            BatchSize::SmallInput,
        )
    });
}

fn handle_datagram(c: &mut Criterion) {
    let clock = ManualClock::new(Instant::from_secs(10));
    let mut e = Engine::new(
        Config::lan(),
        member(0),
        [7; 32],
        clock.clone(),
        Outbox::default(),
    )
    .expect("valid config");
    e.insert_members(alive_records(1000));
    let from = member(5);
    let piggyback: Vec<wire::Membership> = (10..16)
        .map(|i| {
            wire::Membership::from(&Membership {
                member: member(i),
                health: Health::Alive,
            })
        })
        .collect();
    let ping = wire::seal_plain(&Swim {
        r#type: SwimType::Ping as i32,
        seq: None,
        extensions: None,
        membership: piggyback,
        payload: Some(SwimPayload::Ping(wire::Ping {
            from: Some(wire::Member::from(&from)),
            forward_to: None,
            ..Default::default()
        })),
    });
    c.bench_function("handle_datagram_ping_1k_members", |b| {
        b.iter(|| {
            e.handle_datagram(addr(5), black_box(&ping));
            e.network_mut().datagrams.clear();
            while e.poll_event().is_some() {}
        })
    });
}

criterion_group!(benches, merge, handle_datagram);
criterion_main!(benches);
