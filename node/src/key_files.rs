//! Key files on disk, for the production node: writing new keys with safe
//! permissions and loading ring keys into a [`Keyring`]. Everything else in [`crypto`](super)
//! is pure; this is the thin layer that touches the file system.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use rand::{CryptoRng, RngCore};

use engine::crypto::key_text::{KeyName, KeyParseError, NameError, Revision};
use engine::crypto::keyring::{Keyring, KeyringError};
use engine::crypto::ring_key::RingKey;
use engine::crypto::sealed_box::{BoxPublicKey, BoxSecretKey};
use engine::crypto::{OperatorPublicKey, OperatorSecretKey};

/// Why key files could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// Reading or writing failed (a file that already exists is never overwritten).
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A file is not a valid key of the expected kind.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        source: KeyParseError,
    },
    /// The key name given is not valid.
    #[error("bad key name: {0}")]
    Name(#[from] NameError),
    /// No `*.sym.key` file was found where ring keys were expected.
    #[error("{0}: no ring key (*.sym.key) found")]
    NoKeys(PathBuf),
    /// The keys found do not form a keyring.
    #[error(transparent)]
    Keyring(#[from] KeyringError),
}

/// Writes `text` to `dir/file_name`, creating `dir` if needed; fails if the file exists. With
/// `secret`, the file is created with mode 0600 (on Unix), otherwise 0644.
pub fn write_key_file(
    dir: &Path,
    file_name: &str,
    text: &str,
    secret: bool,
) -> Result<PathBuf, KeyFileError> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| KeyFileError::Io { path, source }
    };
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let path = dir.join(file_name);
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(&path).map_err(io_err(&path))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io_err(&path))?;
    Ok(path)
}

