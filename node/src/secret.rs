//! The control secret: a random token created at first start in the data dir (`ctl_secret`,
//! mode 0600), like Habitat's ctl secret. Mutating gateway requests must present it as
//! `Authorization: Bearer <secret>`.

use std::fs;
use std::io;
use std::path::Path;

use super::persist::DataDir;

/// The file name in the data dir.
pub const FILE: &str = "ctl_secret";

/// The environment variable the subcommands read the secret from when no data dir is given.
pub const ENV: &str = "SWALLOWTAIL_CTL_SECRET";

/// A control secret (64 hex digits).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl Secret {
    /// Reads the secret from the data dir, creating it if missing. A file that is not a valid
    /// secret is moved aside and replaced (clients must then read the new one).
    pub fn load_or_create(dir: &DataDir) -> io::Result<Self> {
        match Self::read(dir.path()) {
            Ok(s) => return Ok(s),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                dir.move_aside(FILE, "the control secret is corrupt");
            }
            Err(e) => return Err(e),
        }
        let mut bytes = [0u8; 32];
        getrandom::getrandom(&mut bytes).map_err(io::Error::other)?;
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        dir.write_atomic(FILE, format!("{token}\n").as_bytes(), 0o600)?;
        Ok(Secret(token))
    }

    /// Reads the secret from `data_dir/ctl_secret`.
    pub fn read(data_dir: &Path) -> io::Result<Self> {
        let text = fs::read_to_string(data_dir.join(FILE))?;
        Self::parse(&text)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed control secret"))
    }

    /// Parses a secret (surrounding whitespace ignored).
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        (t.len() >= 32 && t.bytes().all(|b| b.is_ascii_hexdigit())).then(|| Secret(t.to_owned()))
    }

    /// The token, for an `Authorization` header.
    pub fn token(&self) -> &str {
        &self.0
    }

    /// Whether `presented` (an `Authorization` header value) carries this secret; compared in
    /// constant time.
    pub fn authorizes(&self, presented: Option<&[u8]>) -> bool {
        let Some(v) = presented.and_then(|v| v.strip_prefix(b"Bearer ")) else {
            return false;
        };
        let expected = self.0.as_bytes();
        let v = v.trim_ascii();
        if v.len() != expected.len() {
            return false;
        }
        v.iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorizes_only_the_exact_bearer() {
        let s = Secret::parse(&"ab".repeat(32)).expect("valid");
        let good = format!("Bearer {}", "ab".repeat(32));
        assert!(s.authorizes(Some(good.as_bytes())));
        assert!(!s.authorizes(None));
        assert!(!s.authorizes(Some(b"Bearer ")));
        assert!(!s.authorizes(Some("ab".repeat(32).as_bytes())));
        let bad = format!("Bearer {}", "ac".repeat(32));
        assert!(!s.authorizes(Some(bad.as_bytes())));
        assert!(Secret::parse("zz").is_none());
    }
}
