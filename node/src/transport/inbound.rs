//! The gossip listener: accepts TCP connections on the gossip port and hands every frame to
//! the driver's input queue. Bounded: connections open at once, frame size, idle time, and
//! the input queue (a full queue drops the frame rather than waiting).

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use smol::channel::{Sender, TrySendError};
use smol::net::{TcpListener, TcpStream};

use super::pool::timeout;
use super::{framing, TransportStats};
use crate::node::driver::Input;

/// The bounds of the listener.
#[derive(Clone, Debug)]
pub struct InboundConfig {
    /// Connections open at once; further ones are closed at once.
    pub max_connections: usize,
    /// The largest frame accepted; a longer one closes the connection.
    pub max_frame: usize,
    /// A connection that sends nothing for this long is closed (longer than the senders' own
    /// idle timeout, so the sender is normally the one to close).
    pub idle_timeout: Duration,
}

/// Accepts connections forever, one reader task each.
pub async fn serve(
    listener: TcpListener,
    config: InboundConfig,
    input: Sender<Input>,
    stats: Arc<TransportStats>,
) {
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
            drop(conn);
            continue;
        }
        stats.inbound_open.fetch_add(1, Ordering::Relaxed);
        let (config, input, stats) = (config.clone(), input.clone(), stats.clone());
        smol::spawn(async move {
            read_frames(conn, from, &config, &input, &stats).await;
            stats.inbound_open.fetch_sub(1, Ordering::Relaxed);
        })
        .detach();
    }
}

async fn read_frames(
    mut conn: TcpStream,
    from: SocketAddr,
    config: &InboundConfig,
    input: &Sender<Input>,
    stats: &TransportStats,
) {
    loop {
        match timeout(
            config.idle_timeout,
            framing::read(&mut conn, config.max_frame),
        )
        .await
        {
            Some(Ok(Some(frame))) => {
                if frame.is_empty() {
                    continue;
                }
                match input.try_send(Input::Stream { from, bytes: frame }) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => TransportStats::bump(&stats.input_queue_full),
                    Err(TrySendError::Closed(_)) => return,
                }
            }
            Some(Ok(None)) | None => return,
            Some(Err(e)) => {
                tracing::debug!(%from, error = %e, "closing gossip connection: bad framing");
                TransportStats::bump(&stats.inbound_bad_framing);
                return;
            }
        }
    }
}
