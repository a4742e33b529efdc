//! Sealing [`Wire`] envelopes with the ring key, and the engine's state for it.
//!
//! A sealed envelope is `Wire { encrypted: true, nonce: <24 random bytes>, payload:
//! secretbox(encoded Swim or Rumor) }`, as Butterfly sends it. With a keyring, input is
//! accepted only if it is such an envelope and authenticates under one of the keys; anything
//! else (plaintext, wrong key, tampered, truncated, not even a `Wire`) is
//! [`DropReason::Unauthenticated`]. Only input that authenticates and then fails to decode as
//! the expected message is [`DropReason::Malformed`]. Without a keyring, an encrypted
//! envelope is [`DropReason::Unauthenticated`] too ([`wire::open_plain`]).

use prost::Message;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

use super::keyring::Keyring;
use super::ring_key::NONCE_LEN;
use crate::metrics::DropReason;
use crate::wire::{self, Wire};

/// Encodes a sealed [`Wire`] around `payload` (an encoded Swim or Rumor), sealed with the
/// keyring's primary key under `nonce`. The nonce must never repeat under the same key: draw
/// it from a cryptographic generator.
pub fn seal_wire(keyring: &Keyring, payload: &[u8], nonce: [u8; NONCE_LEN]) -> Vec<u8> {
    Wire {
        encrypted: Some(true),
        nonce: Some(nonce.to_vec()),
        payload: Some(keyring.seal(&nonce, payload)),
    }
    .encode_to_vec()
}

/// Decodes an envelope and its payload as `M`: sealed and authenticated with one of the
/// keyring's keys when there is a keyring, plaintext when there is none.
pub fn open_wire<M: Message + Default>(
    keyring: Option<&Keyring>,
    bytes: &[u8],
) -> Result<M, DropReason> {
    let Some(keyring) = keyring else {
        return wire::open_plain(bytes);
    };
    let wire = Wire::decode(bytes).map_err(|_| DropReason::Unauthenticated)?;
    if wire.encrypted != Some(true) {
        return Err(DropReason::Unauthenticated);
    }
    let nonce: [u8; NONCE_LEN] = wire
        .nonce
        .as_deref()
        .and_then(|n| n.try_into().ok())
        .ok_or(DropReason::Unauthenticated)?;
    let sealed = wire.payload.ok_or(DropReason::Unauthenticated)?;
    let plain = keyring
        .open(&nonce, &sealed)
        .map_err(|_| DropReason::Unauthenticated)?;
    M::decode(plain.as_slice()).map_err(|_| DropReason::Malformed)
}

/// What an engine holds for ring encryption: the keyring (if any) and the generator its nonces
/// come from.
///
/// The nonce generator is ChaCha20 seeded with the engine's seed on its own stream, so it is
/// independent of the protocol's generator: switching encryption on changes the bytes sent but
/// not a single protocol decision, and the simulator can compare runs with and without a key.
#[derive(Debug)]
pub(crate) struct WireSeal {
    keyring: Option<Keyring>,
    nonces: ChaCha20Rng,
}

impl WireSeal {
    /// The stream of the engine seed's ChaCha20 that nonces are drawn from ("nonce").
    const NONCE_STREAM: u64 = 0x6e_6f_6e_63_65;

    pub(crate) fn new(seed: [u8; 32]) -> WireSeal {
        let mut nonces = ChaCha20Rng::from_seed(seed);
        nonces.set_stream(Self::NONCE_STREAM);
        WireSeal {
            keyring: None,
            nonces,
        }
    }

    pub(crate) fn keyring(&self) -> Option<&Keyring> {
        self.keyring.as_ref()
    }

    pub(crate) fn set_keyring(&mut self, keyring: Option<Keyring>) {
        self.keyring = keyring;
    }

    /// Seals an outgoing plaintext envelope (from [`wire::seal_plain`]) when there is a
    /// keyring; returns it unchanged otherwise.
    pub(crate) fn seal_outgoing(&mut self, plain: Vec<u8>) -> Vec<u8> {
        let Some(keyring) = &self.keyring else {
            return plain;
        };
        let payload = match Wire::decode(plain.as_slice()) {
            Ok(Wire {
                encrypted: None | Some(false),
                payload: Some(p),
                ..
            }) => p,
            // Not a plaintext envelope: the engine never builds one, and sealing it again
            // would only produce something no peer accepts.
            _ => return plain,
        };
        let mut nonce = [0u8; NONCE_LEN];
        self.nonces.fill_bytes(&mut nonce);
        seal_wire(keyring, &payload, nonce)
    }

