//! The data dir: what a member keeps across restarts.
//!
//! | file           | holds                                               | written          |
//! |----------------|-----------------------------------------------------|------------------|
//! | `member.json`  | the member id                                       | once             |
//! | `state.json`   | incarnation; whether an operator departed us        | on change, at exit |
//! | `members.json` | the member view (restored through the merge rules)  | on change (debounced), periodically, at exit |
//! | `rumors.pb`    | the rumor store (`RumorStore::export`, a protobuf `RumorBatch`), restored with `Engine::import_rumors` (merge rules) | on change (debounced), periodically, at exit |
//! | `ctl_secret`   | the control secret ([`secret`](super::secret))      | once             |
//!
//! Each JSON file carries a `version` field; `rumors.pb` that does not decode is moved aside
//! the same way. Every write is atomic: a temporary file is
//! written and fsynced, renamed over the old one, and the directory is fsynced. A file that
//! cannot be parsed (truncated, corrupt, unknown version) is renamed to
//! `NAME.corrupt-<unix seconds>` with a warning and the node goes on without it; the other
//! files are read independently, so one bad file never costs the others.

use std::fs::{self, File};
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::id::{Incarnation, MemberId};
use crate::member::{Health, Member, Membership};

/// The on-disk format version written by this build.
pub const FORMAT_VERSION: u32 = 1;

const MEMBER_FILE: &str = "member.json";
const STATE_FILE: &str = "state.json";
const MEMBERS_FILE: &str = "members.json";
/// The persisted rumor store.
pub const RUMORS_FILE: &str = "rumors.pb";

/// A member's data dir.
#[derive(Clone, Debug)]
pub struct DataDir {
    path: PathBuf,
}

/// What was found in the data dir at start.
#[derive(Clone, Debug, Default)]
pub struct Loaded {
    /// The member id, if one was saved.
    pub member_id: Option<MemberId>,
    /// The saved state, if any.
    pub state: Option<State>,
    /// The saved member view (empty if none).
    pub members: Vec<Membership>,
    /// The saved rumor store (`RumorStore::export` bytes), if any.
    pub rumors: Option<Vec<u8>>,
}

/// `state.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Always [`FORMAT_VERSION`] when written by this build.
    pub version: u32,
    /// The last incarnation this member used.
    pub incarnation: u64,
    /// Set when an operator departed this member; it must not rejoin with this id.
    #[serde(default)]
    pub departed_by_operator: bool,
}

#[derive(Serialize, Deserialize)]
struct MemberFile {
    version: u32,
    member_id: String,
}

#[derive(Serialize, Deserialize)]
struct MembersFile {
    version: u32,
    members: Vec<MemberRecord>,
}

#[derive(Serialize, Deserialize)]
struct MemberRecord {
    id: String,
    address: IpAddr,
    swim_port: u16,
    gossip_port: u16,
    incarnation: u64,
    persistent: bool,
    departed: bool,
    health: Health,
}

impl DataDir {
    /// Opens (creating it, mode 0700, if needed) the data dir at `path`.
    pub fn open(path: impl Into<PathBuf>) -> io::Result<Self> {
        let path = path.into();
        if !path.exists() {
            fs::create_dir_all(&path)?;
            set_mode(&path, 0o700)?;
        }
        if !path.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("data dir {} is not a directory", path.display()),
            ));
        }
        Ok(DataDir { path })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads every file, moving aside those that cannot be parsed.
    pub fn load(&self) -> Loaded {
        let member_id = self
            .read_json::<MemberFile>(MEMBER_FILE, |f| f.version)
            .and_then(|f| match f.member_id.parse() {
                Ok(id) => Some(id),
                Err(_) => {
                    self.move_aside(MEMBER_FILE, "the member id does not parse");
                    None
                }
            });
        let state = self.read_json::<State>(STATE_FILE, |s| s.version);
        let members = self
            .read_json::<MembersFile>(MEMBERS_FILE, |f| f.version)
            .and_then(|f| {
                let parsed: Option<Vec<Membership>> =
                    f.members.iter().map(MemberRecord::to_membership).collect();
                if parsed.is_none() {
                    self.move_aside(MEMBERS_FILE, "a member record does not parse");
                }
                parsed
            })
            .unwrap_or_default();
        let rumors_path = self.path.join(RUMORS_FILE);
        let _ = fs::remove_file(self.path.join(format!("{RUMORS_FILE}.tmp")));
        let rumors = match fs::read(&rumors_path) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => {
                tracing::warn!(file = %rumors_path.display(), error = %e, "cannot read; ignoring it");
                None
            }
        };
        Loaded {
            member_id,
            state,
            members,
            rumors,
        }
    }

    /// Saves the member id (done once, when it is created).
    pub fn save_member_id(&self, id: MemberId) -> io::Result<()> {
        self.write_json(
            MEMBER_FILE,
            &MemberFile {
                version: FORMAT_VERSION,
                member_id: id.to_string(),
            },
        )
    }

    /// Saves `state.json`.
    pub fn save_state(
        &self,
        incarnation: Incarnation,
        departed_by_operator: bool,
    ) -> io::Result<()> {
        self.write_json(
            STATE_FILE,
            &State {
                version: FORMAT_VERSION,
                incarnation: incarnation.0,
                departed_by_operator,
            },
        )
    }

    /// Saves the member view.
    pub fn save_members(&self, members: &[Membership]) -> io::Result<()> {
        let file = MembersFile {
            version: FORMAT_VERSION,
            members: members.iter().map(MemberRecord::from_membership).collect(),
        };
        self.write_json(MEMBERS_FILE, &file)
    }

    /// Saves the rumor store (the bytes of `RumorStore::export`).
    pub fn save_rumors(&self, bytes: &[u8]) -> io::Result<()> {
        self.write_atomic(RUMORS_FILE, bytes, 0o600)
    }

    /// Writes `bytes` to `name` atomically: temp file, fsync, rename, fsync of the directory.
    pub fn write_atomic(&self, name: &str, bytes: &[u8], mode: u32) -> io::Result<()> {
        let tmp = self.path.join(format!("{name}.tmp"));
        let target = self.path.join(name);
        {
            let mut f = create_with_mode(&tmp, mode)?;
            f.write_all(bytes)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, &target)?;
        File::open(&self.path)?.sync_all()
    }

    /// Moves `name` aside as `name.corrupt-<unix seconds>`, logging why.
    pub fn move_aside(&self, name: &str, why: &str) {
        let from = self.path.join(name);
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let to = self.path.join(format!("{name}.corrupt-{secs}"));
        match fs::rename(&from, &to) {
            Ok(()) => tracing::warn!(
                file = %from.display(),
                moved_to = %to.display(),
                "{why}; moved the file aside and going on without it"
            ),
            Err(e) => tracing::warn!(
                file = %from.display(),
                error = %e,
                "{why}; could not move the file aside, ignoring it"
            ),
        }
    }

    fn write_json<T: Serialize>(&self, name: &str, value: &T) -> io::Result<()> {
        let mut bytes = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
        bytes.push(b'\n');
        self.write_atomic(name, &bytes, 0o600)
    }

    fn read_json<T: DeserializeOwned>(&self, name: &str, version: impl Fn(&T) -> u32) -> Option<T> {
        let path = self.path.join(name);
        let _ = fs::remove_file(self.path.join(format!("{name}.tmp")));
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "cannot read; ignoring it");
                return None;
            }
        };
        match serde_json::from_slice::<T>(&bytes) {
            Ok(v) if version(&v) == FORMAT_VERSION => Some(v),
            Ok(v) => {
                let why = format!("unknown format version {}", version(&v));
                self.move_aside(name, &why);
                None
            }
            Err(e) => {
                self.move_aside(name, &format!("truncated or corrupt ({e})"));
                None
            }
        }
    }
}

