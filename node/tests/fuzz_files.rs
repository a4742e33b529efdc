//! Fuzzing the files a node reads at start (proptest, a bounded number of cases): whatever
//! bytes stand in member.json, state.json, members.json, rumors.pb or a key file, loading never
//! panics, a file that does not parse is moved aside, and the other files still load.

use std::fs;
use std::path::PathBuf;

use node::key_files::{load_keyring, read_box_public_key, read_box_secret_key, read_ring_key};
use node::persist::{DataDir, RUMORS_FILE};
use proptest::prelude::*;

struct Dir(PathBuf);

impl Dir {
    fn new() -> Dir {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let p = std::env::temp_dir().join(format!("st-fuzz-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        Dir(p)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

const FILES: [&str; 4] = ["member.json", "state.json", "members.json", RUMORS_FILE];

/// Bytes that look like the files: valid JSON/protobuf shapes cut and flipped, or noise.
fn contents() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..400),
        "\\{\"version\": ?[0-9]{1,3}, \"(member_id|incarnation|members)\": .{0,60}\\}?"
            .prop_map(String::into_bytes),
        (prop::collection::vec(any::<u8>(), 0..300), any::<u32>()).prop_map(|(body, crc)| {
            let mut b = b"STRUMOR1".to_vec();
            b.extend_from_slice(&(body.len() as u64).to_le_bytes());
            b.extend_from_slice(&crc.to_le_bytes());
            b.extend(body);
            b
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_data_dir_contents_load_without_panic(which in 0..FILES.len(), bytes in contents()) {
        let dir = Dir::new();
        let data = DataDir::open(&dir.0).expect("open");
        data.save_member_id("0123456789abcdef0123456789abcdef".parse().expect("id"))
            .expect("save");
        fs::write(dir.0.join(FILES[which]), &bytes).expect("write");
        let loaded = data.load();
        if FILES[which] != "member.json" {
            prop_assert!(loaded.member_id.is_some(), "one bad file never costs the others");
        }
        // Either the file loaded, or it was moved aside.
        let present = dir.0.join(FILES[which]).exists();
        let aside = fs::read_dir(&dir.0)
            .expect("list")
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().contains(".corrupt-"));
        prop_assert!(present || aside);
    }

    #[test]
    fn any_key_file_reads_or_is_refused(bytes in prop::collection::vec(any::<u8>(), 0..300),
                                        header in "(SYM-SEC-1|BOX-SEC-1|BOX-PUB-1)\n[a-z0-9-]{0,30}\n\n") {
        let dir = Dir::new();
        fs::create_dir_all(&dir.0).expect("mkdir");
        for (i, content) in [bytes.clone(), [header.as_bytes(), &bytes].concat()].iter().enumerate() {
            let path = dir.0.join(format!("k{i}.sym.key"));
            fs::write(&path, content).expect("write");
            let _ = read_ring_key(&path);
            let _ = read_box_public_key(&path);
            let _ = read_box_secret_key(&path);
            let _ = node::key_files::read_operator_public_key(&path);
            let _ = node::key_files::read_operator_secret_key(&path);
            let _ = load_keyring(&[&path]);
        }
        let _ = load_keyring(&[&dir.0]);
    }
}
