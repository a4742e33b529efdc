//! Ring encryption and sealed service configurations and files (DESIGN §3 "Crypto").
//!
//! * [`RingKey`] — a ring's 32-byte symmetric key in Butterfly's `SYM-SEC-1` text format. Every
//!   datagram and stream frame of an encrypted ring is a `Wire { encrypted: true, nonce,
//!   payload }` sealed with XSalsa20-Poly1305 (NaCl secretbox) under a fresh random nonce
//!   ([`seal_wire`], [`open_wire`]).
//! * [`Keyring`] — several ring keys: opens with any, seals with the primary (the newest by
//!   default), so a running ring can rotate its key with no downtime. The engine takes one
//!   through [`Engine::set_ring_keys`](crate::Engine::set_ring_keys).
//! * [`BoxSecretKey`], [`BoxPublicKey`], [`SealedBox`] — Curve25519 key pairs for service groups
//!   and users (`BOX-SEC-1`, `BOX-PUB-1`), and configs or files sealed with NaCl box from a
//!   user to a service group (Habitat's `BOX-1` payload).
//! * [`OperatorSecretKey`], [`OperatorPublicKey`] — Ed25519 key pairs (`SIG-SEC-1`,
//!   `SIG-PUB-1`, Habitat's origin-key formats) that sign operator departures; an engine given
//!   them through [`Engine::set_operator_keys`](crate::Engine::set_operator_keys) refuses
//!   departures they did not sign.
//!
//! The primitives are RustCrypto's `crypto_secretbox` and `crypto_box`; known-answer tests
//! use NaCl's published vectors and an integration test cross-checks with libsodium through
//! PyNaCl (`engine/tests/crypto_pynacl.rs`). Nothing here reads the OS's generator or clock:
//! randomness and revisions are passed in.

pub mod key_text;
pub mod keyring;
pub mod operator_key;
pub mod ring_key;
pub mod sealed_box;
pub mod wire_seal;

#[cfg(test)]
mod test_vectors;

pub use key_text::{KeyName, KeyParseError, NameError, Revision, KEY_LEN};
pub use keyring::{Keyring, KeyringError};
pub use operator_key::{
    OperatorPublicKey, OperatorSecretKey, SIGNATURE_LEN, SIG_PUBLIC_HEADER, SIG_SECRET_HEADER,
};
pub use ring_key::{OpenError, RingKey, NONCE_LEN, RING_KEY_HEADER, TAG_LEN};
pub use sealed_box::{
    is_sealed_box, BoxError, BoxPublicKey, BoxSecretKey, SealedBox, BOX_PUBLIC_HEADER,
    BOX_SECRET_HEADER, SEALED_BOX_HEADER,
};
pub use wire_seal::{open_wire, seal_wire};

pub(crate) use wire_seal::WireSeal;
