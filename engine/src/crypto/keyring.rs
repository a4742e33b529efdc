//! [`Keyring`]: the ring keys a member holds. It opens with any of them and seals with one,
//! the primary (by default the newest), which is what lets a running ring change its key
//! without downtime, the way memberlist's keyring does:
//!
//! 1. **install**: every member, one at a time, gets the new key *next to* the old one, with the
//!    old one still primary ([`Keyring::with_primary`]). Everyone now opens both.
//! 2. **use**: every member, one at a time, makes the new key primary. Members not yet switched
//!    still open what the switched ones seal.
//! 3. **remove**: every member drops the old key.
//!
//! Butterfly holds one key and cannot do this: changing it splits the ring until every member
//! has restarted.

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use super::key_text::KeyName;
use super::ring_key::{OpenError, RingKey, NONCE_LEN};

/// Several ring keys, newest first, one of them primary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keyring {
    /// Newest (greatest revision) first; names are unique.
    keys: Vec<RingKey>,
    /// Index of the key that seals.
    primary: usize,
}

impl Keyring {
    /// A keyring of `keys` whose newest key (greatest revision, then greatest name) is primary.
    /// Duplicates (same name and bytes) are merged.
    pub fn new(keys: impl IntoIterator<Item = RingKey>) -> Result<Keyring, KeyringError> {
        let mut ring = Keyring {
            keys: Vec::new(),
            primary: 0,
        };
        for key in keys {
            ring.add(key)?;
        }
        if ring.keys.is_empty() {
            return Err(KeyringError::Empty);
        }
        ring.primary = 0;
        Ok(ring)
    }

    /// A keyring of one key.
    pub fn single(key: RingKey) -> Keyring {
        Keyring {
            keys: vec![key],
            primary: 0,
        }
    }

    /// A keyring of one key derived from `seed`, named `sim-20000101000000`, for simulations
    /// and tests (never for production: anyone who knows the seed knows the key).
    pub fn for_simulation(seed: u64) -> Keyring {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        Keyring::single(RingKey::generate(KeyName::simulation(), &mut rng))
    }

    /// This keyring with `name` as the primary key (memberlist's "use key").
    pub fn with_primary(mut self, name: &KeyName) -> Result<Keyring, KeyringError> {
        self.primary = self
            .position(name)
            .ok_or_else(|| KeyringError::Unknown(name.clone()))?;
        Ok(self)
    }

    /// Adds a key, keeping the current primary (memberlist's "install key"). Adding a key that
    /// is already held is a no-op.
    pub fn insert(&mut self, key: RingKey) -> Result<(), KeyringError> {
        let primary = self.primary().name().clone();
        self.add(key)?;
        self.primary = self.position(&primary).unwrap_or(0);
        Ok(())
    }

    /// Removes a key (memberlist's "remove key"). The primary key cannot be removed: make
    /// another one primary first. On error the keyring is unchanged.
    pub fn remove(&mut self, name: &KeyName) -> Result<RingKey, KeyringError> {
        let i = self
            .position(name)
            .ok_or_else(|| KeyringError::Unknown(name.clone()))?;
        if i == self.primary {
            return Err(KeyringError::RemovePrimary(name.clone()));
        }
        let key = self.keys.remove(i);
        if i < self.primary {
            self.primary -= 1;
        }
        Ok(key)
    }

    /// The key that seals.
    pub fn primary(&self) -> &RingKey {
        &self.keys[self.primary]
    }

    /// Every key, newest first.
    pub fn keys(&self) -> &[RingKey] {
        &self.keys
    }

    /// Seals with the primary key (see [`RingKey::seal`]).
    pub fn seal(&self, nonce: &[u8; NONCE_LEN], plaintext: &[u8]) -> Vec<u8> {
        self.primary().seal(nonce, plaintext)
    }

    /// Opens with whichever key authenticates the message, the primary first.
    pub fn open(&self, nonce: &[u8; NONCE_LEN], sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
        if let Ok(plain) = self.primary().open(nonce, sealed) {
            return Ok(plain);
        }
        self.keys
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != self.primary)
            .find_map(|(_, k)| k.open(nonce, sealed).ok())
            .ok_or(OpenError)
    }

    fn position(&self, name: &KeyName) -> Option<usize> {
        self.keys.iter().position(|k| k.name() == name)
    }

    /// Inserts in newest-first order; does not touch `primary`.
    fn add(&mut self, key: RingKey) -> Result<(), KeyringError> {
        if let Some(held) = self.keys.iter().find(|k| k.name() == key.name()) {
            return if *held == key {
                Ok(())
            } else {
                Err(KeyringError::Conflict(key.name().clone()))
            };
        }
        let order = |k: &RingKey| (k.name().revision().clone(), k.name().name().to_owned());
        let at = self
            .keys
            .iter()
            .position(|k| order(k) < order(&key))
            .unwrap_or(self.keys.len());
        self.keys.insert(at, key);
        Ok(())
    }
}

/// Why a keyring could not be built or changed. On error the keyring is unchanged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyringError {
    /// A keyring needs at least one key.
    #[error("a keyring needs at least one key")]
    Empty,
    /// Two different keys carry the same name and revision.
    #[error("two different keys are both named {0}")]
    Conflict(KeyName),
    /// No key of that name is held.
    #[error("no key named {0} is held")]
    Unknown(KeyName),
    /// The primary key cannot be removed.
    #[error("{0} is the primary key; make another key primary before removing it")]
    RemovePrimary(KeyName),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, byte: u8) -> RingKey {
        RingKey::from_bytes(name.parse().expect("name"), [byte; 32])
    }

    #[test]
    fn newest_first_and_memberlist_style_changes() {
        let a = key("ring-20240101000000", 1);
        let b = key("ring-20250101000000", 2);
        let c = key("other-20230101000000", 3);
        assert_eq!(Keyring::new([]), Err(KeyringError::Empty));
        let mut ring = Keyring::new([c.clone(), a.clone(), a.clone()]).expect("keys");
        assert_eq!(ring.keys(), &[a.clone(), c.clone()]);
        assert_eq!(ring.primary(), &a);
        // Install keeps the primary; the newest-first order is kept.
        ring.insert(b.clone()).expect("insert");
        assert_eq!(ring.keys(), &[b.clone(), a.clone(), c.clone()]);
        assert_eq!(ring.primary(), &a);
        assert_eq!(
            ring.insert(key("ring-20250101000000", 9)),
            Err(KeyringError::Conflict(b.name().clone()))
        );
        // The primary cannot be removed; an unknown key neither; the primary survives removals.
        assert_eq!(
            ring.remove(a.name()),
            Err(KeyringError::RemovePrimary(a.name().clone()))
        );
        let unknown = key("nope-20240101000000", 0);
        assert_eq!(
            ring.clone().with_primary(unknown.name()),
            Err(KeyringError::Unknown(unknown.name().clone()))
        );
        assert_eq!(ring.remove(b.name()), Ok(b.clone()));
        assert_eq!(ring.primary(), &a);
        let ring = Keyring::new([a.clone(), b.clone()])
            .and_then(|r| r.with_primary(a.name()))
            .expect("keys");
        let sealed = ring.seal(&[1; 24], b"x");
        assert_eq!(a.open(&[1; 24], &sealed), Ok(b"x".to_vec()));
        assert_eq!(Keyring::single(b).open(&[1; 24], &sealed), Err(OpenError));
    }
}