impl MemberRecord {
    fn from_membership(m: &Membership) -> Self {
        MemberRecord {
            id: m.member.id.to_string(),
            address: m.member.addr.ip(),
            swim_port: m.member.addr.port(),
            gossip_port: m.member.gossip_port,
            incarnation: m.member.incarnation.0,
            persistent: m.member.persistent,
            departed: m.member.departed,
            health: m.health,
        }
    }

    fn to_membership(&self) -> Option<Membership> {
        Some(Membership {
            member: Member {
                id: self.id.parse().ok()?,
                incarnation: Incarnation(self.incarnation),
                addr: SocketAddr::new(self.address, self.swim_port),
                gossip_port: self.gossip_port,
                persistent: self.persistent,
                departed: self.departed,
            },
            health: self.health,
        })
    }
}

/// Creates (truncating) `path` with permissions `mode` (Unix).
pub fn create_with_mode(path: &Path, mode: u32) -> io::Result<File> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let f = opts.open(path)?;
    set_mode(path, mode)?;
    Ok(f)
}

fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!(
            "swallowtail-persist-{tag}-{}-{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        let _ = fs::remove_dir_all(&p);
        p
    }

    fn sample() -> Membership {
        Membership {
            member: Member::new(
                MemberId::from_u128(42),
                "127.0.0.1:9000".parse().expect("addr"),
            ),
            health: Health::Suspect,
        }
    }

    #[test]
    fn round_trip() {
        let p = temp_dir("rt");
        let dir = DataDir::open(&p).expect("open");
        assert!(dir.load().member_id.is_none());
        dir.save_member_id(MemberId::from_u128(7)).expect("save id");
        dir.save_state(Incarnation(5), false).expect("save state");
        dir.save_members(&[sample()]).expect("save members");
        let l = dir.load();
        assert_eq!(l.member_id, Some(MemberId::from_u128(7)));
        assert_eq!(l.state.map(|s| s.incarnation), Some(5));
        assert_eq!(l.members, vec![sample()]);
        let _ = fs::remove_dir_all(&p);
    }

    #[test]
    fn corrupt_files_are_moved_aside_and_others_survive() {
        let p = temp_dir("corrupt");
        let dir = DataDir::open(&p).expect("open");
        dir.save_member_id(MemberId::from_u128(7)).expect("save id");
        dir.save_members(&[sample()]).expect("save members");
        fs::write(p.join(STATE_FILE), b"{\"version\": 1, \"incarn").expect("truncate");
        let l = dir.load();
        assert_eq!(l.member_id, Some(MemberId::from_u128(7)));
        assert!(l.state.is_none());
        assert_eq!(l.members.len(), 1);
        assert!(!p.join(STATE_FILE).exists());
        let aside = fs::read_dir(&p)
            .expect("list")
            .filter_map(Result::ok)
            .any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("state.json.corrupt-")
            });
        assert!(aside);

        fs::write(
            p.join(MEMBER_FILE),
            b"{\"version\": 9, \"member_id\": \"x\"}",
        )
        .expect("w");
        fs::write(p.join(MEMBERS_FILE), b"\0\0\0garbage").expect("w");
        let l = dir.load();
        assert!(l.member_id.is_none());
        assert!(l.members.is_empty());
        let _ = fs::remove_dir_all(&p);
    }
}
