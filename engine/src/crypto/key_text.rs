//! The text format shared by every key file, after Habitat's:
//!
//! ```text
//! SYM-SEC-1                  header: the kind of key and its format version
//! my-ring-20240102030405     name-revision: the revision is a UTC %Y%m%d%H%M%S timestamp
//!                            an empty line
//! <base64 of the 32 bytes>   the key (standard alphabet, padded)
//! ```
//!
//! Ring keys use `SYM-SEC-1`, public box keys `BOX-PUB-1`, secret box keys `BOX-SEC-1`. Parsing
//! is strict (one optional trailing newline is all it forgives) and never panics; errors never
//! quote the key line.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// The length of every key in these formats.
pub const KEY_LEN: usize = 32;

/// A key's revision: a UTC timestamp written `%Y%m%d%H%M%S` (14 digits). Revisions order
/// chronologically, so the newest key has the greatest revision.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Revision(String);

impl Revision {
    /// The revision for `secs` seconds after the Unix epoch (UTC). Pure: the caller reads the
    /// clock (`SystemTime::now()` in the node), so this stays deterministic and testable.
    pub fn from_unix_seconds(secs: u64) -> Revision {
        let days = secs / 86_400;
        let rem = secs % 86_400;
        let (y, m, d) = civil_from_days(days);
        Revision(format!(
            "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
            rem / 3600,
            rem / 60 % 60,
            rem % 60
        ))
    }

    /// The 14 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Revision {
    type Err = NameError;

    /// Accepts exactly 14 ASCII digits forming a plausible date and time.
    fn from_str(s: &str) -> Result<Self, NameError> {
        let b = s.as_bytes();
        if b.len() != 14 || !b.iter().all(u8::is_ascii_digit) {
            return Err(NameError::BadRevision);
        }
        let num = |r: std::ops::Range<usize>| {
            b[r].iter()
                .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
        };
        let plausible = (1..=12).contains(&num(4..6))
            && (1..=31).contains(&num(6..8))
            && num(8..10) < 24
            && num(10..12) < 60
            && num(12..14) < 61;
        if !plausible {
            return Err(NameError::BadRevision);
        }
        Ok(Revision(s.to_owned()))
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Revision({})", self.0)
    }
}

/// Days since 1970-01-01 to a (year, month, day) civil date (Howard Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// A key's name and revision, written `<name>-<revision>`: `my-ring-20240102030405`,
/// `redis.default@acme-20240102030405`. The name may itself contain dashes.
///
/// Names are limited to ASCII letters, digits and `-_.@` and never start with `.` or `-`, so a
/// name can always be used in a file name.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyName {
    name: String,
    revision: Revision,
}

impl KeyName {
    /// A key name from its parts.
    pub fn new(name: &str, revision: Revision) -> Result<KeyName, NameError> {
        let first = name.chars().next().ok_or(NameError::EmptyName)?;
        if first == '.' || first == '-' {
            return Err(NameError::BadCharacter(first));
        }
        if let Some(c) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "-_.@".contains(*c)))
        {
            return Err(NameError::BadCharacter(c));
        }
        Ok(KeyName {
            name: name.to_owned(),
            revision,
        })
    }

    /// `sim-20000101000000`, the name of simulation keys.
    pub(crate) fn simulation() -> KeyName {
        KeyName {
            name: "sim".to_owned(),
            revision: Revision("20000101000000".to_owned()),
        }
    }

    /// The name without the revision.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The revision.
    pub fn revision(&self) -> &Revision {
        &self.revision
    }
}

impl FromStr for KeyName {
    type Err = NameError;

    /// Parses `<name>-<revision>`, splitting at the last dash.
    fn from_str(s: &str) -> Result<Self, NameError> {
        let (name, rev) = s.rsplit_once('-').ok_or(NameError::MissingRevision)?;
        KeyName::new(name, rev.parse()?)
    }
}

impl fmt::Display for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.name, self.revision)
    }
}

impl fmt::Debug for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyName({self})")
    }
}

