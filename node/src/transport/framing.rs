//! Stream framing: every frame is a `u32` big-endian length followed by that many bytes.

use std::io;

use smol::io::{AsyncRead, AsyncReadExt};

/// Bytes in a frame header.
pub const HEADER_LEN: usize = 4;

/// `payload` with its length prefix. Fails if it does not fit in a `u32`.
pub fn encode(payload: &[u8]) -> io::Result<Vec<u8>> {
    let len = u32::try_from(payload.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame longer than 4 GiB"))?;
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    Ok(out)
}

/// Reads one frame of at most `max` bytes. `Ok(None)` on a clean end of stream (before any
/// header byte); `InvalidData` for a longer frame (nothing of it is read or allocated);
/// `UnexpectedEof` when the stream ends inside a frame.
pub async fn read<R: AsyncRead + Unpin>(r: &mut R, max: usize) -> io::Result<Option<Vec<u8>>> {
    let mut header = [0u8; HEADER_LEN];
    let mut got = 0;
    while got < HEADER_LEN {
        let n = r.read(&mut header[got..]).await?;
        if n == 0 {
            return if got == 0 {
                Ok(None)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
        got += n;
    }
    let len = u32::from_be_bytes(header) as usize;
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds the limit of {max}"),
        ));
    }
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf).await?;
    Ok(Some(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(bytes: &[u8], max: usize) -> Vec<io::Result<Option<Vec<u8>>>> {
        smol::block_on(async {
            let mut r = bytes;
            let mut out = Vec::new();
            for _ in 0..8 {
                let f = read(&mut r, max).await;
                let stop = !matches!(f, Ok(Some(_)));
                out.push(f);
                if stop {
                    break;
                }
            }
            out
        })
    }

    #[test]
    fn round_trip_and_clean_eof() {
        let mut bytes = encode(b"hello").expect("encode");
        bytes.extend(encode(b"").expect("encode"));
        assert_eq!(&bytes[..4], &[0, 0, 0, 5]);
        let frames = read_all(&bytes, 100);
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0].as_ref().ok(), Some(&Some(b"hello".to_vec())));
        assert_eq!(frames[1].as_ref().ok(), Some(&Some(Vec::new())));
        assert!(matches!(frames[2], Ok(None)));
    }

    #[test]
    fn oversized_and_truncated_are_errors() {
        let bytes = encode(&[7u8; 50]).expect("encode");
        let frames = read_all(&bytes, 10);
        let err = frames[0].as_ref().expect_err("oversized");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);

        let frames = read_all(&bytes[..20], 100);
        let err = frames[0].as_ref().expect_err("truncated body");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);

        let frames = read_all(&bytes[..2], 100);
        let err = frames[0].as_ref().expect_err("truncated header");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
