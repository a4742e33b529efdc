//! Cross-checks swallowtail's crypto with libsodium itself, through PyNaCl: a secretbox and a
//! box sealed here open in PyNaCl, and ones sealed by PyNaCl open here. Keys cross over in
//! their text formats, and the box travels in its `BOX-1` text form.
//!
//! Needs `python3` with PyNaCl (`pip install pynacl`; `.ci/run` installs it). Without them the
//! test fails under CI (`CI=true`) and is skipped with a printed reason elsewhere.

use std::io::Write;
use std::process::{Command, Stdio};

use engine::crypto::{BoxPublicKey, BoxSecretKey, KeyName, RingKey, SealedBox};
use rand::SeedableRng;

/// Reads `key=hex` lines; answers with `key=hex` lines.
const SCRIPT: &str = r#"
import base64, sys
import nacl.bindings as b
from nacl.public import Box, PrivateKey, PublicKey
from nacl.secret import SecretBox
from nacl.utils import random

inp = dict(line.strip().split("=", 1) for line in sys.stdin if "=" in line)
h = lambda k: bytes.fromhex(inp[k])
out = {}

# A ring key, from its SYM-SEC-1 text.
lines = h("ring_key_text").decode().split("\n")
assert lines[0] == "SYM-SEC-1" and lines[2] == "", lines
ring = SecretBox(base64.b64decode(lines[3]))
# The secretbox sealed by swallowtail (tag || ciphertext, libsodium's easy form).
out["sb_opened"] = ring.decrypt(h("sb_sealed"), h("sb_nonce"))
# One sealed by libsodium.
nonce = random(24)
out["py_sb_nonce"] = nonce
out["py_sb_sealed"] = b.crypto_secretbox(b"sealed by libsodium", nonce, bytes(ring))

# Box keys, from their BOX-SEC-1 / BOX-PUB-1 texts.
def key(name):
    lines = h(name).decode().split("\n")
    return lines[1], base64.b64decode(lines[3])
service_name, service_sk = key("service_sk_text")
user_name, user_pk = key("user_pk_text")
_, user_sk = key("user_sk_text")
out["py_service_pk"] = bytes(PrivateKey(service_sk).public_key)

# The BOX-1 payload sealed by swallowtail from the user to the service.
lines = h("box_text").decode().split("\n")
assert lines[0] == "BOX-1" and lines[1] == user_name and lines[2] == service_name, lines
out["box_opened"] = Box(PrivateKey(service_sk), PublicKey(user_pk)).decrypt(
    base64.b64decode(lines[4]), base64.b64decode(lines[3]))
# One sealed by libsodium, in the same text form.
nonce = random(24)
sealed = Box(PrivateKey(user_sk), PrivateKey(service_sk).public_key).encrypt(
    b"port = 6380 # from libsodium", nonce).ciphertext
out["py_box_text"] = "\n".join(["BOX-1", user_name, service_name,
    base64.b64encode(nonce).decode(), base64.b64encode(sealed).decode()]).encode()

for k, v in out.items():
    print(f"{k}={v.hex()}")
"#;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex from the script"))
        .collect()
}

/// `Some(reason)` when PyNaCl cannot be run here.
fn pynacl_missing() -> Option<String> {
    match Command::new("python3")
        .args(["-c", "import nacl.bindings"])
        .output()
    {
        Err(e) => Some(format!("python3 cannot be run: {e}")),
        Ok(o) if !o.status.success() => Some(format!(
            "PyNaCl is not installed (pip install pynacl): {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Ok(_) => None,
    }
}

#[test]
fn secretbox_and_box_interoperate_with_libsodium() {
    if let Some(reason) = pynacl_missing() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("the libsodium cross-check cannot run under CI: {reason}");
        }
        println!("skipped: {reason}");
        return;
    }
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(0x5eed);
    let name = |s: &str| -> KeyName { s.parse().expect("name") };
    let ring = RingKey::generate(name("prod-20240102030405"), &mut rng);
    let service = BoxSecretKey::generate(name("redis.default@acme-20240102030405"), &mut rng);
    let user = BoxSecretKey::generate(name("alice-20240102030405"), &mut rng);

    let sb_nonce = [0x17u8; 24];
    let sb_plain = b"sealed by swallowtail: a whole SWIM datagram fits here".repeat(3);
    let sb_sealed = ring.seal(&sb_nonce, &sb_plain);
    let box_plain = b"port = 6379\nmaxmemory = \"64mb\"\n".to_vec();
    let sealed_box =
        SealedBox::seal(&box_plain, &user, &service.public_key(), &mut rng).expect("seal");

    let input = [
        ("ring_key_text", ring.to_text().into_bytes()),
        ("sb_nonce", sb_nonce.to_vec()),
        ("sb_sealed", sb_sealed),
        ("service_sk_text", service.to_text().into_bytes()),
        ("user_pk_text", user.public_key().to_text().into_bytes()),
        ("user_sk_text", user.to_text().into_bytes()),
        ("box_text", sealed_box.to_bytes()),
    ]
    .iter()
    .map(|(k, v)| format!("{k}={}\n", hex(v)))
    .collect::<String>();

    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write to python3");
    let output = child.wait_with_output().expect("python3 runs");
    assert!(
        output.status.success(),
        "the PyNaCl script failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    let get = |k: &str| -> Vec<u8> {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(unhex)
            .unwrap_or_else(|| panic!("the script printed no {k}: {stdout}"))
    };

    // swallowtail → libsodium.
    assert_eq!(get("sb_opened"), sb_plain, "libsodium opened our secretbox");
    assert_eq!(get("box_opened"), box_plain, "libsodium opened our box");
    assert_eq!(
        get("py_service_pk"),
        service.public_key().as_bytes().to_vec(),
        "same public key derivation"
    );

    // libsodium → swallowtail.
    let py_nonce: [u8; 24] = get("py_sb_nonce").try_into().expect("24 bytes");
    assert_eq!(
        ring.open(&py_nonce, &get("py_sb_sealed"))
            .expect("libsodium's secretbox opens"),
        b"sealed by libsodium"
    );
    let py_box = SealedBox::parse(&get("py_box_text")).expect("libsodium's BOX-1 parses");
    let user_pk: BoxPublicKey = user.public_key();
    assert_eq!(
        py_box
            .open(&service, &user_pk)
            .expect("libsodium's box opens"),
        b"port = 6380 # from libsodium"
    );
    // And a wrong key still refuses it.
    let stranger = BoxSecretKey::generate(service.name().clone(), &mut rng);
    assert!(py_box.open(&stranger, &user_pk).is_err());
}
