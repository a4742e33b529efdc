//! Ring encryption and sealed configs: seal and open of a full 1024-byte datagram (against the
//! plaintext codec as a baseline, and opening with a three-key ring in the worst case), and
//! of a 64 KiB service config sealed with NaCl box.

use benches::{datagram_member, ping};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use engine::crypto::{open_wire, seal_wire, BoxSecretKey, Keyring, RingKey, SealedBox};
use engine::wire::{self, Swim};
use engine::{Health, Membership};
use prost::Message;
use std::hint::black_box;

/// A Ping whose piggyback fills a 1024-byte datagram once sealed.
fn full_datagram() -> Swim {
    let mut swim = ping(&datagram_member(999), []);
    for i in 0.. {
        let entry = wire::Membership::from(&Membership {
            member: datagram_member(i),
            health: Health::Alive,
        });
        let len = swim.encoded_len() + wire::repeated_len(&entry);
        if len + wire::wire_overhead(len) > 1024 {
            break;
        }
        swim.membership.push(entry);
    }
    swim
}

fn name(s: &str) -> engine::crypto::KeyName {
    s.parse().expect("name")
}

fn datagrams(c: &mut Criterion) {
    let swim = full_datagram();
    let payload = swim.encode_to_vec();
    let ring = Keyring::for_simulation(1);
    let sealed = seal_wire(&ring, &payload, [7; 24]);
    assert!(
        sealed.len() <= 1024 && sealed.len() > 950,
        "{}",
        sealed.len()
    );
    let plain = wire::seal_plain(&swim);

    let mut g = c.benchmark_group("datagram_1024");
    g.throughput(Throughput::Bytes(sealed.len() as u64));
    g.bench_function("plain_encode", |b| {
        b.iter(|| wire::seal_plain(black_box(&swim)))
    });
    g.bench_function("plain_decode", |b| {
        b.iter(|| wire::open_plain::<Swim>(black_box(&plain)))
    });
    g.bench_function("seal", |b| {
        b.iter(|| seal_wire(&ring, black_box(&payload), [7; 24]))
    });
    g.bench_function("encode_and_seal", |b| {
        b.iter(|| seal_wire(&ring, &black_box(&swim).encode_to_vec(), [7; 24]))
    });
    g.bench_function("open_and_decode", |b| {
        b.iter(|| open_wire::<Swim>(Some(&ring), black_box(&sealed)))
    });
    // Mid-rotation: three keys, the message sealed with the one tried last.
    let oldest = ring.primary().clone();
    let mut three = ring.clone();
    for (i, rev) in ["20300101000000", "20310101000000"].iter().enumerate() {
        three
            .insert(RingKey::from_bytes(
                name(&format!("sim-{rev}")),
                [i as u8 + 1; 32],
            ))
            .expect("key");
    }
    let three = three
        .with_primary(&name("sim-20310101000000"))
        .expect("held");
    assert_ne!(three.primary(), &oldest);
    g.bench_function("open_and_decode_3_keys_worst", |b| {
        b.iter(|| open_wire::<Swim>(Some(&three), black_box(&sealed)))
    });
    g.bench_function("reject_tampered", |b| {
        let mut bad = sealed.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        b.iter(|| open_wire::<Swim>(Some(&ring), black_box(&bad)))
    });
    g.finish();
}

fn config_box(c: &mut Criterion) {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
    let service = BoxSecretKey::generate(name("redis.default@acme-20240102030405"), &mut rng);
    let user = BoxSecretKey::generate(name("alice-20240102030405"), &mut rng);
    let service_pk = service.public_key();
    let user_pk = user.public_key();
    let config: Vec<u8> = (0..64 * 1024).map(|i| b"abcdefgh =\n"[i % 11]).collect();
    let sealed = SealedBox::seal_with_nonce(&config, &user, &service_pk, [9; 24])
        .expect("seal")
        .to_bytes();

    let mut g = c.benchmark_group("config_box_64k");
    g.throughput(Throughput::Bytes(config.len() as u64));
    g.bench_function("seal_to_text", |b| {
        b.iter(|| {
            SealedBox::seal_with_nonce(black_box(&config), &user, &service_pk, [9; 24])
                .map(|s| s.to_bytes())
        })
    });
    g.bench_function("parse_and_open", |b| {
        b.iter(|| SealedBox::parse(black_box(&sealed)).and_then(|s| s.open(&service, &user_pk)))
    });
    g.finish();
    c.bench_function("box_key_agreement_64b", |b| {
        b.iter(|| SealedBox::seal_with_nonce(black_box(b"x = 1"), &user, &service_pk, [9; 24]))
    });
}

criterion_group!(benches, datagrams, config_box);
criterion_main!(benches);