/// Why a `<name>-<revision>` string was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// There is no `-<revision>` suffix.
    #[error("no `-<revision>` suffix")]
    MissingRevision,
    /// The revision is not a `%Y%m%d%H%M%S` timestamp.
    #[error("the revision is not a %Y%m%d%H%M%S timestamp")]
    BadRevision,
    /// The name before the revision is empty.
    #[error("the name is empty")]
    EmptyName,
    /// The name holds a character outside ASCII letters, digits and `-_.@` (or starts with `.`
    /// or `-`).
    #[error("the name holds the character {0:?}")]
    BadCharacter(char),
}

/// Why key text was refused. Nothing is left behind: parsing is a pure function.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyParseError {
    /// The first line is not the expected header (for instance a secret box key given where a
    /// ring key is expected).
    #[error("expected a {expected} key, found the header {found:?}")]
    WrongHeader {
        /// The header this kind of key has.
        expected: &'static str,
        /// The first line found (at most 32 characters of it).
        found: String,
    },
    /// The text ends before the named part.
    #[error("the key text ends before its {0}")]
    Truncated(&'static str),
    /// The second line is not a valid `<name>-<revision>`.
    #[error("bad name-revision line {line:?}: {reason}")]
    BadNameRevision {
        /// The line (at most 64 characters of it).
        line: String,
        /// What is wrong with it.
        reason: NameError,
    },
    /// The third line is not empty.
    #[error("expected an empty line after the name-revision line")]
    MissingBlankLine,
    /// The key line is not standard, padded base64.
    #[error("the key is not valid base64")]
    BadBase64,
    /// The key decodes to the wrong number of bytes.
    #[error("the key is {found} bytes long, expected {expected}")]
    WrongLength {
        /// The length this kind of key has ([`KEY_LEN`] but for Ed25519 secret keys, 64).
        expected: usize,
        /// What the base64 decoded to.
        found: usize,
    },
    /// Something follows the key line (beyond one newline).
    #[error("unexpected data after the key")]
    TrailingData,
    /// The bytes are not a valid key of this kind (an Ed25519 public key that is no curve
    /// point, or a secret key whose public half does not match it).
    #[error("the bytes are not a valid key of this kind")]
    BadKey,
}

/// Parses key text with the given header into its name and key bytes.
pub(crate) fn parse(
    text: &str,
    header: &'static str,
) -> Result<(KeyName, [u8; KEY_LEN]), KeyParseError> {
    parse_sized(text, header)
}

/// Parses key text with the given header whose key is `N` bytes long.
pub(crate) fn parse_sized<const N: usize>(
    text: &str,
    header: &'static str,
) -> Result<(KeyName, [u8; N]), KeyParseError> {
    let text = text.strip_suffix('\n').unwrap_or(text);
    let mut lines = text.split('\n');
    let first = lines.next().unwrap_or("");
    if first != header {
        return Err(KeyParseError::WrongHeader {
            expected: header,
            found: first.chars().take(32).collect(),
        });
    }
    let name_line = lines
        .next()
        .ok_or(KeyParseError::Truncated("name-revision line"))?;
    let name = name_line
        .parse::<KeyName>()
        .map_err(|reason| KeyParseError::BadNameRevision {
            line: name_line.chars().take(64).collect(),
            reason,
        })?;
    match lines.next() {
        None => return Err(KeyParseError::Truncated("empty line")),
        Some("") => {}
        Some(_) => return Err(KeyParseError::MissingBlankLine),
    }
    let key_line = lines.next().ok_or(KeyParseError::Truncated("key"))?;
    if lines.next().is_some() {
        return Err(KeyParseError::TrailingData);
    }
    let bytes = STANDARD
        .decode(key_line)
        .map_err(|_| KeyParseError::BadBase64)?;
    let key: [u8; N] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| KeyParseError::WrongLength {
            expected: N,
            found: bytes.len(),
        })?;
    Ok((name, key))
}

