//! The HTTP gateway (hyper 1 on smol through `smol-hyper`).
//!
//! | request                                   | answer                                         |
//! |-------------------------------------------|------------------------------------------------|
//! | `GET /`                                   | the ring at a glance (HTML, redraws itself from `/butterfly` and `/census`) |
//! | `GET /butterfly`                          | JSON: `member_id`, `membership`, `services`, `configs`, `files`, `elections`, `departures` |
//! | `GET /census`                             | JSON: per service group its members, config, files, leaders (sealed payloads opened with `--service-key`) |
//! | `GET /services`                           | JSON: every service a member runs, with its health |
//! | `GET /metrics`                            | Prometheus text                                |
//! | `GET /ring-keys`                          | JSON: the ring keys' names and the primary     |
//! | `POST /depart/{member_id}`                | depart a member for good (a Departure rumor; this node stops if it is itself) |
//! | `POST /config/{group}?version=N[&encrypted=true]` + body | apply a service config (a sealed `BOX-1` body with `encrypted`) |
//! | `POST /file/{group}/{name}?version=N[&encrypted=true]` + body | upload a file               |
//! | `POST /service/{group}/announce[?topology=leader]`, `/withdraw` | announce / withdraw a service group this node runs |
//! | `POST /ring-keys` + SYM-SEC-1 key text    | install a ring key (the primary unchanged)     |
//! | `POST /ring-keys/primary/{NAME-REV}`      | make a held ring key the one that seals        |
//! | `POST /ring-keys/remove/{NAME-REV}`       | remove a ring key (not the primary)            |
//!
//! Every `POST` needs `Authorization: Bearer <control secret>`; without it the answer is 401
//! and nothing changes. Errors are JSON: `{"error": "..."}`. Connections are bounded in
//! number, header read time and lifetime; bodies in size.

pub mod render;

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;
use smol::channel::Sender;
use smol::net::TcpListener;
use smol_hyper::rt::{FuturesIo, SmolTimer};

use super::control::{Command, ControlError, RingKeyAction, RumorAction, Snapshot};
use super::driver::Input;
use super::secret::Secret;
use super::transport::pool::timeout;
use engine::crypto::{KeyName, RingKey, SealedBox};
use engine::id::MemberId;
use engine::rumor::Topology;

/// The largest request body accepted (a service config or file, plus headroom).
pub const MAX_BODY: usize = 1024 * 1024;
/// Connections served at once; more are closed at once.
pub const MAX_CONNECTIONS: usize = 256;
/// The longest a connection may stay open.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(120);

type Reply = Response<Full<Bytes>>;

/// Serves the gateway on `listener` forever.
pub async fn serve(listener: TcpListener, control: Sender<Input>, secret: Secret) {
    let open = Arc::new(AtomicUsize::new(0));
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "gateway accept failed");
                smol::Timer::after(Duration::from_millis(100)).await;
                continue;
            }
        };
        if open.load(Ordering::Relaxed) >= MAX_CONNECTIONS {
            continue;
        }
        open.fetch_add(1, Ordering::Relaxed);
        let (control, secret, open) = (control.clone(), secret.clone(), open.clone());
        smol::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let (control, secret) = (control.clone(), secret.clone());
                async move { Ok::<_, Infallible>(handle(req, &control, &secret).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(SmolTimer::new())
                .header_read_timeout(Duration::from_secs(5))
                .max_buf_size(64 * 1024)
                .serve_connection(FuturesIo::new(stream), service);
            let _ = timeout(CONNECTION_LIFETIME, conn).await;
            open.fetch_sub(1, Ordering::Relaxed);
        })
        .detach();
    }
}

async fn handle(req: Request<Incoming>, control: &Sender<Input>, secret: &Secret) -> Reply {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let segments: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let query = parts.uri.query().unwrap_or("");
    if parts.method == Method::POST {
        if !secret.authorizes(parts.headers.get(AUTHORIZATION).map(HeaderValue::as_bytes)) {
            return error(
                StatusCode::UNAUTHORIZED,
                "missing or wrong control secret (Authorization: Bearer <ctl_secret>)",
            );
        }
        let body = match Limited::new(body, MAX_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => {
                return error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &format!(
                    "request body larger than the gateway's limit of {MAX_BODY} bytes, or broken"
                ),
                )
            }
        };
        return post(&segments, query, body, control).await;
    }
    if parts.method != Method::GET && parts.method != Method::HEAD {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET and POST are served",
        );
    }
    match segments.as_slice() {
        [] => match snapshot(control).await {
            Ok(s) => respond(StatusCode::OK, "text/html; charset=utf-8", render::page(&s)),
            Err(r) => r,
        },
        ["butterfly"] => match snapshot(control).await {
            Ok(s) => json_reply(StatusCode::OK, &render::butterfly(&s)),
            Err(r) => r,
        },
        ["metrics"] => match snapshot(control).await {
            Ok(s) => respond(
                StatusCode::OK,
                "text/plain; version=0.0.4",
                render::metrics(&s),
            ),
            Err(r) => r,
        },
        ["census"] => match snapshot(control).await {
            Ok(s) => json_reply(StatusCode::OK, &render::census(&s)),
            Err(r) => r,
        },
        ["services"] => match snapshot(control).await {
            Ok(s) => json_reply(StatusCode::OK, &render::services(&s)),
            Err(r) => r,
        },
        ["ring-keys"] => ring_keys(control, RingKeyAction::List).await,
        _ => error(StatusCode::NOT_FOUND, "no such resource"),
    }
}

