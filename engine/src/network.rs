//! The [`Network`] trait: how the engine hands bytes to a transport.

use std::net::SocketAddr;

/// Where the engine's output goes. The engine calls these from inside its `handle_*` and
/// command methods; implementations must not call back into the engine.
///
/// The simulator queues the bytes as deliveries; the production node hands them to its UDP
/// socket and to per-peer TCP connections.
pub trait Network {
    /// Sends one SWIM datagram (unreliable; at most `Config::max_datagram_size` bytes).
    fn send_datagram(&mut self, to: SocketAddr, bytes: Vec<u8>);

    /// Sends one stream frame (one encoded `Wire`, without a length prefix: the transport frames
    /// it) to the gossip listener at `to`. Reliable and ordered per connection in production;
    /// may be lost whole in simulation.
    fn send_stream(&mut self, to: SocketAddr, bytes: Vec<u8>);

    /// Sends one rumor to a Butterfly peer (`Config::compat = Habitat`): one encoded `Wire`,
    /// a message of its own, to be carried the way Butterfly receives rumors (a ZeroMQ PUSH to
    /// its PULL socket on the gossip port, in production). By default, like
    /// [`send_stream`](Self::send_stream).
    fn send_habitat_stream(&mut self, to: SocketAddr, bytes: Vec<u8>) {
        self.send_stream(to, bytes);
    }
}

/// A [`Network`] that keeps everything sent, for tests and for callers that drain it.
#[derive(Clone, Debug, Default)]
pub struct Outbox {
    /// Datagrams in the order sent.
    pub datagrams: Vec<(SocketAddr, Vec<u8>)>,
    /// Stream frames in the order sent.
    pub streams: Vec<(SocketAddr, Vec<u8>)>,
}

impl Network for Outbox {
    fn send_datagram(&mut self, to: SocketAddr, bytes: Vec<u8>) {
        self.datagrams.push((to, bytes));
    }

    fn send_stream(&mut self, to: SocketAddr, bytes: Vec<u8>) {
        self.streams.push((to, bytes));
    }
}
