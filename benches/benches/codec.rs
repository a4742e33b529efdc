//! Encode and decode of a full SWIM datagram.

use criterion::{criterion_group, criterion_main, Criterion};
use engine::wire::{self, Swim, SwimPayload, SwimType};
use engine::{Health, Incarnation, Member, MemberId, Membership};
use std::hint::black_box;

fn full_datagram() -> Swim {
    let member = |i: u128| Member {
        incarnation: Incarnation(3),
        ..Member::new(
            MemberId::from_u128(0x4000_0000_0000_0000_8000_0000_0000_0000 | i),
            format!("10.0.{}.{}:9638", i / 256, i % 256)
                .parse()
                .expect("addr"),
        )
    };
    Swim {
        r#type: SwimType::Ping as i32,
        membership: (0..6)
            .map(|i| {
                wire::Membership::from(&Membership {
                    member: member(i),
                    health: Health::Alive,
                })
            })
            .collect(),
        payload: Some(SwimPayload::Ping(wire::Ping {
            from: Some(wire::Member::from(&member(99))),
            forward_to: None,
            ..Default::default()
        })),
    }
}

fn codec(c: &mut Criterion) {
    let swim = full_datagram();
    let bytes = wire::seal_plain(&swim);
    c.bench_function("swim_encode", |b| {
        b.iter(|| wire::seal_plain(black_box(&swim)))
    });
    c.bench_function("swim_decode", |b| {
        b.iter(|| wire::open_plain::<Swim>(black_box(&bytes)).map(|s| s.membership.len()))
    });
}

criterion_group!(benches, codec);
criterion_main!(benches);