async fn post(segments: &[&str], query: &str, body: Bytes, control: &Sender<Input>) -> Reply {
    let action = match segments {
        ["depart", id] => {
            let member: MemberId = match id.parse() {
                Ok(m) => m,
                Err(_) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "the member id must be 32 hex digits",
                    )
                }
            };
            // The body is empty (an unsigned departure) or an operator key's signature of it,
            // in base64.
            let signature = match departure_signature(&body) {
                Ok(s) => s,
                Err(why) => return error(StatusCode::BAD_REQUEST, why),
            };
            let (reply, rx) = smol::channel::bounded(1);
            return command(
                control,
                Command::Depart {
                    member,
                    signature,
                    reply,
                },
                rx,
            )
            .await;
        }
        ["ring-keys"] => {
            let key = std::str::from_utf8(&body)
                .map_err(|_| "the key must be SYM-SEC-1 text".to_owned())
                .and_then(|t| RingKey::parse(t).map_err(|e| format!("not a ring key: {e}")));
            return match key {
                Ok(k) => ring_keys(control, RingKeyAction::Install(k)).await,
                Err(m) => error(StatusCode::BAD_REQUEST, &m),
            };
        }
        ["ring-keys", op @ ("primary" | "remove"), name] => {
            let Ok(name) = name.parse::<KeyName>() else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "the key name must be NAME-REVISION (e.g. prod-20260101000000)",
                );
            };
            let action = if *op == "primary" {
                RingKeyAction::Use(name)
            } else {
                RingKeyAction::Remove(name)
            };
            return ring_keys(control, action).await;
        }
        ["config", group] => match (valid_group(group), version(query), sealed(query, &body)) {
            (Ok(group), Ok(version), Ok(encrypted)) => RumorAction::ApplyConfig {
                group,
                version,
                body: body.to_vec(),
                encrypted,
            },
            (Err(m), _, _) | (_, Err(m), _) | (_, _, Err(m)) => {
                return error(StatusCode::BAD_REQUEST, m)
            }
        },
        ["file", group, filename] => {
            if filename.is_empty() || filename.contains("..") || filename.len() > 255 {
                return error(StatusCode::BAD_REQUEST, "bad file name");
            }
            match (valid_group(group), version(query), sealed(query, &body)) {
                (Ok(group), Ok(version), Ok(encrypted)) => RumorAction::UploadFile {
                    group,
                    filename: (*filename).to_owned(),
                    version,
                    body: body.to_vec(),
                    encrypted,
                },
                (Err(m), _, _) | (_, Err(m), _) | (_, _, Err(m)) => {
                    return error(StatusCode::BAD_REQUEST, m)
                }
            }
        }
        ["service", group, op @ ("announce" | "withdraw")] => match valid_group(group) {
            Ok(group) if *op == "announce" => {
                let topology = match query.split('&').find_map(|kv| kv.strip_prefix("topology=")) {
                    None | Some("standalone") => Topology::Standalone,
                    Some("leader") => Topology::Leader,
                    Some(_) => {
                        return error(
                            StatusCode::BAD_REQUEST,
                            "topology must be standalone or leader",
                        )
                    }
                };
                RumorAction::AnnounceService { group, topology }
            }
            Ok(group) => RumorAction::WithdrawService { group },
            Err(m) => return error(StatusCode::BAD_REQUEST, m),
        },
        _ => return error(StatusCode::NOT_FOUND, "no such action"),
    };
    let (reply, rx) = smol::channel::bounded(1);
    command(control, Command::Rumor { action, reply }, rx).await
}

