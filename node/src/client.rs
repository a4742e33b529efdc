//! The subcommands that talk to a node's gateway (hyper's HTTP/1 client on smol).

use std::fmt::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use smol::net::TcpStream;
use smol_hyper::rt::FuturesIo;

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use super::cli::{
    CliCommand, ClientArgs, ConfigCommand, FileCommand, KeyCommand, PayloadArgs, SealArgs,
    ServiceCommand,
};
use super::secret::{self, Secret};
use super::transport::pool::timeout;
use crate::key_files::{
    generate_box_key_files, generate_operator_key_files, generate_ring_key_file,
    read_box_public_key, read_box_secret_key, read_operator_secret_key, read_ring_key,
    KeyFileError,
};
use engine::crypto::{Revision, SealedBox};
use engine::rumor::ServiceGroup;

/// How long a subcommand waits for the gateway.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read.
const MAX_ANSWER: usize = 64 * 1024 * 1024;

/// A subcommand's failure, printed for the operator.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The gateway could not be reached or did not answer in time.
    #[error("cannot reach the gateway at {0}: {1}")]
    Unreachable(String, String),
    /// The gateway answered with an error status.
    #[error("the gateway refused ({status}): {message}")]
    Refused {
        /// HTTP status.
        status: StatusCode,
        /// The gateway's `error` text.
        message: String,
    },
    /// No control secret was given.
    #[error(
        "no control secret: pass --data-dir DIR of the node, --ctl-secret, or set {}",
        secret::ENV
    )]
    NoSecret,
    /// A local file could not be read, or the secret is malformed.
    #[error("{0}")]
    Local(String),
}

/// Runs a gateway subcommand (anything but `run`); returns what to print.
pub async fn execute(command: CliCommand) -> Result<String, ClientError> {
    match command {
        CliCommand::Run(_) => Err(ClientError::Local("`run` is not a client command".into())),
        CliCommand::Members { json, client } => {
            let body = request(&client, Method::GET, "/butterfly", None, Vec::new()).await?;
            if json {
                return Ok(String::from_utf8_lossy(&body).into_owned());
            }
            let v: serde_json::Value = serde_json::from_slice(&body)
                .map_err(|e| ClientError::Local(format!("the gateway sent invalid JSON: {e}")))?;
            Ok(members_table(&v))
        }
        CliCommand::Depart {
            member_id,
            operator_secret,
            client,
        } => {
            let token = token(&client)?;
            // The signature (base64) is the body; none asks for an unsigned departure, which
            // only nodes with --trust-unsigned-departures take.
            let body = match &operator_secret {
                None => Vec::new(),
                Some(path) => {
                    let member: engine::MemberId = member_id.parse().map_err(|_| {
                        ClientError::Local("the member id must be 32 hex digits".into())
                    })?;
                    let key = read_operator_secret_key(path)
                        .map_err(|e| ClientError::Local(e.to_string()))?;
                    use base64::Engine as _;
                    base64::engine::general_purpose::STANDARD
                        .encode(key.sign_departure(member))
                        .into_bytes()
                }
            };
            let path = format!("/depart/{member_id}");
            request(&client, Method::POST, &path, Some(&token), body).await?;
            Ok(format!("departed {member_id}"))
        }
        CliCommand::Config(ConfigCommand::Apply(args)) => {
            let sealed = send_payload(&args, |group, version, encrypted| {
                format!("/config/{group}?version={version}{encrypted}")
            })
            .await?;
            Ok(format!(
                "applied config version {} to {}{}",
                args.version,
                args.group,
                sealed_note(sealed)
            ))
        }
        CliCommand::File(FileCommand::Upload(args)) => {
            let name = args
                .file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .ok_or_else(|| {
                    ClientError::Local(format!("{} has no file name", args.file.display()))
                })?;
            let sealed = send_payload(&args, |group, version, encrypted| {
                format!("/file/{group}/{name}?version={version}{encrypted}")
            })
            .await?;
            Ok(format!(
                "uploaded {name} version {} to {}{}",
                args.version,
                args.group,
                sealed_note(sealed)
            ))
        }
        CliCommand::Key(key) => key_command(key).await,
        CliCommand::Service(ServiceCommand::Announce {
            group,
            topology,
            client,
        }) => {
            let token = token(&client)?;
            request(
                &client,
                Method::POST,
                &format!("/service/{group}/announce?topology={}", topology.as_str()),
                Some(&token),
                Vec::new(),
            )
            .await?;
            Ok(format!("announced {group}"))
        }
        CliCommand::Service(ServiceCommand::Withdraw { group, client }) => {
            let token = token(&client)?;
            request(
                &client,
                Method::POST,
                &format!("/service/{group}/withdraw"),
                Some(&token),
                Vec::new(),
            )
            .await?;
            Ok(format!("withdrew {group}"))
        }
    }
}

