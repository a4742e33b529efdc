//! The gossip listener: accepts TCP connections on the gossip port and hands every frame to
//! the driver's input queue.
//!
//! Everything a stranger can make it hold is bounded before anything is authenticated (the
//! engine authenticates and decodes; the listener only frames):
//! - connections open at once ([`InboundConfig::max_connections`], derived from the process's
//!   descriptor limit at start) and per source address ([`InboundConfig::max_per_source`]);
//! - frame memory: a frame's bytes are taken from one shared [`FrameBudget`] when its header
//!   announces them and given back when the engine has handled the frame, so the frames being
//!   read plus those queued for the engine never hold more than the budget. A frame's buffer
//!   grows as its bytes arrive, so an announced length costs nothing until it is sent;
//! - time: a connection that has not yet delivered a frame the engine accepted is closed after
//!   [`InboundConfig::untrusted_idle`] without a frame; once one was accepted, after
//!   [`InboundConfig::idle_timeout`]; a frame must arrive whole within
//!   [`InboundConfig::frame_timeout`] of its header;
//! - a connection whose frame the engine dropped as malformed, oversized or unauthenticated is
//!   closed ([`ConnState`]);
//! - the input queue: a full queue drops the frame rather than waiting.
//!
//! The same port takes ZMTP 3 (ZeroMQ) PUSH connections from Habitat Supervisors (`zmtp.rs`):
//! a connection whose first byte is 0xFF (a native length prefix never starts with it: the
//! frame would pass 4 GiB) is a ZMTP greeting, and its messages are framed by ZMTP under the
//! same bounds: the handshake must end within `untrusted_idle`, messages are at most
//! `max_frame` bytes, single-part, and paid from the same budget.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use smol::channel::{Receiver, Sender, TrySendError};
use smol::net::{TcpListener, TcpStream};

use super::pool::timeout;
use super::{framing, zmtp, TransportStats};
use crate::driver::Input;

/// The bounds of the listener.
#[derive(Clone, Debug)]
pub struct InboundConfig {
    /// Connections open at once; further ones are closed at once.
    pub max_connections: usize,
    /// Connections open at once from one IP address.
    pub max_per_source: usize,
    /// The largest frame accepted; a longer one closes the connection.
    pub max_frame: usize,
    /// Bytes of inbound frames held at once, read or waiting for the engine.
    pub frame_budget: usize,
    /// A connection that has delivered no accepted frame yet is closed after this long
    /// without a frame.
    pub untrusted_idle: Duration,
    /// A connection that sends nothing for this long is closed (longer than the senders' own
    /// idle timeout, so the sender is normally the one to close).
    pub idle_timeout: Duration,
    /// A frame must arrive whole within this long of its header.
    pub frame_timeout: Duration,
}

impl InboundConfig {
    /// The defaults for frames of at most `max_frame` bytes and `max_connections` connections.
    pub fn new(max_frame: usize, max_connections: usize) -> Self {
        InboundConfig {
            max_connections,
            max_per_source: 32,
            max_frame,
            // Room for one frame of the largest size and then some: an honest ring's frames
            // are a few KiB and are handled as fast as they arrive.
            frame_budget: (max_frame + max_frame / 2).max(4 * 1024 * 1024),
            untrusted_idle: Duration::from_secs(10),
            // Longer than the senders' pool keeps an idle connection (300 s), so the sender is
            // the one that closes it.
            idle_timeout: Duration::from_secs(330),
            frame_timeout: Duration::from_secs(30),
        }
    }
}

/// The shared allowance of inbound frame bytes.
#[derive(Debug)]
pub struct FrameBudget {
    limit: usize,
    held: AtomicUsize,
}

impl FrameBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(FrameBudget {
            limit,
            held: AtomicUsize::new(0),
        })
    }

    /// Takes `n` bytes, or `None` when they would pass the limit.
    pub fn take(self: &Arc<Self>, n: usize) -> Option<Permit> {
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                held.checked_add(n).filter(|&h| h <= self.limit)
            })
            .ok()?;
        Some(Permit {
            budget: self.clone(),
            bytes: n,
        })
    }

    /// Bytes held now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }
}

/// Bytes taken from a [`FrameBudget`], given back when dropped.
#[derive(Debug)]
pub struct Permit {
    budget: Arc<FrameBudget>,
    bytes: usize,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.budget.held.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// What the driver shows of the listener's bounds.
#[derive(Debug)]
pub struct InboundView {
    /// The shared frame budget.
    pub budget: Arc<FrameBudget>,
    /// Inbound connections allowed at once.
    pub max_connections: usize,
}

/// What the driver tells a connection's reader about its frames.
#[derive(Debug)]
pub struct ConnState {
    /// The engine accepted a frame from this connection.
    trusted: AtomicBool,
    /// Wakes the reader to close the connection.
    reject: Sender<()>,
}

impl ConnState {
    /// A connection's state, and the receiver its reader waits on for a rejection.
    fn new() -> (Arc<Self>, Receiver<()>) {
        let (reject, rejected) = smol::channel::bounded(1);
        let state = ConnState {
            trusted: AtomicBool::new(false),
            reject,
        };
        (Arc::new(state), rejected)
    }

