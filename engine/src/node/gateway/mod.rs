//! The HTTP gateway (hyper 1 on smol through `smol-hyper`).
//!
//! | request                                   | answer                                         |
//! |-------------------------------------------|------------------------------------------------|
//! | `GET /`                                   | a small HTML page of the ring, refreshing itself |
//! | `GET /butterfly`                          | JSON: `member_id`, `membership`                |
//! | `GET /census`, `GET /services`            | 501 until the engine has rumors                |
//! | `GET /metrics`                            | Prometheus text                                |
//! | `POST /depart/{member_id}`                | depart a member (this one now; others with departure rumors) |
//! | `POST /config/{group}?version=N` + body   | apply a service config (501 until rumors)      |
//! | `POST /file/{group}/{name}?version=N` + body | upload a file (501 until rumors)            |
//! | `POST /service/{group}/announce`, `/withdraw` | announce / withdraw a service group (501 until rumors) |
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

use super::control::{Command, ControlError, RumorAction, Snapshot};
use super::driver::Input;
use super::secret::Secret;
use super::transport::pool::timeout;
use crate::id::MemberId;

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
                    "request body too large or broken",
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
        ["census"] => unsupported("the census (service rumors)"),
        ["services"] => unsupported("service groups (service rumors)"),
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
            let (reply, rx) = smol::channel::bounded(1);
            return command(control, Command::Depart { member, reply }, rx).await;
        }
        ["config", group] => match (valid_group(group), version(query)) {
            (Ok(group), Ok(version)) => RumorAction::ApplyConfig {
                group,
                version,
                body: body.to_vec(),
            },
            (Err(m), _) | (_, Err(m)) => return error(StatusCode::BAD_REQUEST, m),
        },
        ["file", group, filename] => {
            if filename.is_empty() || filename.contains("..") || filename.len() > 255 {
                return error(StatusCode::BAD_REQUEST, "bad file name");
            }
            match (valid_group(group), version(query)) {
                (Ok(group), Ok(version)) => RumorAction::UploadFile {
                    group,
                    filename: (*filename).to_owned(),
                    version,
                    body: body.to_vec(),
                },
                (Err(m), _) | (_, Err(m)) => return error(StatusCode::BAD_REQUEST, m),
            }
        }
        ["service", group, op @ ("announce" | "withdraw")] => match valid_group(group) {
            Ok(group) if *op == "announce" => RumorAction::AnnounceService { group },
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
        Some(Ok(Err(ControlError::Unsupported(what)))) => unsupported(what),
        Some(Ok(Err(ControlError::Rejected(why)))) => error(StatusCode::CONFLICT, &why),
        Some(Ok(Err(ControlError::ShuttingDown))) | Some(Err(_)) | None => error(
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

fn unsupported(what: &str) -> Reply {
    error(
        StatusCode::NOT_IMPLEMENTED,
        &format!("{what} is not yet supported by this engine"),
    )
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
