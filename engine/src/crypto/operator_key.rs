//! Operator keys: Ed25519 key pairs that sign operator departures, so that a Departure rumor
//! from anyone else is refused (a ring without them trusts whoever can reach its port).
//!
//! Keys use Habitat's origin-key text formats, so a Habitat origin key pair can serve:
//!
//! ```text
//! SIG-PUB-1\n<name>-<rev>\n\n<base64 32-byte public key>              <name>-<rev>.pub
//! SIG-SEC-1\n<name>-<rev>\n\n<base64 64-byte secret (seed ‖ public)>  <name>-<rev>.sig.key
//! ```
//!
//! A departure's signature covers a fixed context string and the departed member's id, so it
//! departs that member and nothing else; replaying it repeats a departure that is final anyway.

use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand::{CryptoRng, RngCore};
use zeroize::Zeroizing;

use super::key_text::{self, KeyName, KeyParseError, KEY_LEN};
use crate::id::MemberId;

/// The header of an operator's public key.
pub const SIG_PUBLIC_HEADER: &str = "SIG-PUB-1";
/// The header of an operator's secret key.
pub const SIG_SECRET_HEADER: &str = "SIG-SEC-1";
/// Bytes in a signature.
pub const SIGNATURE_LEN: usize = 64;
/// What a departure signature covers, before the member id.
const DEPARTURE_CONTEXT: &[u8] = b"swallowtail operator departure v1\0";

/// The bytes an operator signs to depart `member`.
fn departure_message(member: MemberId) -> [u8; DEPARTURE_CONTEXT.len() + 16] {
    let mut m = [0u8; DEPARTURE_CONTEXT.len() + 16];
    m[..DEPARTURE_CONTEXT.len()].copy_from_slice(DEPARTURE_CONTEXT);
    m[DEPARTURE_CONTEXT.len()..].copy_from_slice(&member.as_u128().to_be_bytes());
    m
}

/// An operator's public key: members that hold it accept the departures it signed.
#[derive(Clone, PartialEq, Eq)]
pub struct OperatorPublicKey {
    name: KeyName,
    key: VerifyingKey,
}

impl OperatorPublicKey {
    /// Parses a `SIG-PUB-1` file's text; a point that is not a valid public key is refused.
    pub fn parse(text: &str) -> Result<OperatorPublicKey, KeyParseError> {
        let (name, bytes) = key_text::parse(text, SIG_PUBLIC_HEADER)?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| KeyParseError::BadKey)?;
        Ok(OperatorPublicKey { name, key })
    }

    /// The `.pub` file's text.
    pub fn to_text(&self) -> String {
        key_text::format(SIG_PUBLIC_HEADER, &self.name, self.key.as_bytes())
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
        self.key.as_bytes()
    }

    /// Whether `signature` is this key's signature of the departure of `member` (strict
    /// verification: no malleable or small-order forms).
    pub fn verifies_departure(&self, member: MemberId, signature: &[u8; SIGNATURE_LEN]) -> bool {
        let signature = Signature::from_bytes(signature);
        self.key
            .verify_strict(&departure_message(member), &signature)
            .is_ok()
    }
}

impl fmt::Debug for OperatorPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OperatorPublicKey")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// An operator's secret key, which signs departures. `Debug` never shows it; the bytes are
/// zeroed on drop.
#[derive(Clone)]
pub struct OperatorSecretKey {
    name: KeyName,
    key: SigningKey,
}

impl OperatorSecretKey {
    /// A new random key pair's secret half, drawn from `rng` (the caller seeds it from the OS).
    pub fn generate(name: KeyName, rng: &mut (impl RngCore + CryptoRng)) -> OperatorSecretKey {
        let mut seed = Zeroizing::new([0u8; KEY_LEN]);
        rng.fill_bytes(seed.as_mut_slice());
        OperatorSecretKey {
            name,
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// Parses a `SIG-SEC-1` file's text: 64 bytes, the seed then the public key, which must
    /// match (libsodium's layout, as Habitat writes it).
    pub fn parse(text: &str) -> Result<OperatorSecretKey, KeyParseError> {
        let (name, bytes) = key_text::parse_sized::<64>(text, SIG_SECRET_HEADER)?;
        let bytes = Zeroizing::new(bytes);
        let key = SigningKey::from_keypair_bytes(&bytes).map_err(|_| KeyParseError::BadKey)?;
        Ok(OperatorSecretKey { name, key })
    }

    /// The `.sig.key` file's text (it contains the secret: write it with mode 0600).
    pub fn to_text(&self) -> String {
        let bytes = Zeroizing::new(self.key.to_keypair_bytes());
        key_text::format(SIG_SECRET_HEADER, &self.name, bytes.as_slice())
    }

    /// The conventional file name, `<name>-<revision>.sig.key`.
    pub fn file_name(&self) -> String {
        format!("{}.sig.key", self.name)
    }

    /// The key's name and revision.
    pub fn name(&self) -> &KeyName {
        &self.name
    }

    /// The matching public key.
    pub fn public_key(&self) -> OperatorPublicKey {
        OperatorPublicKey {
            name: self.name.clone(),
            key: self.key.verifying_key(),
        }
    }

    /// Signs the departure of `member`.
    pub fn sign_departure(&self, member: MemberId) -> [u8; SIGNATURE_LEN] {
        self.key.sign(&departure_message(member)).to_bytes()
    }
}

impl fmt::Debug for OperatorSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OperatorSecretKey")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Revision;
    use rand::SeedableRng;

    fn pair(name: &str, seed: u64) -> OperatorSecretKey {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
        let name = KeyName::new(name, Revision::from_unix_seconds(1_700_000_000)).expect("name");
        OperatorSecretKey::generate(name, &mut rng)
    }

    #[test]
    fn a_signature_departs_the_member_it_names_and_no_other() {
        let secret = pair("ops", 1);
        let public = secret.public_key();
        let a = MemberId::from_u128(7);
        let sig = secret.sign_departure(a);
        assert!(public.verifies_departure(a, &sig));
        assert!(!public.verifies_departure(MemberId::from_u128(8), &sig));
        let mut flipped = sig;
        flipped[10] ^= 1;
        assert!(!public.verifies_departure(a, &flipped));
        assert!(!pair("other", 2).public_key().verifies_departure(a, &sig));
        assert!(!public.verifies_departure(a, &[0u8; SIGNATURE_LEN]));
    }

    #[test]
    fn key_files_round_trip_and_refuse_the_wrong_kind_or_a_mismatched_pair() {
        let secret = pair("ops", 3);
        let again = OperatorSecretKey::parse(&secret.to_text()).expect("secret text");
        let public = OperatorPublicKey::parse(&secret.public_key().to_text()).expect("public");
        let m = MemberId::from_u128(9);
        assert!(public.verifies_departure(m, &again.sign_departure(m)));
        assert_eq!(public.file_name(), "ops-20231114221320.pub");
        assert_eq!(secret.file_name(), "ops-20231114221320.sig.key");
        assert!(matches!(
            OperatorPublicKey::parse(&secret.to_text()),
            Err(KeyParseError::WrongHeader { .. })
        ));
        // A secret whose second half is another key's public half.
        let other = pair("ops", 4).public_key();
        let mut bytes = secret.key.to_keypair_bytes();
        bytes[32..].copy_from_slice(other.as_bytes());
        let text = key_text::format(SIG_SECRET_HEADER, secret.name(), &bytes);
        assert!(OperatorSecretKey::parse(&text).is_err());
        assert!(!format!("{secret:?}").contains(&secret.to_text()[20..]));
    }
}