    /// Opens incoming bytes (see [`open_wire`]).
    pub(crate) fn open<M: Message + Default>(&self, bytes: &[u8]) -> Result<M, DropReason> {
        open_wire(self.keyring.as_ref(), bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::RingKey;
    use crate::wire::{Swim, SwimPayload, SwimType};

    fn ping() -> Swim {
        Swim {
            r#type: SwimType::Ping as i32,
            seq: None,
            extensions: None,
            membership: vec![],
            payload: Some(SwimPayload::Ping(wire::Ping::default())),
        }
    }

    fn sealer(seed: u64) -> WireSeal {
        let mut s = WireSeal::new([1; 32]);
        s.set_keyring(Some(Keyring::for_simulation(seed)));
        s
    }

    #[test]
    fn sealed_round_trip_with_fresh_nonces() {
        let mut s = sealer(1);
        let a = s.seal_outgoing(wire::seal_plain(&ping()));
        let b = s.seal_outgoing(wire::seal_plain(&ping()));
        assert_ne!(a, b, "a fresh nonce per message");
        let w = Wire::decode(a.as_slice()).expect("wire");
        assert_eq!(w.encrypted, Some(true));
        assert_eq!(w.nonce.as_ref().map(Vec::len), Some(24));
        assert_eq!(s.open::<Swim>(&a), Ok(ping()));
        assert_eq!(s.open::<Swim>(&b), Ok(ping()));
    }

    #[test]
    fn everything_that_does_not_authenticate_is_unauthenticated() {
        let mut s = sealer(1);
        let good = s.seal_outgoing(wire::seal_plain(&ping()));
        let un = Err(DropReason::Unauthenticated);
        // Plaintext.
        assert_eq!(s.open::<Swim>(&wire::seal_plain(&ping())), un);
        // Another key.
        assert_eq!(sealer(2).open::<Swim>(&good), un);
        // Every truncation and every single bit flip.
        for cut in 0..good.len() {
            assert_eq!(s.open::<Swim>(&good[..cut]), un, "cut at {cut}");
        }
        for i in 0..good.len() {
            for bit in 0..8 {
                let mut bad = good.clone();
                bad[i] ^= 1 << bit;
                let r = s.open::<Swim>(&bad);
                // The envelope's framing is not authenticated, only the sealed payload: a
                // flip that keeps `encrypted` true (1 → 3) still opens, to the very same
                // message. Nothing else ever opens, and nothing opens to anything else.
                if r.is_ok() {
                    assert_eq!((i, r), (1, Ok(ping())), "flip byte {i} bit {bit}");
                } else {
                    assert_eq!(r, un, "flip byte {i} bit {bit}");
                }
            }
        }
        // A wrong-length nonce.
        let mut w = Wire::decode(good.as_slice()).expect("wire");
        w.nonce = Some(vec![0; 23]);
        assert_eq!(s.open::<Swim>(&w.encode_to_vec()), un);
        // Without a keyring, sealed input is unauthenticated as well.
        assert_eq!(WireSeal::new([1; 32]).open::<Swim>(&good), un);
    }

    /// The datagram budget (`wire::wire_overhead`) is exactly what sealing adds, at every
    /// payload length, varint boundaries included.
    #[test]
    fn wire_overhead_is_exact_for_sealed_envelopes() {
        let ring = Keyring::for_simulation(1);
        for len in (0..2100).chain(16_300..16_500) {
            let sealed = seal_wire(&ring, &vec![0; len], [0; 24]);
            assert_eq!(
                sealed.len(),
                len + wire::wire_overhead(len),
                "payload of {len}"
            );
        }
    }

    #[test]
    fn authentic_garbage_is_malformed() {
        let ring = Keyring::for_simulation(1);
        let bytes = seal_wire(&ring, &[0xff, 0xff, 0xff], [7; 24]);
        assert_eq!(
            open_wire::<Swim>(Some(&ring), &bytes),
            Err(DropReason::Malformed)
        );
    }

    #[test]
    fn seals_with_the_primary_and_opens_with_any() {
        let old = Keyring::for_simulation(1).primary().clone();
        let new = RingKey::from_bytes("sim-20990101000000".parse().expect("name"), [9; 32]);
        let both = Keyring::new([old.clone(), new.clone()]).expect("keys");
        assert_eq!(both.primary(), &new, "the newest is primary by default");
        let only_old = Keyring::single(old.clone());
        let only_new = Keyring::single(new);
        let sealed = seal_wire(&both, &wire::seal_plain(&ping()), [3; 24]);
        assert!(open_wire::<Wire>(Some(&only_new), &sealed).is_ok());
        assert!(open_wire::<Wire>(Some(&only_old), &sealed).is_err());
        let from_old = seal_wire(&only_old, &[], [4; 24]);
        assert!(open_wire::<Wire>(Some(&both), &from_old).is_ok());
    }
}
