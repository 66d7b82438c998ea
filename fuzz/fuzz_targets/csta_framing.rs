//! Feeds a byte stream to `framing::FrameReader` in chunks whose sizes come from the
//! input, and checks it against `framing::decode` run over the whole stream: the same
//! frames in the same order, then the same error or the end. Nothing may panic or hang.
//!
//! Input layout: buffer size (2 octets, little-endian, modulo 4097), requested maximum
//! frame length (2 octets), the number `k` of chunk-size octets (1 octet, modulo 16),
//! `k` chunk-size octets (used in turn; the low 7 bits plus one are the chunk size, the
//! top bit writes the chunk through `spare`/`commit` instead of `push`), then the stream.
//!
//! Properties checked:
//! - `max_frame()` is the request clamped to the buffer and to `MAX_FRAME_LEN`, and no
//!   frame handed out is longer;
//! - `buffered()` never exceeds the buffer;
//! - the reader only stalls (buffer full, no frame, no error) when the buffer is
//!   smaller than a header;
//! - an error is sticky: every later `next_frame`, after more pushes too, returns it.

#![no_main]

use csta_core::framing::{self, FrameReader, FramingError, HEADER_LEN, MAX_FRAME_LEN, Status};
use libfuzzer_sys::fuzz_target;

/// What the stream holds, as `framing::decode` sees it.
#[derive(Debug, PartialEq)]
enum Item {
    Frame(u16, Vec<u8>),
    Error(FramingError),
}

fuzz_target!(|data: &[u8]| {
    let Some((head, rest)) = data.split_first_chunk::<5>() else {
        return;
    };
    let size = usize::from(u16::from_le_bytes([head[0], head[1]])) % 4097;
    let requested = usize::from(u16::from_le_bytes([head[2], head[3]]));
    let k = usize::from(head[4] % 16).min(rest.len());
    let (sizes, stream) = rest.split_at(k);
    let sizes: &[u8] = if sizes.is_empty() { &[0x3f] } else { sizes };

    let mut reader = FrameReader::new(vec![0u8; size], requested);
    let max = reader.max_frame();
    assert_eq!(max, requested.min(size).min(MAX_FRAME_LEN));

    let expected = reference(stream, max);
    let mut got = Vec::new();
    let mut rest = stream;
    let mut turn = 0;
    'feed: loop {
        // Hand over every complete frame before pushing more.
        loop {
            match reader.next_frame() {
                Ok(Some(frame)) => {
                    assert!(
                        HEADER_LEN + frame.body.len() <= max,
                        "a frame above max_frame"
                    );
                    got.push(Item::Frame(frame.invoke_id.get(), frame.body.to_vec()));
                }
                Ok(None) => break,
                Err(e) => {
                    got.push(Item::Error(e));
                    sticky(&mut reader, e, rest);
                    break 'feed;
                }
            }
        }
        if rest.is_empty() {
            break;
        }
        let code = sizes[turn % sizes.len()];
        turn += 1;
        let chunk = &rest[..(usize::from(code & 0x7f) + 1).min(rest.len())];
        let taken = if code & 0x80 != 0 {
            let spare = reader.spare();
            let n = spare.len().min(chunk.len());
            spare[..n].copy_from_slice(&chunk[..n]);
            reader.commit(n);
            n
        } else {
            reader.push(chunk)
        };
        assert!(reader.buffered() <= size);
        rest = &rest[taken..];
        if taken == 0 {
            // No room and no frame: only a buffer smaller than a header gets here.
            assert!(size < HEADER_LEN, "stalled with a {size}-octet buffer");
            assert!(reader.spare().is_empty());
            assert_eq!(reader.next_frame(), Ok(None));
            assert!(
                expected.starts_with(&got),
                "{got:?} is no prefix of {expected:?}"
            );
            return;
        }
    }
    assert_eq!(got, expected);
});

/// The frames `framing::decode` finds in `stream`, then its error if any.
fn reference(mut stream: &[u8], max: usize) -> Vec<Item> {
    let mut items = Vec::new();
    loop {
        match framing::decode(stream, max) {
            Ok(Status::Complete((frame, used))) => {
                assert!(used >= HEADER_LEN && used <= max && used <= stream.len());
                assert_eq!(used, HEADER_LEN + frame.body.len());
                items.push(Item::Frame(frame.invoke_id.get(), frame.body.to_vec()));
                stream = &stream[used..];
            }
            Ok(Status::Partial) => return items,
            Err(e) => {
                assert!(e.drop_connection());
                items.push(Item::Error(e));
                return items;
            }
        }
    }
}

/// After `e`, `next_frame` keeps failing with it, whatever arrives.
fn sticky<B: AsRef<[u8]> + AsMut<[u8]>>(reader: &mut FrameReader<B>, e: FramingError, rest: &[u8]) {
    for _ in 0..2 {
        assert_eq!(reader.next_frame(), Err(e));
    }
    reader.push(rest);
    reader.push(b"\x00\x00\x00\x0c0001<a/>");
    assert_eq!(reader.next_frame(), Err(e));
}
