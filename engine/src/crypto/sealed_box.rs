//! Service configurations and files sealed to a service group with NaCl box (X25519 key
//! agreement, then XSalsa20-Poly1305), from a user's key pair to the group's, as Habitat does.
//!
//! Keys (Habitat's text formats and file names):
//!
//! ```text
//! BOX-PUB-1\n<name>-<rev>\n\n<base64 32-byte public key>    <name>-<rev>.pub
//! BOX-SEC-1\n<name>-<rev>\n\n<base64 32-byte secret key>    <name>-<rev>.box.key
//! ```
//!
//! A sealed payload is self-describing text (Habitat's `BOX-1`), so a receiver knows which of
//! its keys opens it and whose public key authenticates it:
//!
//! ```text
//! BOX-1
//! <sender key name-rev>         the user's key, e.g. alice-20240102030405
//! <receiver key name-rev>       the service group's key, e.g. redis.default@acme-20240102030405
//! <base64 24-byte nonce>
//! <base64 tag + ciphertext>     exactly NaCl's crypto_box_easy output
//! ```
//!
//! Opening checks the key names, refuses public keys of small order (as libsodium does), and
//! fails unless the tag authenticates: a payload that fails to open yields an error, never
//! garbage.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use crypto_box::aead::Aead;
use crypto_box::SalsaBox;
use curve25519_dalek::montgomery::MontgomeryPoint;
use rand::{CryptoRng, RngCore};
use zeroize::Zeroizing;

use super::key_text::{self, KeyName, KeyParseError, KEY_LEN};
use super::ring_key::{NONCE_LEN, TAG_LEN};

/// The header of a public box key.
pub const BOX_PUBLIC_HEADER: &str = "BOX-PUB-1";
/// The header of a secret box key.
pub const BOX_SECRET_HEADER: &str = "BOX-SEC-1";
/// The first line of a sealed payload.
pub const SEALED_BOX_HEADER: &str = "BOX-1";

/// A Curve25519 public key: a service group's (to seal to) or a user's (to check the sender).
#[derive(Clone, PartialEq, Eq)]
pub struct BoxPublicKey {
    name: KeyName,
    key: [u8; KEY_LEN],
}

impl BoxPublicKey {
    /// A public key from its bytes.
    pub fn from_bytes(name: KeyName, key: [u8; KEY_LEN]) -> BoxPublicKey {
        BoxPublicKey { name, key }
    }

    /// Parses a `.pub` file's text.
    pub fn parse(text: &str) -> Result<BoxPublicKey, KeyParseError> {
        let (name, key) = key_text::parse(text, BOX_PUBLIC_HEADER)?;
        Ok(BoxPublicKey { name, key })
    }

    /// The `.pub` file's text.
    pub fn to_text(&self) -> String {
        key_text::format(BOX_PUBLIC_HEADER, &self.name, &self.key)
    }

    /// The conventional file name, `<name>-<revision>.pub`.
    pub fn file_name(&self) -> String {
        format!("{}.pub", self.name)
    }

    /// The key's name and revision.
    pub fn name(&self) -> &KeyName {
        &self.name
    }

    /// The public bytes.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.key
    }
}

impl fmt::Debug for BoxPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoxPublicKey")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A Curve25519 secret key: a service group's (to open) or a user's (to seal). Its public key
/// is derived from it. `Debug` never shows it, and the bytes are zeroed on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct BoxSecretKey {
    name: KeyName,
    key: Zeroizing<[u8; KEY_LEN]>,
}

impl BoxSecretKey {
    /// A secret key from its bytes.
    pub fn from_bytes(name: KeyName, key: [u8; KEY_LEN]) -> BoxSecretKey {
        BoxSecretKey {
            name,
            key: Zeroizing::new(key),
        }
    }

    /// A new random key pair's secret half, drawn from `rng` (the caller seeds it from the OS).
    pub fn generate(name: KeyName, rng: &mut (impl RngCore + CryptoRng)) -> BoxSecretKey {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        rng.fill_bytes(key.as_mut_slice());
        BoxSecretKey { name, key }
    }

    /// Parses a `.box.key` file's text.
    pub fn parse(text: &str) -> Result<BoxSecretKey, KeyParseError> {
        let (name, key) = key_text::parse(text, BOX_SECRET_HEADER)?;
        let key = Zeroizing::new(key);
        Ok(BoxSecretKey { name, key })
    }