async fn key_command(command: KeyCommand) -> Result<String, ClientError> {
    let local = |e: KeyFileError| ClientError::Local(e.to_string());
    match command {
        KeyCommand::Generate { ring, out } => {
            let (path, key) =
                generate_ring_key_file(&out, &ring, wall_clock_revision(), &mut os_rng()?)
                    .map_err(local)?;
            Ok(format!(
                "wrote ring key {} to {} (mode 0600; copy it to every member, start them with --ring-key)",
                key.name(),
                path.display()
            ))
        }
        KeyCommand::GenerateService { group, out } => {
            group
                .parse::<ServiceGroup>()
                .map_err(|e| ClientError::Local(format!("bad service group {group:?}: {e}")))?;
            let (public, secret, _) =
                generate_box_key_files(&out, &group, wall_clock_revision(), &mut os_rng()?)
                    .map_err(local)?;
            Ok(format!(
                "wrote {} (public: for --encrypt-to) and {} (secret, mode 0600: for the group's nodes, --service-key)",
                public.display(),
                secret.display()
            ))
        }
        KeyCommand::GenerateOperator { name, out } => {
            let (public, secret) =
                generate_operator_key_files(&out, &name, wall_clock_revision(), &mut os_rng()?)
                    .map_err(local)?;
            Ok(format!(
                "wrote {} (public: for the nodes, --operator-key) and {} (secret, mode 0600: for depart --operator-secret)",
                public.display(),
                secret.display()
            ))
        }
        KeyCommand::GenerateUser { name, out } => {
            let (public, secret, _) =
                generate_box_key_files(&out, &name, wall_clock_revision(), &mut os_rng()?)
                    .map_err(local)?;
            Ok(format!(
                "wrote {} (public: for the nodes, --user-public-key) and {} (secret, mode 0600: for --user)",
                public.display(),
                secret.display()
            ))
        }
        KeyCommand::List { client } => {
            let body = request(&client, Method::GET, "/ring-keys", None, Vec::new()).await?;
            Ok(String::from_utf8_lossy(&body).trim_end().to_owned())
        }
        KeyCommand::Install { file, client } => {
            let token = token(&client)?;
            let key = read_ring_key(&file).map_err(local)?;
            let body = request(
                &client,
                Method::POST,
                "/ring-keys",
                Some(&token),
                key.to_text().into_bytes(),
            )
            .await?;
            Ok(String::from_utf8_lossy(&body).trim_end().to_owned())
        }
        KeyCommand::Use { name, client } => {
            let token = token(&client)?;
            let path = format!("/ring-keys/primary/{name}");
            let body = request(&client, Method::POST, &path, Some(&token), Vec::new()).await?;
            Ok(String::from_utf8_lossy(&body).trim_end().to_owned())
        }
        KeyCommand::Remove { name, client } => {
            let token = token(&client)?;
            let path = format!("/ring-keys/remove/{name}");
            let body = request(&client, Method::POST, &path, Some(&token), Vec::new()).await?;
            Ok(String::from_utf8_lossy(&body).trim_end().to_owned())
        }
    }
}

/// The key revision for now (UTC `%Y%m%d%H%M%S`).
fn wall_clock_revision() -> Revision {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Revision::from_unix_seconds(secs)
}

/// A generator seeded from the operating system.
fn os_rng() -> Result<ChaCha20Rng, ClientError> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed)
        .map_err(|e| ClientError::Local(format!("cannot get randomness: {e}")))?;
    Ok(ChaCha20Rng::from_seed(seed))
}

/// Seals `plain` to `--encrypt-to` from `--user` when given; `(body, sealed)`.
fn seal_payload(plain: Vec<u8>, seal: &SealArgs) -> Result<(Vec<u8>, bool), ClientError> {
    let (Some(to), Some(user)) = (&seal.encrypt_to, &seal.user) else {
        return Ok((plain, false));
    };
    let local = |e: KeyFileError| ClientError::Local(e.to_string());
    let receiver = read_box_public_key(to).map_err(local)?;
    let sender = read_box_secret_key(user).map_err(local)?;
    let sealed = SealedBox::seal(&plain, &sender, &receiver, &mut os_rng()?)
        .map_err(|e| ClientError::Local(format!("cannot seal: {e}")))?;
    Ok((sealed.to_bytes(), true))
}

