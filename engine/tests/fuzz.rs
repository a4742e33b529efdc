//! Fuzzing every decoder a stranger can reach, through the public API, for a bounded number of
//! cases (proptest; `PROPTEST_CASES` raises it): datagrams and stream frames into a running
//! engine (plain and with a ring key), rumors, persisted rumor stores, and key texts. Inputs are
//! arbitrary bytes and mutations (bit flips, cuts, insertions, splices) of a seed corpus of
//! real messages, captured from a small ring that joins, gossips a config and detects a crash.
//! Nothing may panic; after the barrage the ring must still be whole.

mod common;

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use common::{addr, Net};
use engine::crypto::{BoxPublicKey, BoxSecretKey, KeyName, Keyring, RingKey, SealedBox};
use engine::rumor::decode_rumor;
use engine::{Health, ServiceGroup, ServiceSpec};
use proptest::prelude::*;

/// Datagrams and stream frames a real ring sent: (is a stream frame, bytes).
fn corpus(keyed: bool) -> &'static [(bool, Vec<u8>)] {
    static PLAIN: OnceLock<Vec<(bool, Vec<u8>)>> = OnceLock::new();
    static KEYED: OnceLock<Vec<(bool, Vec<u8>)>> = OnceLock::new();
    let cell = if keyed { &KEYED } else { &PLAIN };
    cell.get_or_init(|| {
        let mut net = ring(keyed);
        let group: ServiceGroup = "web.prod".parse().expect("group");
        for i in 0..4 {
            let _ = net.nodes[i].announce_service(group.clone(), ServiceSpec::default());
            net.flush(i);
        }
        let _ = net.nodes[1].apply_config(group.clone(), 2, b"a = 1".to_vec());
        let _ = net.nodes[2].upload_file(group, 1, "f.txt", b"hello".to_vec());
        net.flush(1);
        net.flush(2);
        net.run_for(Duration::from_secs(10));
        net.crashed.insert(3);
        net.run_for(Duration::from_secs(30));
        let mut seen = std::collections::BTreeSet::new();
        let mut out = Vec::new();
        // `sent` does not say which channel a message took; every item is tried on both.
        for (_, _, bytes) in &net.sent {
            if seen.insert(bytes.clone()) {
                out.push((false, bytes.clone()));
                out.push((true, bytes.clone()));
            }
        }
        out
    })
}

fn ring(keyed: bool) -> Net {
    let mut net = Net::new(4, 9);
    if keyed {
        let key = RingKey::from_bytes("fuzz-20260101000000".parse().expect("name"), [7; 32]);
        for n in &mut net.nodes {
            n.set_ring_keys(Some(Keyring::single(key.clone())));
        }
    }
    net.run_for(Duration::from_secs(10));
    net
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Cut(usize),
    Insert(usize, Vec<u8>),
    Splice(usize, usize),
}

fn mutate(mut bytes: Vec<u8>, other: &[u8], m: &Mutation) -> Vec<u8> {
    let len = bytes.len().max(1);
    match m {
        Mutation::Flip(at, bit) => {
            if let Some(b) = bytes.get_mut(at % len) {
                *b ^= 1 << (bit % 8);
            }
        }
        Mutation::Cut(at) => bytes.truncate(at % len),
        Mutation::Insert(at, extra) => {
            let at = (at % len).min(bytes.len());
            bytes.splice(at..at, extra.iter().copied());
        }
        Mutation::Splice(at, from) => {
            bytes.truncate(at % len);
            bytes.extend_from_slice(&other[from % other.len().max(1)..]);
        }
    }
    bytes
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Mutation::Flip(a, b)),
        any::<usize>().prop_map(Mutation::Cut),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(a, v)| Mutation::Insert(a, v)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Splice(a, b)),
    ]
}

/// One hostile input: a corpus item mutated (up to three times), or plain arbitrary bytes.
#[derive(Clone, Debug)]
enum Input {
    Mutated {
        item: usize,
        other: usize,
        stream: bool,
        mutations: Vec<Mutation>,
    },
    Raw {
        stream: bool,
        bytes: Vec<u8>,
    },
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        3 => (any::<usize>(), any::<usize>(), any::<bool>(), prop::collection::vec(mutation(), 1..4))
            .prop_map(|(item, other, stream, mutations)| Input::Mutated { item, other, stream, mutations }),
        1 => (any::<bool>(), prop::collection::vec(any::<u8>(), 0..1500))
            .prop_map(|(stream, bytes)| Input::Raw { stream, bytes }),
    ]
}