    /// The `.box.key` file's text (it contains the secret: write it with mode 0600).
    pub fn to_text(&self) -> String {
        key_text::format(BOX_SECRET_HEADER, &self.name, self.key.as_slice())
    }

    /// The conventional file name, `<name>-<revision>.box.key`.
    pub fn file_name(&self) -> String {
        format!("{}.box.key", self.name)
    }

    /// The key's name and revision.
    pub fn name(&self) -> &KeyName {
        &self.name
    }

    /// The matching public key (same name and revision).
    pub fn public_key(&self) -> BoxPublicKey {
        let public = crypto_box::SecretKey::from_bytes(*self.key).public_key();
        BoxPublicKey {
            name: self.name.clone(),
            key: public.to_bytes(),
        }
    }

    /// The NaCl box between this secret key and `public`, or `None` if `public` has small
    /// order (the shared secret would be all zeros, known to everyone).
    fn cipher_with(&self, public: &BoxPublicKey) -> Option<SalsaBox> {
        let shared = Zeroizing::new(MontgomeryPoint(public.key).mul_clamped(*self.key));
        if shared.0 == [0u8; 32] {
            return None;
        }
        let secret = crypto_box::SecretKey::from_bytes(*self.key);
        let public = crypto_box::PublicKey::from_bytes(public.key);
        Some(SalsaBox::new(&public, &secret))
    }
}

impl fmt::Debug for BoxSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoxSecretKey")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A payload sealed from a sender's key pair to a receiver's public key.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedBox {
    sender: KeyName,
    receiver: KeyName,
    nonce: [u8; NONCE_LEN],
    /// Tag, then ciphertext.
    ciphertext: Vec<u8>,
}

impl SealedBox {
    /// Seals `plaintext` from `sender` (the user's secret key) to `receiver` (the service
    /// group's public key) under a fresh nonce drawn from `rng`.
    pub fn seal(
        plaintext: &[u8],
        sender: &BoxSecretKey,
        receiver: &BoxPublicKey,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<SealedBox, BoxError> {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        SealedBox::seal_with_nonce(plaintext, sender, receiver, nonce)
    }

    /// [`seal`](Self::seal) with a given nonce, for known-answer tests. A nonce must never be
    /// used twice with the same pair of keys.
    pub fn seal_with_nonce(
        plaintext: &[u8],
        sender: &BoxSecretKey,
        receiver: &BoxPublicKey,
        nonce: [u8; NONCE_LEN],
    ) -> Result<SealedBox, BoxError> {
        let cipher = sender.cipher_with(receiver).ok_or(BoxError::WeakKey)?;
        let ciphertext = cipher
            .encrypt((&nonce).into(), plaintext)
            .map_err(|_| BoxError::Unauthenticated)?;
        Ok(SealedBox {
            sender: sender.name.clone(),
            receiver: receiver.name.clone(),
            nonce,
            ciphertext,
        })
    }

    /// Parses the `BOX-1` text form. Checks the layout only; [`open`](Self::open)
    /// authenticates.
    pub fn parse(bytes: &[u8]) -> Result<SealedBox, BoxError> {
        let text = std::str::from_utf8(bytes).map_err(|_| BoxError::Malformed("not UTF-8"))?;
        let text = text.strip_suffix('\n').unwrap_or(text);
        let mut lines = text.split('\n');
        if lines.next() != Some(SEALED_BOX_HEADER) {
            return Err(BoxError::Malformed("the first line is not BOX-1"));
        }
        let mut name = |what| -> Result<KeyName, BoxError> {
            lines
                .next()
                .ok_or(BoxError::Malformed(what))?
                .parse()
                .map_err(|_| BoxError::Malformed(what))
        };
        let sender = name("bad sender key name")?;
        let receiver = name("bad receiver key name")?;
        let mut b64 = |what| -> Result<Vec<u8>, BoxError> {
            let line = lines.next().ok_or(BoxError::Malformed(what))?;
            STANDARD.decode(line).map_err(|_| BoxError::Malformed(what))
        };
        let nonce: [u8; NONCE_LEN] = b64("bad nonce")?
            .as_slice()
            .try_into()
            .map_err(|_| BoxError::Malformed("bad nonce"))?;
        let ciphertext = b64("bad ciphertext")?;
        if ciphertext.len() < TAG_LEN {
            return Err(BoxError::Malformed("bad ciphertext"));
        }
        if lines.next().is_some() {
            return Err(BoxError::Malformed("data after the ciphertext"));
        }
        Ok(SealedBox {
            sender,
            receiver,
            nonce,
            ciphertext,
        })
    }

    /// The `BOX-1` text form, as bytes (what a config or file rumor carries).
    pub fn to_bytes(&self) -> Vec<u8> {
        format!(
            "{SEALED_BOX_HEADER}\n{}\n{}\n{}\n{}",
            self.sender,
            self.receiver,
            STANDARD.encode(self.nonce),
            STANDARD.encode(&self.ciphertext)
        )
        .into_bytes()
    }

    /// The sender's key name: whose public key authenticates the payload.
    pub fn sender(&self) -> &KeyName {
        &self.sender
    }

    /// The receiver's key name: which secret key opens the payload.
    pub fn receiver(&self) -> &KeyName {
        &self.receiver
    }

    /// The nonce.
    pub fn nonce(&self) -> &[u8; NONCE_LEN] {
        &self.nonce
    }

    /// The tag followed by the ciphertext (NaCl's `crypto_box_easy` output).
    pub fn ciphertext(&self) -> &[u8] {
        &self.ciphertext
    }

    /// Opens with the receiver's secret key and the sender's public key.
    pub fn open(
        &self,
        receiver: &BoxSecretKey,
        sender: &BoxPublicKey,
    ) -> Result<Vec<u8>, BoxError> {
        if receiver.name != self.receiver {
            return Err(BoxError::KeyMismatch {
                expected: self.receiver.clone(),
                given: receiver.name.clone(),
            });
        }
        if sender.name != self.sender {
            return Err(BoxError::KeyMismatch {
                expected: self.sender.clone(),
                given: sender.name.clone(),
            });
        }
        let cipher = receiver.cipher_with(sender).ok_or(BoxError::WeakKey)?;
        cipher
            .decrypt((&self.nonce).into(), self.ciphertext.as_slice())
            .map_err(|_| BoxError::Unauthenticated)
    }
}

impl fmt::Debug for SealedBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedBox")
            .field("sender", &self.sender)
            .field("receiver", &self.receiver)
            .field("ciphertext_len", &self.ciphertext.len())
            .finish()
    }
}