    /// The engine accepted a frame: the connection earns the long idle timeout.
    pub fn accepted(&self) {
        self.trusted.store(true, Ordering::Release);
    }

    /// The engine dropped a frame as malformed, oversized or unauthenticated: the reader closes
    /// the connection at once, even while it waits for the next frame.
    pub fn rejected(&self) {
        let _ = self.reject.try_send(());
    }

    fn is_trusted(&self) -> bool {
        self.trusted.load(Ordering::Acquire)
    }
}

/// Connections open per source IP.
#[derive(Debug, Default)]
struct PerSource(Mutex<HashMap<IpAddr, usize>>);

impl PerSource {
    fn enter(&self, ip: IpAddr, max: usize) -> bool {
        let Ok(mut map) = self.0.lock() else {
            return false;
        };
        let n = map.entry(ip).or_insert(0);
        if *n >= max {
            return false;
        }
        *n += 1;
        true
    }

    fn leave(&self, ip: IpAddr) {
        if let Ok(mut map) = self.0.lock() {
            if let Some(n) = map.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    map.remove(&ip);
                }
            }
        }
    }
}

/// Accepts connections forever, one reader task each.
pub async fn serve(
    listener: TcpListener,
    config: InboundConfig,
    budget: Arc<FrameBudget>,
    input: Sender<Input>,
    stats: Arc<TransportStats>,
) {
    let per_source = Arc::new(PerSource::default());
    loop {
        let (conn, from) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "gossip accept failed");
                smol::Timer::after(Duration::from_millis(100)).await;
                continue;
            }
        };
        if stats.inbound_open.load(Ordering::Relaxed) >= config.max_connections {
            TransportStats::bump(&stats.inbound_refused);
            continue;
        }
        if !per_source.enter(from.ip(), config.max_per_source) {
            TransportStats::bump(&stats.inbound_source_refused);
            continue;
        }
        stats.inbound_open.fetch_add(1, Ordering::Relaxed);
        let reader = Reader {
            config: config.clone(),
            input: input.clone(),
            stats: stats.clone(),
            budget: budget.clone(),
        };
        let per_source = per_source.clone();
        smol::spawn(async move {
            reader.read_frames(conn, from).await;
            per_source.leave(from.ip());
            reader.stats.inbound_open.fetch_sub(1, Ordering::Relaxed);
        })
        .detach();
    }
}

/// What every connection's reader shares.
struct Reader {
    config: InboundConfig,
    input: Sender<Input>,
    stats: Arc<TransportStats>,
    budget: Arc<FrameBudget>,
}