/// Formats key text (no trailing newline, as Habitat writes it).
pub(crate) fn format(header: &str, name: &KeyName, key: &[u8]) -> String {
    format!("{header}\n{name}\n\n{}", STANDARD.encode(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_B64: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    fn text(name: &str, key: &str) -> String {
        format!("SYM-SEC-1\n{name}\n\n{key}")
    }

    #[test]
    fn round_trip() {
        let (name, key) = parse(&text("my-ring-20240102030405", KEY_B64), "SYM-SEC-1").expect("ok");
        assert_eq!(name.name(), "my-ring");
        assert_eq!(name.revision().as_str(), "20240102030405");
        assert_eq!(key[31], 31);
        assert_eq!(
            format("SYM-SEC-1", &name, &key),
            text("my-ring-20240102030405", KEY_B64)
        );
        // One trailing newline is forgiven.
        let with_nl = text("r-20240102030405", KEY_B64) + "\n";
        assert!(parse(&with_nl, "SYM-SEC-1").is_ok());
    }

    #[test]
    fn every_malformation_has_its_error() {
        let p = |t: &str| parse(t, "SYM-SEC-1");
        assert!(matches!(
            p(&text("r-20240102030405", KEY_B64).replace("SYM-SEC-1", "BOX-SEC-1")),
            Err(KeyParseError::WrongHeader { .. })
        ));
        assert!(matches!(p(""), Err(KeyParseError::WrongHeader { .. })));
        assert_eq!(
            p("SYM-SEC-1"),
            Err(KeyParseError::Truncated("name-revision line"))
        );
        assert_eq!(
            p("SYM-SEC-1\nr-20240102030405"),
            Err(KeyParseError::Truncated("empty line"))
        );
        assert_eq!(
            p("SYM-SEC-1\nr-20240102030405\n\n"),
            Err(KeyParseError::Truncated("key"))
        );
        for bad in [
            "r",
            "r-2024",
            "-20240102030405",
            "r-20241302030405",
            "a b-20240102030405",
        ] {
            assert!(
                matches!(
                    p(&text(bad, KEY_B64)),
                    Err(KeyParseError::BadNameRevision { .. })
                ),
                "{bad}"
            );
        }
        assert_eq!(
            p(&format!("SYM-SEC-1\nr-20240102030405\nx\n{KEY_B64}")),
            Err(KeyParseError::MissingBlankLine)
        );
        assert_eq!(
            p(&text("r-20240102030405", "not base64!")),
            Err(KeyParseError::BadBase64)
        );
        assert_eq!(
            p(&text("r-20240102030405", "AAEC")),
            Err(KeyParseError::WrongLength {
                expected: 32,
                found: 3
            })
        );
        assert_eq!(
            p(&(text("r-20240102030405", KEY_B64) + "\njunk")),
            Err(KeyParseError::TrailingData)
        );
        assert_eq!(
            p(&(text("r-20240102030405", KEY_B64) + "\n\n")),
            Err(KeyParseError::TrailingData)
        );
    }

    #[test]
    fn arbitrary_text_never_panics() {
        let base = text("r-20240102030405", KEY_B64);
        for cut in 0..=base.len() {
            let _ = parse(&base[..cut], "SYM-SEC-1");
        }
        let _ = parse("SYM-SEC-1\n\u{1F980}-20240102030405\n\n", "SYM-SEC-1");
        let _ = parse("\u{0}\n\n\n\n", "SYM-SEC-1");
    }

    #[test]
    fn revisions_from_unix_time() {
        assert_eq!(Revision::from_unix_seconds(0).as_str(), "19700101000000");
        // 2016-05-04 22:07:22 UTC, a revision from Habitat's own tests.
        assert_eq!(
            Revision::from_unix_seconds(1_462_399_642).as_str(),
            "20160504220722"
        );
        // A leap day.
        assert_eq!(
            Revision::from_unix_seconds(1_709_164_800 + 3661).as_str(),
            "20240229010101"
        );
        let a: Revision = "20240102030405".parse().expect("ok");
        let b: Revision = "20240102030406".parse().expect("ok");
        assert!(a < b);
    }

    #[test]
    fn names_split_at_the_last_dash() {
        let n: KeyName = "redis.default@acme-org-20240102030405".parse().expect("ok");
        assert_eq!(n.name(), "redis.default@acme-org");
        assert_eq!(n.to_string(), "redis.default@acme-org-20240102030405");
        assert_eq!(
            "../x-20240102030405".parse::<KeyName>(),
            Err(NameError::BadCharacter('.'))
        );
        assert_eq!(
            "a/b-20240102030405".parse::<KeyName>(),
            Err(NameError::BadCharacter('/'))
        );
    }
}