async fn command(
    control: &Sender<Input>,
    cmd: Command,
    rx: smol::channel::Receiver<Result<(), ControlError>>,
) -> Reply {
    if !matches!(
        timeout(Duration::from_secs(2), control.send(Input::Control(cmd))).await,
        Some(Ok(()))
    ) {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the node is busy or shutting down",
        );
    }
    match timeout(Duration::from_secs(5), rx.recv()).await {
        Some(Ok(Ok(()))) => json_reply(StatusCode::OK, &json!({"ok": true})),
        Some(Ok(Err(e))) => control_error(&e),
        Some(Err(_)) | None => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the node is busy or shutting down",
        ),
    }
}

fn control_error(e: &ControlError) -> Reply {
    match e {
        ControlError::TooLarge(why) => error(StatusCode::PAYLOAD_TOO_LARGE, why),
        ControlError::NotFound(why) => error(StatusCode::NOT_FOUND, why),
        ControlError::Rejected(why) => error(StatusCode::CONFLICT, why),
        ControlError::Forbidden(why) => error(StatusCode::FORBIDDEN, why),
        ControlError::NotSaved { full: true, .. } => {
            error(StatusCode::INSUFFICIENT_STORAGE, &e.to_string())
        }
        ControlError::NotSaved { full: false, .. } => {
            error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())
        }
        ControlError::ShuttingDown => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the node is busy or shutting down",
        ),
    }
}

async fn ring_keys(control: &Sender<Input>, action: RingKeyAction) -> Reply {
    let (reply, rx) = smol::channel::bounded(1);
    if !matches!(
        timeout(
            Duration::from_secs(2),
            control.send(Input::Control(Command::RingKeys { action, reply }))
        )
        .await,
        Some(Ok(()))
    ) {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the node is busy or shutting down",
        );
    }
    match timeout(Duration::from_secs(5), rx.recv()).await {
        Some(Ok(Ok(view))) => json_reply(
            StatusCode::OK,
            &json!({ "keys": view.keys, "primary": view.primary }),
        ),
        Some(Ok(Err(e))) => control_error(&e),
        Some(Err(_)) | None => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the node is busy or shutting down",
        ),
    }
}

async fn snapshot(control: &Sender<Input>) -> Result<Snapshot, Reply> {
    let (tx, rx) = smol::channel::bounded(1);
    let busy = || {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the node is busy or shutting down",
        )
    };
    match timeout(
        Duration::from_secs(2),
        control.send(Input::Control(Command::Snapshot(tx))),
    )
    .await
    {
        Some(Ok(())) => {}
        _ => return Err(busy()),
    }
    match timeout(Duration::from_secs(5), rx.recv()).await {
        Some(Ok(s)) => Ok(s),
        _ => Err(busy()),
    }
}

/// A service group is `service.group` (Habitat's form), each part letters, digits, `-`, `_`.
fn valid_group(group: &str) -> Result<String, &'static str> {
    let ok_part = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    match group.split_once('.') {
        Some((a, b)) if ok_part(a) && ok_part(b) && group.len() <= 255 => Ok(group.to_owned()),
        _ => Err("the group must look like service.group"),
    }
}

fn version(query: &str) -> Result<u64, &'static str> {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix("version="))
        .and_then(|v| v.parse().ok())
        .ok_or("a numeric ?version=N is required")
}

/// `encrypted=true` (or `1`) in the query: the body must be a sealed `BOX-1` payload.
fn sealed(query: &str, body: &[u8]) -> Result<bool, &'static str> {
    let encrypted = query
        .split('&')
        .any(|kv| kv == "encrypted=true" || kv == "encrypted=1");
    if encrypted && SealedBox::parse(body).is_err() {
        return Err("with encrypted=true the body must be a sealed BOX-1 payload");
    }
    Ok(encrypted)
}

fn error(status: StatusCode, message: &str) -> Reply {
    json_reply(
        status,
        &json!({ "error": message, "status": status.as_u16() }),
    )
}

fn json_reply(status: StatusCode, v: &serde_json::Value) -> Reply {
    let mut text = serde_json::to_string_pretty(v).unwrap_or_else(|_| "{}".into());
    text.push('\n');
    respond(status, "application/json", text)
}

fn respond(status: StatusCode, content_type: &'static str, body: String) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// The signature of a departure request's body: none for an empty body, else 64 bytes in
/// base64.
fn departure_signature(body: &[u8]) -> Result<Option<[u8; 64]>, &'static str> {
    use base64::Engine as _;
    let text = std::str::from_utf8(body).map_err(|_| "the signature must be base64 text")?;
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| "the signature must be base64 text")?;
    let signature: [u8; 64] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| "the signature must be 64 bytes (an Ed25519 signature)")?;
    Ok(Some(signature))
}
