//! Encode and decode of a full SWIM datagram.

use benches::{datagram_member, ping};
use criterion::{criterion_group, criterion_main, Criterion};
use engine::wire::{self, Swim};
use std::hint::black_box;

fn full_datagram() -> Swim {
    ping(&datagram_member(99), (0..6).map(datagram_member))
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