/// Generates a ring key named `<name>-<revision>` and writes it to
/// `dir/<name>-<revision>.sym.key` (mode 0600). `revision` is usually
/// `Revision::from_unix_seconds(now)`; `rng` should be seeded from the OS.
pub fn generate_ring_key_file(
    dir: &Path,
    name: &str,
    revision: Revision,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<(PathBuf, RingKey), KeyFileError> {
    let key = RingKey::generate(KeyName::new(name, revision)?, rng);
    let path = write_key_file(dir, &key.file_name(), &key.to_text(), true)?;
    Ok((path, key))
}

/// Generates a box key pair (for a service group or a user) and writes
/// `dir/<name>-<revision>.pub` (0644) and `dir/<name>-<revision>.box.key` (0600). Returns the
/// paths of the public and the secret file, and the secret key.
pub fn generate_box_key_files(
    dir: &Path,
    name: &str,
    revision: Revision,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<(PathBuf, PathBuf, BoxSecretKey), KeyFileError> {
    let secret = BoxSecretKey::generate(KeyName::new(name, revision)?, rng);
    let public = secret.public_key();
    let public_path = write_key_file(dir, &public.file_name(), &public.to_text(), false)?;
    let secret_path = write_key_file(dir, &secret.file_name(), &secret.to_text(), true)?;
    Ok((public_path, secret_path, secret))
}

/// Generates an operator's Ed25519 key pair and writes `dir/<name>-<revision>.pub` (0644,
/// SIG-PUB-1) and `dir/<name>-<revision>.sig.key` (0600, SIG-SEC-1). Returns the paths of the
/// public and the secret file.
pub fn generate_operator_key_files(
    dir: &Path,
    name: &str,
    revision: Revision,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<(PathBuf, PathBuf), KeyFileError> {
    let secret = OperatorSecretKey::generate(KeyName::new(name, revision)?, rng);
    let public = secret.public_key();
    let public_path = write_key_file(dir, &public.file_name(), &public.to_text(), false)?;
    let secret_path = write_key_file(dir, &secret.file_name(), &secret.to_text(), true)?;
    Ok((public_path, secret_path))
}

/// Reads an operator's public key (SIG-PUB-1).
pub fn read_operator_public_key(path: &Path) -> Result<OperatorPublicKey, KeyFileError> {
    parsed(path, OperatorPublicKey::parse(&read(path)?))
}

/// Reads an operator's secret key (SIG-SEC-1).
pub fn read_operator_secret_key(path: &Path) -> Result<OperatorSecretKey, KeyFileError> {
    parsed(path, OperatorSecretKey::parse(&read(path)?))
}

fn read(path: &Path) -> Result<String, KeyFileError> {
    fs::read_to_string(path).map_err(|source| KeyFileError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn parsed<T>(path: &Path, r: Result<T, KeyParseError>) -> Result<T, KeyFileError> {
    r.map_err(|source| KeyFileError::Parse {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads one ring key file.
pub fn read_ring_key(path: &Path) -> Result<RingKey, KeyFileError> {
    parsed(path, RingKey::parse(&read(path)?))
}

/// Reads a public box key file (`.pub`).
pub fn read_box_public_key(path: &Path) -> Result<BoxPublicKey, KeyFileError> {
    parsed(path, BoxPublicKey::parse(&read(path)?))
}

/// Reads a secret box key file (`.box.key`).
pub fn read_box_secret_key(path: &Path) -> Result<BoxSecretKey, KeyFileError> {
    parsed(path, BoxSecretKey::parse(&read(path)?))
}

/// Builds a keyring from `paths`, each a ring key file or a directory whose `*.sym.key` files
/// are all loaded (in name order). The newest key is primary. Fails on the first unreadable
/// or invalid file, and if no key is found.
pub fn load_keyring<P: AsRef<Path>>(paths: &[P]) -> Result<Keyring, KeyFileError> {
    let mut keys = Vec::new();
    for path in paths {
        let path = path.as_ref();
        if path.is_dir() {
            let entries = fs::read_dir(path).map_err(|source| KeyFileError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.to_string_lossy().ends_with(".sym.key"))
                .collect();
            if files.is_empty() {
                return Err(KeyFileError::NoKeys(path.to_path_buf()));
            }
            files.sort();
            for file in files {
                keys.push(read_ring_key(&file)?);
            }
        } else {
            keys.push(read_ring_key(path)?);
        }
    }
    Ok(Keyring::new(keys)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("swallowtail-keys-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn generate_write_and_load() {
        let dir = temp_dir("ring");
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let old_rev = Revision::from_unix_seconds(1_700_000_000);
        let new_rev = Revision::from_unix_seconds(1_700_000_100);
        let (old_path, old) =
            generate_ring_key_file(&dir, "prod", old_rev.clone(), &mut rng).expect("write");
        assert_eq!(
            old_path.file_name().and_then(|n| n.to_str()),
            Some("prod-20231114221320.sym.key")
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&old_path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Never overwrites.
        assert!(generate_ring_key_file(&dir, "prod", old_rev, &mut rng).is_err());
        let (_, new) = generate_ring_key_file(&dir, "prod", new_rev, &mut rng).expect("write");
        let ring = load_keyring(&[&dir]).expect("loads");
        assert_eq!(ring.keys().len(), 2);
        assert_eq!(ring.primary(), &new);
        let ring = load_keyring(&[&old_path]).expect("loads");
        assert_eq!(ring.primary(), &old);

        let (pub_path, sec_path, secret) = generate_box_key_files(
            &dir,
            "redis.default",
            Revision::from_unix_seconds(0),
            &mut rng,
        )
        .expect("write");
        assert_eq!(read_box_secret_key(&sec_path).expect("reads"), secret);
        assert_eq!(
            read_box_public_key(&pub_path).expect("reads"),
            secret.public_key()
        );
        assert!(matches!(
            read_ring_key(&sec_path),
            Err(KeyFileError::Parse { .. })
        ));
        assert!(matches!(
            generate_ring_key_file(&dir, "a/b", Revision::from_unix_seconds(0), &mut rng),
            Err(KeyFileError::Name(_))
        ));
        let empty = dir.join("empty");
        fs::create_dir_all(&empty).expect("mkdir");
        assert!(matches!(
            load_keyring(&[&empty]),
            Err(KeyFileError::NoKeys(_))
        ));
        let _ = fs::remove_dir_all(&dir);
    }
}
