//! Outbound gossip streams: one reused TCP connection per peer, each fed by a bounded queue.
//!
//! Butterfly opened a new socket per rumor push and ran out of file descriptors. Here every
//! peer gets one writer task and one queue. Everything is bounded: frames per queue, bytes
//! queued across all peers, the number of peers with a connection, the time to connect, the
//! time to write one frame, and idle time. When a bound is hit the frame is dropped and
//! counted — the engine treats streams as "may be lost whole" and repairs by anti-entropy —
//! so a slow or dead peer never blocks the engine or grows memory.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use smol::channel::{Receiver, Sender, TrySendError};
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::TcpStream;
use smol::{Task, Timer};

use super::{framing, zmtp, TransportStats};

/// How a connection frames what it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Flavor {
    /// swallowtail's length-prefixed frames.
    Native,
    /// ZMTP 3 messages to a Habitat Supervisor's PULL socket, after the handshake.
    Zmtp,
}

/// The bounds of a [`StreamPool`].
#[derive(Clone, Debug)]
pub struct PoolConfig {
    /// Frames queued per peer before new ones are dropped.
    pub queue_frames: usize,
    /// Bytes queued across all peers before new frames are dropped.
    pub max_queued_bytes: usize,
    /// Peers with a connection (or a queue) at once.
    pub max_peers: usize,
    /// How long to wait for a connection to be established.
    pub connect_timeout: Duration,
    /// How long one frame may take to write.
    pub write_timeout: Duration,
    /// A connection with nothing to send for this long is closed. Long, because anti-entropy
    /// picks a random peer each time: with 30 s nearly every exchange of a 40-member ring paid a
    /// TCP handshake and teardown (about as many bytes on the wire as the exchange itself).
    /// An idle connection costs no traffic; `max_peers` bounds how many are held.
    pub idle_timeout: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            queue_frames: 128,
            max_queued_bytes: 16 * 1024 * 1024,
            max_peers: 1024,
            connect_timeout: Duration::from_secs(2),
            write_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(300),
        }
    }
}

/// Per-peer outbound connections. Owned by the driver; [`send`](Self::send) never waits.
#[derive(Debug)]
pub struct StreamPool {
    config: PoolConfig,
    stats: Arc<TransportStats>,
    peers: HashMap<(SocketAddr, Flavor), Peer>,
}

#[derive(Debug)]
struct Peer {
    tx: Sender<Vec<u8>>,
    task: Task<()>,
}

impl StreamPool {
    /// An empty pool.
    pub fn new(config: PoolConfig, stats: Arc<TransportStats>) -> Self {
        StreamPool {
            config,
            stats,
            peers: HashMap::new(),
        }
    }

    /// Peers with a live writer.
    pub fn len(&self) -> usize {
        self.peers.values().filter(|p| !p.tx.is_closed()).count()
    }

    /// Whether no peer has a live writer.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Queues one frame (`payload` gets its length prefix here) for `to`, opening a
    /// connection if needed. Drops and counts it when a bound is hit.
    pub fn send(&mut self, to: SocketAddr, payload: &[u8]) {
        let frame = match framing::encode(payload) {
            Ok(f) => f,
            Err(_) => return TransportStats::bump(&self.stats.stream_queue_full),
        };
        self.queue(to, Flavor::Native, frame);
    }

    /// Queues one message for a Habitat Supervisor's PULL socket at `to` (ZMTP, over a
    /// connection of its own, handshaken when opened), under the same bounds as
    /// [`send`](Self::send).
    pub fn send_zmtp(&mut self, to: SocketAddr, payload: &[u8]) {
        self.queue(to, Flavor::Zmtp, zmtp::encode_message(payload));
    }

    fn queue(&mut self, to: SocketAddr, flavor: Flavor, frame: Vec<u8>) {
        let key = (to, flavor);
        let len = frame.len();
        let queued = self.stats.queued_bytes.fetch_add(len, Ordering::Relaxed);
        if queued + len > self.config.max_queued_bytes {
            self.stats.queued_bytes.fetch_sub(len, Ordering::Relaxed);
            return TransportStats::bump(&self.stats.stream_queue_full);
        }
        if self.peers.get(&key).is_some_and(|p| p.tx.is_closed()) {
            self.peers.remove(&key);
        }
        if !self.peers.contains_key(&key) {
            if self.peers.len() >= self.config.max_peers {
                self.prune();
            }
            if self.peers.len() >= self.config.max_peers {
                self.stats.queued_bytes.fetch_sub(len, Ordering::Relaxed);
                return TransportStats::bump(&self.stats.stream_too_many_peers);
            }
            let (tx, rx) = smol::channel::bounded(self.config.queue_frames.max(1));
            let task = smol::spawn(writer(
                to,
                flavor,
                rx,
                self.config.clone(),
                self.stats.clone(),
            ));
            self.peers.insert(key, Peer { tx, task });
        }
        let Some(peer) = self.peers.get(&key) else {
            return;
        };
        match peer.tx.try_send(frame) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Closed(_)) => {
                self.stats.queued_bytes.fetch_sub(len, Ordering::Relaxed);
                TransportStats::bump(&self.stats.stream_queue_full);
            }
        }
    }

    /// Forgets peers whose writer has finished (idle, failed or closed).
    pub fn prune(&mut self) {
        self.peers.retain(|_, p| !p.tx.is_closed());
    }

    /// Lets every writer send what it has queued, waiting at most `within`; writers still
    /// busy then are cancelled.
    pub async fn close(self, within: Duration) {
        let deadline = std::time::Instant::now() + within;
        let tasks: Vec<Task<()>> = self
            .peers
            .into_values()
            .map(|p| {
                p.tx.close();
                p.task
            })
            .collect();
        for task in tasks {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if timeout(left, task).await.is_none() {
                break;
            }
        }
    }
}

