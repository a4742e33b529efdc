//! Fuzzing the ZMTP side of the gossip listener (proptest, a bounded number of cases): whatever
//! bytes a peer sends — a greeting, a READY, frames, cut or flipped anywhere, or noise — the
//! PULL handshake and the frame reader end with a value or an error, never a panic, and never
//! read a body past the limit the caller checks.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use node::transport::zmtp;
use proptest::prelude::*;
use smol::io::{AsyncRead, AsyncWrite};

/// A connection whose peer sends `input` and reads (and ignores) everything we write.
struct Peer<'a> {
    input: &'a [u8],
}

impl AsyncRead for Peer<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.input).poll_read(cx, buf)
    }
}

impl AsyncWrite for Peer<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A well-formed PUSH side: greeting, READY, then `messages` as frames.
fn honest(messages: &[Vec<u8>]) -> Vec<u8> {
    let mut out = zmtp::greeting(false).to_vec();
    out.extend_from_slice(&zmtp::ready("PUSH"));
    for m in messages {
        out.extend_from_slice(&zmtp::encode_message(m));
    }
    out
}

/// What the listener does with `input`: the handshake, then frames within `max` bytes.
fn serve(input: &[u8], max: u64) -> usize {
    smol::block_on(async {
        let mut peer = Peer { input };
        if zmtp::accept_pull(&mut peer, &[]).await.is_err() {
            return 0;
        }
        let mut delivered = 0;
        // Each round consumes at least one byte, so this ends.
        for _ in 0..=input.len() {
            let Ok(Some(h)) = zmtp::read_header(&mut peer).await else {
                break;
            };
            if h.len > max || h.more {
                break;
            }
            match zmtp::read_body(&mut peer, h.len as usize).await {
                Ok(body) => {
                    assert_eq!(body.len() as u64, h.len);
                    delivered += usize::from(!h.command);
                }
                Err(_) => break,
            }
        }
        delivered
    })
}

fn inputs() -> impl Strategy<Value = Vec<u8>> {
    let messages = prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..4);
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        messages.clone().prop_map(|m| honest(&m)),
        (messages.clone(), any::<usize>()).prop_map(|(m, cut)| {
            let mut b = honest(&m);
            b.truncate(cut % (b.len() + 1));
            b
        }),
        (messages, any::<usize>(), any::<u8>()).prop_map(|(m, at, x)| {
            let mut b = honest(&m);
            let i = at % b.len();
            b[i] ^= x | 1;
            b
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_zmtp_reader_never_panics(input in inputs()) {
        let _ = serve(&input, 1024);
        let body = input.get(2..).unwrap_or_default();
        let _ = zmtp::parse_ready(body);
        if let Ok(g) = <[u8; zmtp::GREETING_LEN]>::try_from(input.get(..zmtp::GREETING_LEN).unwrap_or_default()) {
            let _ = zmtp::check_greeting(&g);
        }
    }

    #[test]
    fn honest_messages_all_arrive(m in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..4)) {
        prop_assert_eq!(serve(&honest(&m), 1024), m.len());
    }
}
