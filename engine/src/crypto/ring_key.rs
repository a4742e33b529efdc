//! [`RingKey`]: the 32-byte symmetric key that seals every message of a ring with
//! XSalsa20-Poly1305 (NaCl's `crypto_secretbox`).

use std::fmt;

use crypto_secretbox::aead::{Aead, KeyInit};
use crypto_secretbox::XSalsa20Poly1305;
use rand::{CryptoRng, RngCore};
use zeroize::Zeroizing;

use super::key_text::{self, KeyName, KeyParseError, KEY_LEN};

/// The header of a ring key file.
pub const RING_KEY_HEADER: &str = "SYM-SEC-1";

/// The length of a secretbox nonce.
pub const NONCE_LEN: usize = 24;

/// The length of the Poly1305 tag a sealed message carries in front of its ciphertext.
pub const TAG_LEN: usize = 16;

/// A ring key: a name with its revision, and 32 secret bytes.
///
/// Text form (Habitat's): `SYM-SEC-1\n<name>-<revision>\n\n<base64 key>`; file name
/// `<name>-<revision>.sym.key`. `Debug` never shows the key, and the bytes are zeroed on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct RingKey {
    name: KeyName,
    key: Zeroizing<[u8; KEY_LEN]>,
}

impl RingKey {
    /// A key from its bytes.
    pub fn from_bytes(name: KeyName, key: [u8; KEY_LEN]) -> RingKey {
        RingKey {
            name,
            key: Zeroizing::new(key),
        }
    }

    /// A new random key, drawn from `rng` (the node passes a generator seeded from the OS; the
    /// engine never reads the OS itself).
    pub fn generate(name: KeyName, rng: &mut (impl RngCore + CryptoRng)) -> RingKey {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        rng.fill_bytes(key.as_mut_slice());
        RingKey { name, key }
    }

    /// Parses a key file's text.
    pub fn parse(text: &str) -> Result<RingKey, KeyParseError> {
        let (name, key) = key_text::parse(text, RING_KEY_HEADER)?;
        let key = Zeroizing::new(key);
        Ok(RingKey { name, key })
    }

    /// The key file's text (it contains the secret: write it with mode 0600).
    pub fn to_text(&self) -> String {
        key_text::format(RING_KEY_HEADER, &self.name, self.key.as_slice())
    }

    /// The conventional file name, `<name>-<revision>.sym.key`.
    pub fn file_name(&self) -> String {
        format!("{}.sym.key", self.name)
    }

    /// The key's name and revision.
    pub fn name(&self) -> &KeyName {
        &self.name
    }

    /// The secret bytes.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.key
    }

    /// Seals `plaintext` under `nonce`: the Poly1305 tag (16 bytes) followed by the XSalsa20
    /// ciphertext, exactly NaCl's `crypto_secretbox_easy`. A nonce must never be used twice
    /// with the same key.
    pub fn seal(&self, nonce: &[u8; NONCE_LEN], plaintext: &[u8]) -> Vec<u8> {
        let cipher = XSalsa20Poly1305::new(self.key.as_ref().into());
        // Encryption without associated data cannot fail (the length limit is 256 GiB).
        cipher.encrypt(nonce.into(), plaintext).unwrap_or_default()
    }

    /// Opens what [`seal`](Self::seal) produced. Fails (and returns nothing) unless the tag
    /// authenticates the ciphertext under this key and nonce.
    pub fn open(&self, nonce: &[u8; NONCE_LEN], sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
        if sealed.len() < TAG_LEN {
            return Err(OpenError);
        }
        let cipher = XSalsa20Poly1305::new(self.key.as_ref().into());
        cipher.decrypt(nonce.into(), sealed).map_err(|_| OpenError)
    }
}

impl fmt::Debug for RingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingKey")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A sealed message did not authenticate: wrong key, wrong nonce, tampered or truncated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the message does not authenticate")]
pub struct OpenError;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::test_vectors::*;

    fn firstkey() -> RingKey {
        RingKey::from_bytes("nacl-20080101000000".parse().expect("name"), FIRSTKEY)
    }

    /// NaCl's `tests/secretbox.c`, also libsodium's `test/default/secretbox.c`: the 131-byte
    /// message under `firstkey` and the shared nonce seals to `secretbox.exp`'s 147 bytes.
    #[test]
    fn nacl_secretbox_known_answer() {
        let sealed = firstkey().seal(&NONCE, &MESSAGE);
        assert_eq!(sealed.len(), MESSAGE.len() + TAG_LEN);
        assert_eq!(sealed.as_slice(), BOXED.as_slice());
        let opened = firstkey().open(&NONCE, &BOXED).expect("authentic");
        assert_eq!(opened.as_slice(), MESSAGE.as_slice());
    }

    #[test]
    fn tampering_truncation_wrong_key_and_wrong_nonce_fail() {
        let key = firstkey();
        for i in 0..BOXED.len() {
            let mut bad = BOXED.to_vec();
            bad[i] ^= 0x01;
            assert_eq!(key.open(&NONCE, &bad), Err(OpenError), "bit flip at {i}");
        }
        for cut in 0..BOXED.len() {
            assert_eq!(key.open(&NONCE, &BOXED[..cut]), Err(OpenError), "cut {cut}");
        }
        let mut nonce = NONCE;
        nonce[23] ^= 1;
        assert_eq!(key.open(&nonce, &BOXED), Err(OpenError));
        let mut other = FIRSTKEY;
        other[0] ^= 1;
        let other = RingKey::from_bytes(key.name().clone(), other);
        assert_eq!(other.open(&NONCE, &BOXED), Err(OpenError));
    }

    #[test]
    fn text_round_trip_and_file_name() {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let key = RingKey::generate("my-ring-20240102030405".parse().expect("name"), &mut rng);
        let text = key.to_text();
        assert!(text.starts_with("SYM-SEC-1\nmy-ring-20240102030405\n\n"));
        assert_eq!(RingKey::parse(&text), Ok(key.clone()));
        assert_eq!(key.file_name(), "my-ring-20240102030405.sym.key");
        assert!(!format!("{key:?}").contains(&text[text.len() - 20..]));
        assert!(matches!(
            RingKey::parse(&text.replace("SYM-SEC-1", "BOX-SEC-1")),
            Err(KeyParseError::WrongHeader { .. })
        ));
    }

    /// The layout `hab ring key generate` writes: no trailing newline, padded base64.
    #[test]
    fn parses_the_habitat_layout() {
        let text = "SYM-SEC-1\nfoo-20160504220722\n\nRCFaO84j41GmrzWddxMdsXpGdn3iuIy7Mw3xYrjPLsE=";
        let key = RingKey::parse(text).expect("parses");
        assert_eq!(key.name().to_string(), "foo-20160504220722");
        assert_eq!(key.to_text(), text);
    }
}