/// `f`, or `None` after `d`.
pub async fn timeout<F: Future>(d: Duration, f: F) -> Option<F::Output> {
    smol::future::or(async { Some(f.await) }, async {
        Timer::after(d).await;
        None
    })
    .await
}

enum Next {
    Frame(Vec<u8>),
    Closed,
    Idle,
    PeerClosed,
}

/// One peer's writer: connect, then write queued frames until idle, closed or failed. Frames
/// left in the queue at the end are dropped (and their bytes released).
async fn writer(
    to: SocketAddr,
    flavor: Flavor,
    rx: Receiver<Vec<u8>>,
    config: PoolConfig,
    stats: Arc<TransportStats>,
) {
    match timeout(config.connect_timeout, connect(to, flavor)).await {
        Some(Ok(mut conn)) => {
            TransportStats::bump(&stats.connections_opened);
            let _ = conn.set_nodelay(true);
            let mut reader = conn.clone();
            let mut sink = [0u8; 64];
            loop {
                let next = smol::future::or(
                    async {
                        match timeout(config.idle_timeout, rx.recv()).await {
                            Some(Ok(f)) => Next::Frame(f),
                            Some(Err(_)) => Next::Closed,
                            None => Next::Idle,
                        }
                    },
                    async {
                        // The peer never writes on this connection: readable means closed.
                        let _ = reader.read(&mut sink).await;
                        Next::PeerClosed
                    },
                )
                .await;
                let frame = match next {
                    Next::Frame(f) => f,
                    Next::Closed | Next::Idle => break,
                    Next::PeerClosed => {
                        tracing::debug!(%to, "peer closed its gossip connection");
                        break;
                    }
                };
                stats.queued_bytes.fetch_sub(frame.len(), Ordering::Relaxed);
                match timeout(config.write_timeout, conn.write_all(&frame)).await {
                    Some(Ok(())) => {}
                    Some(Err(e)) => {
                        tracing::debug!(%to, error = %e, "gossip write failed");
                        TransportStats::bump(&stats.write_failed);
                        break;
                    }
                    None => {
                        tracing::debug!(%to, "gossip write timed out");
                        TransportStats::bump(&stats.write_failed);
                        break;
                    }
                }
            }
            let _ = timeout(Duration::from_millis(200), conn.flush()).await;
            let _ = conn.shutdown(std::net::Shutdown::Both);
        }
        Some(Err(e)) => {
            tracing::debug!(%to, error = %e, "gossip connect failed");
            TransportStats::bump(&stats.connect_failed);
        }
        None => {
            tracing::debug!(%to, "gossip connect timed out");
            TransportStats::bump(&stats.connect_failed);
        }
    }
    rx.close();
    while let Ok(f) = rx.try_recv() {
        stats.queued_bytes.fetch_sub(f.len(), Ordering::Relaxed);
    }
}

/// A connection to `to`, handshaken as a ZMTP PUSH socket for [`Flavor::Zmtp`].
async fn connect(to: SocketAddr, flavor: Flavor) -> std::io::Result<TcpStream> {
    let mut conn = TcpStream::connect(to).await?;
    if flavor == Flavor::Zmtp {
        zmtp::connect_push(&mut conn).await?;
    }
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_peer_never_blocks_and_queue_stays_bounded() {
        smol::block_on(async {
            // A listener that accepts nothing and reads nothing.
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            let to = l.local_addr().expect("addr");
            let stats = Arc::new(TransportStats::default());
            let config = PoolConfig {
                queue_frames: 4,
                max_queued_bytes: 1 << 20,
                write_timeout: Duration::from_millis(200),
                ..PoolConfig::default()
            };
            let mut pool = StreamPool::new(config, stats.clone());
            let start = std::time::Instant::now();
            for _ in 0..10_000 {
                pool.send(to, &[1u8; 1000]);
            }
            // Sending never waits on the peer (a generous bound: the machine may be busy).
            assert!(start.elapsed() < Duration::from_secs(5));
            assert!(stats.queued_bytes.load(Ordering::Relaxed) <= 1 << 20);
            // Of the 10 MB sent, the kernel's loopback buffers may take a few MB while the
            // writer drains the queue; the rest is refused, never queued.
            let refused = TransportStats::read(&stats.stream_queue_full);
            assert!(refused > 1_000, "refused {refused} of 10,000 frames");
            pool.close(Duration::from_millis(500)).await;
        });
    }

    #[test]
    fn frames_arrive_in_order_on_one_connection() {
        smol::block_on(async {
            let l = smol::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let to = l.local_addr().expect("addr");
            let stats = Arc::new(TransportStats::default());
            let mut pool = StreamPool::new(PoolConfig::default(), stats.clone());
            for i in 0..5u8 {
                pool.send(to, &[i; 3]);
            }
            let (mut s, _) = timeout(Duration::from_secs(5), l.accept())
                .await
                .expect("accept in time")
                .expect("accept");
            for i in 0..5u8 {
                let f = timeout(Duration::from_secs(5), framing::read(&mut s, 100))
                    .await
                    .expect("in time")
                    .expect("frame");
                assert_eq!(f, Some(vec![i; 3]));
            }
            assert_eq!(TransportStats::read(&stats.connections_opened), 1);
            pool.close(Duration::from_secs(1)).await;
        });
    }
}
