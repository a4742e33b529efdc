//! Sockets: the engine's output queue, TCP framing, the outbound connection pool and the
//! inbound gossip listener. UDP is a plain non-blocking socket owned by the driver.

pub mod framing;
pub mod inbound;
pub mod pool;
pub mod zmtp;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use engine::network::Network;

/// The engine's [`Network`]: it only queues. The driver drains the queues after every engine
/// call and hands datagrams to the UDP socket and frames to the stream pool, so the engine
/// never waits on I/O.
#[derive(Debug, Default)]
pub struct QueuedNetwork {
    /// Datagrams waiting for the UDP socket.
    pub datagrams: VecDeque<(SocketAddr, Vec<u8>)>,
    /// Stream frames (unframed `Wire` bytes) waiting for the pool.
    pub streams: VecDeque<(SocketAddr, Vec<u8>)>,
    /// Rumors for Habitat Supervisors (one `Wire` each), sent over ZMTP by the pool.
    pub habitat_streams: VecDeque<(SocketAddr, Vec<u8>)>,
}

impl Network for QueuedNetwork {
    fn send_datagram(&mut self, to: SocketAddr, bytes: Vec<u8>) {
        self.datagrams.push_back((to, bytes));
    }

    fn send_stream(&mut self, to: SocketAddr, bytes: Vec<u8>) {
        self.streams.push_back((to, bytes));
    }

    fn send_habitat_stream(&mut self, to: SocketAddr, bytes: Vec<u8>) {
        self.habitat_streams.push_back((to, bytes));
    }
}

/// Counters of what the transports did outside the engine's view (shared between tasks).
#[derive(Debug, Default)]
pub struct TransportStats {
    /// Datagrams the kernel refused (buffer full, unreachable, …).
    pub udp_send_failed: AtomicU64,
    /// Stream frames dropped because the peer's queue or the global byte budget was full.
    pub stream_queue_full: AtomicU64,
    /// Stream frames dropped because too many peers have connections already.
    pub stream_too_many_peers: AtomicU64,
    /// Outbound connections that could not be established in time.
    pub connect_failed: AtomicU64,
    /// Outbound connections closed after a write error or timeout.
    pub write_failed: AtomicU64,
    /// Outbound connections opened.
    pub connections_opened: AtomicU64,
    /// Bytes queued for outbound connections right now.
    pub queued_bytes: AtomicUsize,
    /// Inbound connections open right now.
    pub inbound_open: AtomicUsize,
    /// Inbound connections refused because too many were open.
    pub inbound_refused: AtomicU64,
    /// Inbound connections closed for a framing error (oversized or truncated frame).
    pub inbound_bad_framing: AtomicU64,
    /// Inbound frames dropped because the engine's input queue was full.
    pub input_queue_full: AtomicU64,
    /// Inbound connections refused because their source address had too many open.
    pub inbound_source_refused: AtomicU64,
    /// Inbound connections closed because the frame budget could not hold their frame.
    pub inbound_budget_full: AtomicU64,
    /// Inbound connections closed for sending no frame the engine accepted in time.
    pub inbound_untrusted_timeout: AtomicU64,
    /// Inbound connections closed after the engine dropped one of their frames as malformed,
    /// oversized or unauthenticated.
    pub inbound_rejected: AtomicU64,
}

impl TransportStats {
    /// Adds one to `counter`.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Reads `counter`.
    pub fn read(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
