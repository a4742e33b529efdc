//! Sealed service configs and files on the node: the service secret keys (`--service-key`)
//! and user public keys (`--user-public-key`) this node holds, and how a payload is shown in
//! the census — plain, opened, "encrypted" (not for us) or unreadable (never as garbage).

use std::path::{Path, PathBuf};

use crate::crypto::key_files::{read_box_public_key, read_box_secret_key, KeyFileError};
use crate::crypto::{BoxPublicKey, BoxSecretKey, SealedBox};

/// The box keys a node opens sealed payloads with.
#[derive(Clone, Debug, Default)]
pub struct ServiceKeys {
    secrets: Vec<BoxSecretKey>,
    users: Vec<BoxPublicKey>,
}

/// How a config or file payload is shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayloadView {
    /// Not encrypted: the bytes as carried.
    Plain(Vec<u8>),
    /// Encrypted to a service key this node holds, and opened.
    Opened(Vec<u8>),
    /// Encrypted to a service key this node does not hold.
    Encrypted,
    /// Encrypted to us but cannot be opened (tampered, wrong or unknown sender key, malformed).
    Unreadable(String),
}

impl PayloadView {
    /// `plain`, `opened`, `encrypted` or `unreadable`.
    pub fn status(&self) -> &'static str {
        match self {
            PayloadView::Plain(_) => "plain",
            PayloadView::Opened(_) => "opened",
            PayloadView::Encrypted => "encrypted",
            PayloadView::Unreadable(_) => "unreadable",
        }
    }
}

impl ServiceKeys {
    /// Loads service secret keys (`.box.key` files) and user public keys (`.pub` files, or
    /// directories of them).
    pub fn load(secrets: &[PathBuf], users: &[PathBuf]) -> Result<ServiceKeys, KeyFileError> {
        let mut keys = ServiceKeys::default();
        for p in secrets {
            keys.secrets.push(read_box_secret_key(p)?);
        }
        for p in users {
            for file in files_in(p, ".pub")? {
                keys.users.push(read_box_public_key(&file)?);
            }
        }
        Ok(keys)
    }

    /// Whether any service key is held.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// The names of the service keys held.
    pub fn names(&self) -> Vec<String> {
        self.secrets.iter().map(|k| k.name().to_string()).collect()
    }

    /// How `bytes` (with the rumor's `encrypted` flag) is shown.
    pub fn view(&self, encrypted: bool, bytes: &[u8]) -> PayloadView {
        if !encrypted {
            return PayloadView::Plain(bytes.to_vec());
        }
        let sealed = match SealedBox::parse(bytes) {
            Ok(s) => s,
            Err(e) => {
                return if self.is_empty() {
                    PayloadView::Encrypted
                } else {
                    PayloadView::Unreadable(format!("malformed sealed payload: {e}"))
                }
            }
        };
        let Some(secret) = self.secrets.iter().find(|k| k.name() == sealed.receiver()) else {
            return PayloadView::Encrypted;
        };
        let Some(sender) = self.users.iter().find(|k| k.name() == sealed.sender()) else {
            return PayloadView::Unreadable(format!(
                "sealed by {}, whose public key this node does not hold (--user-public-key)",
                sealed.sender()
            ));
        };
        match sealed.open(secret, sender) {
            Ok(plain) => PayloadView::Opened(plain),
            Err(e) => PayloadView::Unreadable(format!("cannot open: {e}")),
        }
    }
}

/// `path` itself, or the files in it ending in `suffix` (name order).
fn files_in(path: &Path, suffix: &str) -> Result<Vec<PathBuf>, KeyFileError> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let entries = std::fs::read_dir(path).map_err(|source| KeyFileError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{KeyName, Revision};
    use rand::SeedableRng;

    #[test]
    fn views() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let rev = Revision::from_unix_seconds(1_700_000_000);
        let svc = BoxSecretKey::generate(
            KeyName::new("redis.default", rev.clone()).expect("name"),
            &mut rng,
        );
        let user = BoxSecretKey::generate(KeyName::new("ops", rev).expect("name"), &mut rng);
        let sealed = SealedBox::seal(b"port = 1", &user, &svc.public_key(), &mut rng)
            .expect("seal")
            .to_bytes();
        let holder = ServiceKeys {
            secrets: vec![svc.clone()],
            users: vec![user.public_key()],
        };
        assert_eq!(
            holder.view(true, &sealed),
            PayloadView::Opened(b"port = 1".to_vec())
        );
        assert_eq!(
            ServiceKeys::default().view(true, &sealed),
            PayloadView::Encrypted
        );
        assert_eq!(holder.view(false, b"x"), PayloadView::Plain(b"x".to_vec()));
        let mut tampered = sealed.clone();
        let n = tampered.len();
        tampered[n - 3] ^= 1;
        assert_eq!(holder.view(true, &tampered).status(), "unreadable");
        let no_user = ServiceKeys {
            secrets: vec![svc],
            users: vec![],
        };
        assert_eq!(no_user.view(true, &sealed).status(), "unreadable");
    }
}