/// Reads the payload's file, seals it when asked, and POSTs it to the path that `path` makes of
/// the group, the version and the query that marks a sealed payload; says whether it sealed.
async fn send_payload(
    args: &PayloadArgs,
    path: impl FnOnce(&str, u64, &str) -> String,
) -> Result<bool, ClientError> {
    let token = token(&args.client)?;
    let (body, sealed) = seal_payload(read_file(&args.file)?, &args.seal)?;
    let path = path(&args.group, args.version, encrypted_query(sealed));
    request(&args.client, Method::POST, &path, Some(&token), body).await?;
    Ok(sealed)
}

fn sealed_note(sealed: bool) -> &'static str {
    if sealed {
        " (encrypted)"
    } else {
        ""
    }
}

fn encrypted_query(sealed: bool) -> &'static str {
    if sealed {
        "&encrypted=true"
    } else {
        ""
    }
}

fn read_file(path: &std::path::Path) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path)
        .map_err(|e| ClientError::Local(format!("cannot read {}: {e}", path.display())))
}

fn token(client: &ClientArgs) -> Result<String, ClientError> {
    if let Some(t) = &client.ctl_secret {
        return Secret::parse(t)
            .map(|s| s.token().to_owned())
            .ok_or_else(|| ClientError::Local("the control secret is malformed".into()));
    }
    match &client.data_dir {
        Some(dir) => Secret::read(dir)
            .map(|s| s.token().to_owned())
            .map_err(|e| {
                ClientError::Local(format!(
                    "cannot read the control secret from {}: {e}",
                    dir.join(secret::FILE).display()
                ))
            }),
        None => Err(ClientError::NoSecret),
    }
}

/// One request to the gateway; the answer's body if the status is a success.
pub async fn request(
    client: &ClientArgs,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Vec<u8>,
) -> Result<Bytes, ClientError> {
    let addr = client.http.clone();
    let unreachable = |e: String| ClientError::Unreachable(addr.clone(), e);
    let exchange = async {
        let stream = TcpStream::connect(addr.as_str())
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(FuturesIo::new(stream))
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let driver = smol::spawn(async move {
            let _ = conn.await;
        });
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, addr.as_str())
            .header(CONTENT_TYPE, "application/octet-stream");
        if let Some(t) = token {
            req = req.header(AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| ClientError::Local(format!("bad request: {e}")))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let status = resp.status();
        let bytes = Limited::new(resp.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| unreachable(e.to_string()))?
            .to_bytes();
        drop(driver);
        Ok((status, bytes))
    };
    let (status, bytes) = match timeout(REQUEST_TIMEOUT, exchange).await {
        Some(r) => r?,
        None => return Err(unreachable("no answer in time".into())),
    };
    if status.is_success() {
        return Ok(bytes);
    }
    let message = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
    Err(ClientError::Refused { status, message })
}

/// `members` as a table: this node first (marked `*`), then the others by id.
pub fn members_table(v: &serde_json::Value) -> String {
    let me = v.get("member_id").and_then(|m| m.as_str()).unwrap_or("");
    let mut rows: Vec<(bool, String, &serde_json::Value)> = v
        .get("membership")
        .and_then(|m| m.as_object())
        .map(|m| m.iter().map(|(id, r)| (id != me, id.clone(), r)).collect())
        .unwrap_or_default();
    rows.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "  {:<32}  {:<21}  {:>11}  {:<10}  HEALTH",
        "MEMBER", "ADDRESS", "INCARNATION", "PERSISTENT"
    );
    for (other, id, r) in rows {
        let s = |k: &str| {
            r.get(k).map_or(String::new(), |x| {
                x.as_str().map_or(x.to_string(), str::to_owned)
            })
        };
        let addr = format!("{}:{}", s("address"), s("swim_port"));
        let persistent = if r.get("persistent").and_then(|p| p.as_bool()) == Some(true) {
            "yes"
        } else {
            "no"
        };
        let _ = writeln!(
            out,
            "{} {:<32}  {:<21}  {:>11}  {:<10}  {}",
            if other { ' ' } else { '*' },
            id,
            addr,
            s("incarnation"),
            persistent,
            s("health")
        );
    }
    out.pop();
    out
}