impl Reader {
    async fn read_frames(&self, mut conn: TcpStream, from: SocketAddr) {
        let (state, rejected) = ConnState::new();
        let stats = &*self.stats;
        let mut first = true;
        loop {
            let wait = if state.is_trusted() {
                self.config.idle_timeout
            } else {
                self.config.untrusted_idle
            };
            let header = async { Some(timeout(wait, framing::read_header(&mut conn)).await) };
            let rejection = async {
                let _ = rejected.recv().await;
                None
            };
            let len = match smol::future::or(header, rejection).await {
                None => return TransportStats::bump(&stats.inbound_rejected),
                Some(Some(Ok(Some(len)))) => len,
                Some(Some(Ok(None))) => return,
                Some(None) => {
                    if !state.is_trusted() {
                        TransportStats::bump(&stats.inbound_untrusted_timeout);
                    }
                    return;
                }
                Some(Some(Err(e))) => return self.bad_framing(from, &e),
            };
            if std::mem::take(&mut first) && len >> 24 == usize::from(zmtp::SIGNATURE_START) {
                let prefix = u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes();
                return self.read_zmtp(conn, from, &prefix, state, rejected).await;
            }
            if len > self.config.max_frame {
                let e = framing::too_long(len, self.config.max_frame);
                return self.bad_framing(from, &e);
            }
            let Some(permit) = self.budget.take(len) else {
                tracing::debug!(%from, len, "closing gossip connection: frame budget exhausted");
                TransportStats::bump(&stats.inbound_budget_full);
                return;
            };
            let body = timeout(
                self.config.frame_timeout,
                framing::read_body(&mut conn, len),
            );
            let bytes = match body.await {
                Some(Ok(b)) => b,
                None => return TransportStats::bump(&stats.inbound_bad_framing),
                Some(Err(e)) => return self.bad_framing(from, &e),
            };
            if bytes.is_empty() {
                continue;
            }
            let frame = Input::Stream {
                from,
                bytes,
                permit,
                conn: state.clone(),
            };
            match self.input.try_send(frame) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => TransportStats::bump(&stats.input_queue_full),
                Err(TrySendError::Closed(_)) => return,
            }
        }
    }

    /// A ZMTP PUSH peer (a Habitat Supervisor): the handshake, then one frame per message,
    /// under the same limits as native frames.
    async fn read_zmtp(
        &self,
        mut conn: TcpStream,
        from: SocketAddr,
        prefix: &[u8],
        state: Arc<ConnState>,
        rejected: Receiver<()>,
    ) {
        let stats = &*self.stats;
        let handshake = timeout(
            self.config.untrusted_idle,
            zmtp::accept_pull(&mut conn, prefix),
        );
        match handshake.await {
            Some(Ok(())) => {}
            Some(Err(e)) => return self.bad_framing(from, &e),
            None => return TransportStats::bump(&stats.inbound_untrusted_timeout),
        }
        loop {
            let wait = if state.is_trusted() {
                self.config.idle_timeout
            } else {
                self.config.untrusted_idle
            };
            let header = async { Some(timeout(wait, zmtp::read_header(&mut conn)).await) };
            let rejection = async {
                let _ = rejected.recv().await;
                None
            };
            let header = match smol::future::or(header, rejection).await {
                None => return TransportStats::bump(&stats.inbound_rejected),
                Some(Some(Ok(Some(h)))) => h,
                Some(Some(Ok(None))) => return,
                Some(None) => {
                    if !state.is_trusted() {
                        TransportStats::bump(&stats.inbound_untrusted_timeout);
                    }
                    return;
                }
                Some(Some(Err(e))) => return self.bad_framing(from, &e),
            };
            let limit = if header.command {
                zmtp::MAX_COMMAND
            } else {
                self.config.max_frame
            };
            let Some(len) = usize::try_from(header.len).ok().filter(|n| *n <= limit) else {
                let len = usize::try_from(header.len).unwrap_or(usize::MAX);
                return self.bad_framing(from, &framing::too_long(len, limit));
            };
            if header.more {
                // Butterfly sends one part per message; multi-part is not ours to reassemble.
                let e =
                    std::io::Error::new(std::io::ErrorKind::InvalidData, "multi-part ZMTP message");
                return self.bad_framing(from, &e);
            }
            let Some(permit) = self.budget.take(len) else {
                tracing::debug!(%from, len, "closing ZMTP connection: frame budget exhausted");
                TransportStats::bump(&stats.inbound_budget_full);
                return;
            };
            let body = timeout(self.config.frame_timeout, zmtp::read_body(&mut conn, len));
            let bytes = match body.await {
                Some(Ok(b)) => b,
                None => return TransportStats::bump(&stats.inbound_bad_framing),
                Some(Err(e)) => return self.bad_framing(from, &e),
            };
            if header.command || bytes.is_empty() {
                // ZMTP 3.1 heartbeats and the like; we offered 3.0, which has none.
                continue;
            }
            let frame = Input::Stream {
                from,
                bytes,
                permit,
                conn: state.clone(),
            };
            match self.input.try_send(frame) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => TransportStats::bump(&stats.input_queue_full),
                Err(TrySendError::Closed(_)) => return,
            }
        }
    }

    fn bad_framing(&self, from: SocketAddr, e: &std::io::Error) {
        tracing::debug!(%from, error = %e, "closing gossip connection: bad framing");
        TransportStats::bump(&self.stats.inbound_bad_framing);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_never_passes_its_limit_and_permits_give_back() {
        let b = FrameBudget::new(100);
        let p1 = b.take(60).expect("room");
        assert!(b.take(41).is_none());
        let p2 = b.take(40).expect("exactly full");
        assert_eq!(b.held(), 100);
        assert!(b.take(1).is_none());
        drop(p1);
        assert_eq!(b.held(), 40);
        assert!(b.take(usize::MAX).is_none(), "no overflow");
        drop(p2);
        assert_eq!(b.held(), 0);
    }

    #[test]
    fn per_source_counts_each_address_apart() {
        let s = PerSource::default();
        let (a, b): (IpAddr, IpAddr) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
        assert!(s.enter(a, 2) && s.enter(a, 2));
        assert!(!s.enter(a, 2));
        assert!(s.enter(b, 2));
        s.leave(a);
        assert!(s.enter(a, 2));
    }
}