fn bytes_of(input: &Input, corpus: &[(bool, Vec<u8>)]) -> (bool, Vec<u8>) {
    match input {
        Input::Raw { stream, bytes } => (*stream, bytes.clone()),
        Input::Mutated {
            item,
            other,
            stream,
            mutations,
        } => {
            let base = corpus[item % corpus.len()].1.clone();
            let other = &corpus[other % corpus.len()].1;
            let bytes = mutations.iter().fold(base, |b, m| mutate(b, other, m));
            (*stream, bytes)
        }
    }
}

/// Feeds `inputs` to member 0 from a stranger and from a member's own address. With a ring key
/// nothing forged can authenticate, so the ring must be whole a while later; without one a
/// mutated record may carry a valid claim (that is what a ring key is for), so there the check
/// is that member 0 goes on probing and answering.
fn barrage(keyed: bool, inputs: &[Input]) {
    let corpus = corpus(keyed);
    let mut net = ring(keyed);
    let stranger: SocketAddr = "10.9.9.9:9638".parse().expect("addr");
    for (i, input) in inputs.iter().enumerate() {
        let (stream, bytes) = bytes_of(input, corpus);
        let from = if i % 2 == 0 { stranger } else { addr(1) };
        if stream {
            net.nodes[0].handle_stream(from, &bytes);
        } else {
            net.nodes[0].handle_datagram(from, &bytes);
        }
        net.flush(0);
    }
    let probes = net.nodes[0].metrics().probes;
    net.run_for(Duration::from_secs(20));
    assert!(
        net.nodes[0].metrics().probes > probes,
        "member 0 still probes"
    );
    if !keyed {
        return;
    }
    for i in 0..4 {
        for j in (0..4).filter(|&j| j != i) {
            let h = net.health(i, j);
            assert_eq!(
                h,
                Some(Health::Alive),
                "member {i} about {j} after the barrage"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn datagrams_and_frames_never_panic_the_engine(
        inputs in prop::collection::vec(input(), 1..40)
    ) {
        barrage(false, &inputs);
    }

    #[test]
    fn with_a_ring_key_nothing_forged_breaks_the_ring(inputs in prop::collection::vec(input(), 1..40)) {
        barrage(true, &inputs);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn rumors_decode_or_are_refused(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(wire) = <engine::wire::Rumor as prost::Message>::decode(&bytes[..]) {
            let _ = decode_rumor(&wire);
        }
    }

    #[test]
    fn a_persisted_rumor_store_imports_or_is_refused(
        item in any::<usize>(),
        mutations in prop::collection::vec(mutation(), 0..4),
    ) {
        let mut net = ring(false);
        let group: ServiceGroup = "web.prod".parse().expect("group");
        let _ = net.nodes[0].apply_config(group.clone(), 3, b"x = 1".to_vec());
        let _ = net.nodes[0].announce_service(group, ServiceSpec::default());
        let export = net.nodes[0].rumors().export();
        let other = &corpus(false)[item % corpus(false).len()].1;
        let damaged = mutations.iter().fold(export, |b, m| mutate(b, other, m));
        let _ = net.nodes[1].import_rumors(&damaged);
    }

    #[test]
    fn key_texts_parse_or_are_refused(text in "(SYM-SEC-1|BOX-SEC-1|BOX-PUB-1|BOX-1|SIG-PUB-1|SIG-SEC-1)?\\PC{0,200}") {
        let _ = RingKey::parse(&text);
        let _ = engine::crypto::OperatorPublicKey::parse(&text);
        let _ = engine::crypto::OperatorSecretKey::parse(&text);
        let _ = BoxPublicKey::parse(&text);
        let _ = BoxSecretKey::parse(&text);
        let _ = SealedBox::parse(text.as_bytes());
        let _ = text.parse::<KeyName>();
    }
}