/// Whether `bytes` look like a sealed payload (start with `BOX-1\n`), to tell them from plain
/// TOML before trying to open them.
pub fn is_sealed_box(bytes: &[u8]) -> bool {
    bytes.starts_with(b"BOX-1\n")
}

/// Why a payload could not be sealed or opened. Nothing is produced on error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BoxError {
    /// Not a `BOX-1` payload (the reason says which part is wrong).
    #[error("not a sealed box: {0}")]
    Malformed(&'static str),
    /// The key given is not the one the payload names.
    #[error("the payload is for key {expected}, not {given}")]
    KeyMismatch {
        /// The key name the payload carries.
        expected: KeyName,
        /// The key name given.
        given: KeyName,
    },
    /// The public key has small order: the shared secret would be known to everyone.
    #[error("the public key is weak (small order)")]
    WeakKey,
    /// The ciphertext does not authenticate: tampered, truncated, or sealed with other keys.
    #[error("the payload does not authenticate")]
    Unauthenticated,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::test_vectors::*;
    use rand::SeedableRng;

    fn name(s: &str) -> KeyName {
        s.parse().expect("name")
    }

    fn alice() -> BoxSecretKey {
        BoxSecretKey::from_bytes(name("alice-20240102030405"), ALICESK)
    }

    fn bob() -> BoxSecretKey {
        BoxSecretKey::from_bytes(name("bob-20240102030405"), BOBSK)
    }

    /// NaCl's `tests/box.c` / libsodium's `test/default/box.c` and `box2.c`: alice seals the
    /// 131-byte message to bob's public key; the output is `box.exp`; bob opens it.
    #[test]
    fn nacl_box_known_answer() {
        assert_eq!(alice().public_key().as_bytes(), &ALICEPK);
        assert_eq!(bob().public_key().as_bytes(), &BOBPK);
        let bob_pk = BoxPublicKey::from_bytes(name("bob-20240102030405"), BOBPK);
        let sealed = SealedBox::seal_with_nonce(&MESSAGE, &alice(), &bob_pk, NONCE).expect("seal");
        assert_eq!(sealed.ciphertext(), BOXED.as_slice());
        let alice_pk = BoxPublicKey::from_bytes(name("alice-20240102030405"), ALICEPK);
        let opened = sealed.open(&bob(), &alice_pk).expect("opens");
        assert_eq!(opened.as_slice(), MESSAGE.as_slice());
    }

    /// libsodium refuses a small-order public key on both sides (`box.c`, `box2.c`).
    #[test]
    fn small_order_keys_are_refused() {
        let weak = BoxPublicKey::from_bytes(name("evil-20240102030405"), SMALL_ORDER_P);
        assert_eq!(
            SealedBox::seal_with_nonce(&MESSAGE, &alice(), &weak, NONCE),
            Err(BoxError::WeakKey)
        );
        let zero = BoxPublicKey::from_bytes(name("evil-20240102030405"), [0; 32]);
        assert_eq!(
            SealedBox::seal_with_nonce(&MESSAGE, &alice(), &zero, NONCE),
            Err(BoxError::WeakKey)
        );
        let forged = SealedBox {
            sender: name("evil-20240102030405"),
            receiver: name("bob-20240102030405"),
            nonce: NONCE,
            ciphertext: BOXED.to_vec(),
        };
        assert_eq!(forged.open(&bob(), &weak), Err(BoxError::WeakKey));
    }

    #[test]
    fn text_round_trips_and_failures() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
        let service = BoxSecretKey::generate(name("redis.default@acme-20240102030405"), &mut rng);
        let user = BoxSecretKey::generate(name("alice-20240102030405"), &mut rng);
        assert_eq!(BoxSecretKey::parse(&service.to_text()), Ok(service.clone()));
        let service_pk = service.public_key();
        assert_eq!(
            BoxPublicKey::parse(&service_pk.to_text()),
            Ok(service_pk.clone())
        );
        assert!(service_pk
            .to_text()
            .starts_with("BOX-PUB-1\nredis.default@acme-20240102030405\n\n"));
        assert!(service.to_text().starts_with("BOX-SEC-1\n"));
        assert_eq!(
            service_pk.file_name(),
            "redis.default@acme-20240102030405.pub"
        );
        assert_eq!(
            service.file_name(),
            "redis.default@acme-20240102030405.box.key"
        );
        assert!(
            BoxPublicKey::parse(&service.to_text()).is_err(),
            "a secret is not a public key"
        );

        let config = b"port = 6379\n";
        let sealed = SealedBox::seal(config, &user, &service_pk, &mut rng).expect("seal");
        let bytes = sealed.to_bytes();
        assert!(is_sealed_box(&bytes));
        assert!(
            bytes.starts_with(b"BOX-1\nalice-20240102030405\nredis.default@acme-20240102030405\n")
        );
        let parsed = SealedBox::parse(&bytes).expect("parses");
        assert_eq!(parsed, sealed);
        let user_pk = user.public_key();
        assert_eq!(parsed.open(&service, &user_pk).expect("opens"), config);

        // Another service key with the same name, or another user's key: no garbage, an error.
        let impostor = BoxSecretKey::generate(service.name().clone(), &mut rng);
        assert_eq!(
            parsed.open(&impostor, &user_pk),
            Err(BoxError::Unauthenticated)
        );
        let other_user = BoxSecretKey::generate(user.name().clone(), &mut rng).public_key();
        assert_eq!(
            parsed.open(&service, &other_user),
            Err(BoxError::Unauthenticated)
        );
        assert!(matches!(
            parsed.open(&user, &user_pk),
            Err(BoxError::KeyMismatch { .. })
        ));
        // Tampering with the ciphertext or nonce, and every truncation.
        let mut bad = parsed.clone();
        bad.ciphertext[20] ^= 4;
        assert_eq!(bad.open(&service, &user_pk), Err(BoxError::Unauthenticated));
        let mut bad = parsed.clone();
        bad.nonce[0] ^= 4;
        assert_eq!(bad.open(&service, &user_pk), Err(BoxError::Unauthenticated));
        for cut in 0..bytes.len() {
            if let Ok(b) = SealedBox::parse(&bytes[..cut]) {
                assert_eq!(b.open(&service, &user_pk), Err(BoxError::Unauthenticated));
            }
        }
        assert!(SealedBox::parse(b"port = 6379").is_err());
        assert!(SealedBox::parse(&[0xff, 0xfe]).is_err());
        let mut junk = bytes.clone();
        junk.extend_from_slice(b"\nmore");
        assert!(SealedBox::parse(&junk).is_err());
    }
}
