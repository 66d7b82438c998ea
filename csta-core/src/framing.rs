//! CSTA over TCP: the ECMA-323 Annex J.2 frame header.
//!
//! Every message on the stream is preceded by an 8-octet header:
//!
//! | octets | content |
//! |---|---|
//! | 0..2 | `00 00` |
//! | 2..4 | length of the **whole frame**, header included, big-endian |
//! | 4..8 | invokeID as four ASCII decimal digits: `0000` to `9998` for requests and their responses, `9999` for events |
//!
//! and the XML body (length - 8 octets) follows. `00 00 04 43 39 39 39 39 3c 3f 78 6d 6c`
//! starts a 1091-octet frame carrying an event whose body begins `<?xml`.
//!
//! The length field is the only delimiter, so a stream with a bad header cannot be
//! resynchronised: every decoding error means "drop the connection"
//! ([`FramingError::drop_connection`]).
//!
//! [`decode`] splits the first frame off a buffer; [`FrameReader`] does the bookkeeping
//! for a connection over a buffer the caller provides; [`encode`] and [`encode_header`]
//! write frames. Nothing allocates, panics on input or uses `unsafe`.
//!
//! ```
//! use csta_core::framing::{FrameReader, FramingError, InvokeId, encode};
//!
//! /// Stands in for `TcpStream::read`: hands over at most 5 octets at a time.
//! fn read(socket: &mut &[u8], out: &mut [u8]) -> usize {
//!     let n = socket.len().min(out.len()).min(5);
//!     out[..n].copy_from_slice(&socket[..n]);
//!     *socket = &socket[n..];
//!     n
//! }
//!
//! // What the peer sends: a response to request 0042, then an event.
//! let mut wire = [0u8; 64];
//! let n = encode(InvokeId::new(42).unwrap(), b"<MakeCallResponse/>", &mut wire)?;
//! let m = encode(InvokeId::EVENT, b"<DeliveredEvent/>", &mut wire[n..])?;
//! let mut socket = &wire[..n + m];
//!
//! let mut reader = FrameReader::new([0u8; 2048], 2048);
//! let mut seen = 0;
//! loop {
//!     // Hand over every complete frame before reading again.
//!     loop {
//!         match reader.next_frame() {
//!             Ok(Some(frame)) if frame.invoke_id.is_event() => {
//!                 assert_eq!(frame.body, b"<DeliveredEvent/>");
//!                 seen += 1;
//!             }
//!             Ok(Some(frame)) => {
//!                 assert_eq!(frame.invoke_id.get(), 42);
//!                 seen += 1;
//!             }
//!             Ok(None) => break,
//!             Err(e) => {
//!                 assert!(e.drop_connection());
//!                 return Err(e); // close the socket
//!             }
//!         }
//!     }
//!     // Read straight into the reader's buffer; after `Ok(None)` it is never empty, so
//!     // 0 means the peer closed.
//!     let n = read(&mut socket, reader.spare());
//!     if n == 0 {
//!         break;
//!     }
//!     reader.commit(n);
//! }
//! assert_eq!(seen, 2);
//! assert_eq!(reader.buffered(), 0); // the peer did not stop mid-frame
//! # Ok::<(), FramingError>(())
//! ```

use core::fmt;

/// Octets in the frame header.
pub const HEADER_LEN: usize = 8;

/// The largest frame the 16-bit length field can describe, header included.
pub const MAX_FRAME_LEN: usize = u16::MAX as usize;

/// The invokeID of a frame: `0000` to `9998` correlate a request with its response,
/// `9999` marks an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct InvokeId(u16);

impl InvokeId {
    /// `9999`, the invokeID of every event.
    pub const EVENT: InvokeId = InvokeId(9999);

    /// `9998`, the largest invokeID a request may use.
    pub const MAX_REQUEST: InvokeId = InvokeId(9998);

    /// The invokeID `id`, or `None` above 9999.
    pub const fn new(id: u16) -> Option<InvokeId> {
        if id <= InvokeId::EVENT.0 {
            Some(InvokeId(id))
        } else {
            None
        }
    }

    /// The numeric value, 0 to 9999.
    pub const fn get(self) -> u16 {
        self.0
    }

    /// Whether this is [`InvokeId::EVENT`].
    pub const fn is_event(self) -> bool {
        self.0 == InvokeId::EVENT.0
    }

    fn from_digits(digits: [u8; 4]) -> Option<InvokeId> {
        let mut id = 0;
        for d in digits {
            if !d.is_ascii_digit() {
                return None;
            }
            id = id * 10 + u16::from(d - b'0');
        }
        Some(InvokeId(id))
    }

    fn to_digits(self) -> [u8; 4] {
        let n = self.0;
        [n / 1000, n / 100, n / 10, n].map(|d| b'0' + (d % 10) as u8)
    }
}

impl fmt::Display for InvokeId {
    /// The wire form: four digits, zero-padded.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}", self.0)
    }
}

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Header {
    /// Length of the whole frame, these 8 octets included.
    pub length: u16,
    /// The invokeID.
    pub invoke_id: InvokeId,
}

impl Header {
    /// Parses the 8 header octets.
    ///
    /// Errors, checked in wire order: [`FramingError::BadMarker`],
    /// [`FramingError::TooShort`], [`FramingError::BadInvokeId`].
    pub fn parse(head: &[u8; HEADER_LEN]) -> Result<Header, FramingError> {
        check_header(head, usize::MAX)?;
        let [_, _, hi, lo, digits @ ..] = *head;
        Ok(Header {
            length: u16::from_be_bytes([hi, lo]),
            invoke_id: InvokeId::from_digits(digits).ok_or(FramingError::BadInvokeId)?,
        })
    }

    /// Writes the 8 header octets (`length` as it is, even below 8).
    pub fn emit(&self, out: &mut [u8; HEADER_LEN]) {
        let [hi, lo] = self.length.to_be_bytes();
        let [d0, d1, d2, d3] = self.invoke_id.to_digits();
        *out = [0, 0, hi, lo, d0, d1, d2, d3];
    }

    /// Octets of body after the header: `length - 8`, or 0 if `length` is below 8.
    pub fn body_len(&self) -> usize {
        usize::from(self.length).saturating_sub(HEADER_LEN)
    }
}

/// One frame, borrowed from the buffer it was decoded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The invokeID from the header.
    pub invoke_id: InvokeId,
    /// The XML document, without the header; may be empty.
    pub body: &'a [u8],
}

/// Why a frame could not be decoded or encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum FramingError {
    /// The first two header octets are not zero.
    BadMarker,
    /// The invokeID is not four ASCII digits.
    BadInvokeId,
    /// The length field is below 8, the header's own size.
    TooShort {
        /// The length field.
        length: u16,
    },
    /// The frame is longer than the configured maximum (decoding) or than the 16-bit
    /// length field allows (encoding).
    TooLong {
        /// Length of the whole frame, header included.
        length: usize,
        /// The limit it exceeds.
        max: usize,
    },
    /// The output buffer cannot hold the frame.
    BufferTooSmall {
        /// Octets the whole frame needs, header included.
        required: usize,
    },
}

impl FramingError {
    /// Whether the connection must be closed: true for every error from the receiving
    /// side, since the stream cannot be resynchronised after a bad header. False for
    /// [`FramingError::BufferTooSmall`], which only concerns the caller's buffer.
    ///
    /// A [`FramingError::TooLong`] from [`encode`] also answers true, though nothing was
    /// sent: the message simply cannot be framed.
    pub const fn drop_connection(&self) -> bool {
        !matches!(self, FramingError::BufferTooSmall { .. })
    }
}

impl fmt::Display for FramingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FramingError::BadMarker => f.write_str("frame header does not start with 00 00"),
            FramingError::BadInvokeId => f.write_str("frame invokeID is not four ASCII digits"),
            FramingError::TooShort { length } => {
                write!(f, "frame length {length} is below the header's 8 octets")
            }
            FramingError::TooLong { length, max } => {
                write!(f, "frame length {length} exceeds the maximum of {max}")
            }
            FramingError::BufferTooSmall { required } => {
                write!(f, "buffer too small: the frame needs {required} octets")
            }
        }
    }
}

impl core::error::Error for FramingError {}

/// The result of decoding a buffer that may not yet hold a whole frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status<T> {
    /// A whole frame was found.
    Complete(T),
    /// More octets are needed; call again when they have arrived.
    Partial,
}

impl<T> Status<T> {
    /// Whether this is [`Status::Complete`].
    pub fn is_complete(&self) -> bool {
        matches!(self, Status::Complete(_))
    }

    /// The complete value, if any.
    pub fn complete(self) -> Option<T> {
        match self {
            Status::Complete(t) => Some(t),
            Status::Partial => None,
        }
    }
}

/// Checks the header octets present at the start of `buf` (any prefix, even empty) in
/// wire order, so a bad header fails as soon as its first bad octet has arrived.
fn check_header(buf: &[u8], max: usize) -> Result<(), FramingError> {
    if buf.iter().take(2).any(|&b| b != 0) {
        return Err(FramingError::BadMarker);
    }
    if let [_, _, hi, lo, ..] = *buf {
        let length = u16::from_be_bytes([hi, lo]);
        let len = usize::from(length);
        if len < HEADER_LEN {
            return Err(FramingError::TooShort { length });
        }
        if len > max {
            return Err(FramingError::TooLong { length: len, max });
        }
    }
    if buf.iter().take(HEADER_LEN).skip(4).all(u8::is_ascii_digit) {
        Ok(())
    } else {
        Err(FramingError::BadInvokeId)
    }
}

/// Decodes the first frame of `buf`: the frame and the octets it occupies, or
/// [`Status::Partial`] while `buf` is a strict prefix of a valid frame.
///
/// `max_frame` bounds the whole frame, header included. Header errors are reported as
/// soon as the offending octets are in `buf`, without waiting for the body: a length
/// below 8 or above `max_frame` once the length field is there, a non-digit invokeID
/// octet as soon as it is there.
pub fn decode(buf: &[u8], max_frame: usize) -> Result<Status<(Frame<'_>, usize)>, FramingError> {
    check_header(buf, max_frame)?;
    let Some(head) = buf.first_chunk() else {
        return Ok(Status::Partial);
    };
    let Header { length, invoke_id } = Header::parse(head)?;
    let length = usize::from(length);
    Ok(match buf.get(HEADER_LEN..length) {
        Some(body) => Status::Complete((Frame { invoke_id, body }, length)),
        None => Status::Partial,
    })
}

/// Writes the header and `body` to the start of `out`; returns the frame length.
///
/// Errors: [`FramingError::TooLong`] when the frame would exceed [`MAX_FRAME_LEN`]
/// (a body over 65527 octets), [`FramingError::BufferTooSmall`] when `out` is shorter
/// than the frame. `out` is unchanged on error.
pub fn encode(invoke_id: InvokeId, body: &[u8], out: &mut [u8]) -> Result<usize, FramingError> {
    encode_header(invoke_id, body.len(), out)?;
    let length = HEADER_LEN + body.len();
    // In range: `encode_header` checked `out.len() >= length`.
    out[HEADER_LEN..length].copy_from_slice(body);
    Ok(length)
}

/// Writes the header for a body of `body_len` octets the caller has placed, or will
/// place, at `out[8..8 + body_len]`, so XML can be written straight after the header.
///
/// Errors as for [`encode`]; `out` must hold the whole frame, not only the header.
///
/// ```
/// use csta_core::framing::{HEADER_LEN, InvokeId, decode, encode_header};
///
/// let mut out = [0u8; 64];
/// let xml = b"<MonitorStart/>";
/// out[HEADER_LEN..][..xml.len()].copy_from_slice(xml); // e.g. an XML writer
/// encode_header(InvokeId::new(7).unwrap(), xml.len(), &mut out)?;
/// assert_eq!(&out[..HEADER_LEN], b"\x00\x00\x00\x170007");
///
/// let (frame, used) = decode(&out, 64)?.complete().unwrap();
/// assert_eq!((frame.body, used), (&xml[..], HEADER_LEN + xml.len()));
/// # Ok::<(), csta_core::framing::FramingError>(())
/// ```
pub fn encode_header(
    invoke_id: InvokeId,
    body_len: usize,
    out: &mut [u8],
) -> Result<(), FramingError> {
    let required = body_len.saturating_add(HEADER_LEN);
    let Ok(length) = u16::try_from(required) else {
        return Err(FramingError::TooLong {
            length: required,
            max: MAX_FRAME_LEN,
        });
    };
    let frame = out.get_mut(..required);
    let Some(head) = frame.and_then(<[u8]>::first_chunk_mut) else {
        return Err(FramingError::BufferTooSmall { required });
    };
    Header { length, invoke_id }.emit(head);
    Ok(())
}

/// Splits a TCP byte stream into frames, in a buffer the caller provides.
///
/// Bytes go in with [`spare`](Self::spare) + [`commit`](Self::commit) (read from the
/// socket straight into the buffer) or [`push`](Self::push) (copy); frames come out of
/// [`next_frame`](Self::next_frame), borrowed from the buffer. Any number of frames may
/// arrive in one read and a frame may arrive in any number of reads.
///
/// Calling [`next_frame`](Self::next_frame) until it returns `Ok(None)` before each read
/// guarantees that [`spare`](Self::spare) is not empty (for buffers of at least 4
/// octets), so a read of 0 octets can only mean the peer closed the connection.
///
/// No sequence of calls panics. `B` is any buffer whose `as_ref` and `as_mut` give the
/// same length every time: `[u8; N]`, `&mut [u8]`, `heapless::Vec` at a fixed length.
pub struct FrameReader<B: AsRef<[u8]> + AsMut<[u8]>> {
    buf: B,
    /// Unread octets are `buf[start..end]`.
    start: usize,
    end: usize,
    max_frame: usize,
    /// The first error, returned again by every later `next_frame`.
    failed: Option<FramingError>,
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> FrameReader<B> {
    /// A reader over `buf`, accepting frames of at most `max_frame` octets header
    /// included. `max_frame` is clamped to the buffer's length and to [`MAX_FRAME_LEN`],
    /// so any frame accepted fits in the buffer.
    pub fn new(buf: B, max_frame: usize) -> Self {
        let max_frame = max_frame.min(buf.as_ref().len()).min(MAX_FRAME_LEN);
        FrameReader {
            buf,
            start: 0,
            end: 0,
            max_frame,
            failed: None,
        }
    }

    /// The largest frame accepted, after clamping.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Octets received but not yet handed out as frames.
    pub fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// The free space after the buffered octets, to read socket bytes into; report how
    /// many were written with [`commit`](Self::commit).
    ///
    /// Moves the buffered octets to the front of the buffer first when frames were
    /// taken since the last call, so the slice is always `buffer length - buffered()`
    /// octets long.
    pub fn spare(&mut self) -> &mut [u8] {
        let buf = self.buf.as_mut();
        if self.start > 0 {
            buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        &mut buf[self.end..]
    }

    /// Marks `n` octets written into [`spare`](Self::spare) as received. An `n` larger
    /// than the slice `spare` returned is clamped to its length.
    pub fn commit(&mut self, n: usize) {
        self.end = self.end.saturating_add(n).min(self.buf.as_ref().len());
    }

    /// Copies as much of `data` into the buffer as fits and returns how many octets
    /// were taken. When that is less than `data.len()`, take frames with
    /// [`next_frame`](Self::next_frame) and push the rest.
    pub fn push(&mut self, data: &[u8]) -> usize {
        let spare = self.spare();
        let n = spare.len().min(data.len());
        spare[..n].copy_from_slice(&data[..n]);
        self.commit(n);
        n
    }

    /// The next complete frame, or `Ok(None)` when more octets are needed.
    ///
    /// An error is sticky: this and every later call return it, since the stream cannot
    /// be resynchronised and the connection must be dropped.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, FramingError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        match decode(&self.buf.as_ref()[self.start..self.end], self.max_frame) {
            Ok(Status::Complete((frame, used))) => {
                self.start += used;
                Ok(Some(frame))
            }
            Ok(Status::Partial) => Ok(None),
            Err(e) => {
                self.failed = Some(e);
                Err(e)
            }
        }
    }

    /// Forgets the buffered octets and any error, to serve a new connection.
    pub fn reset(&mut self) {
        self.start = 0;
        self.end = 0;
        self.failed = None;
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::string::ToString;
    use std::vec::Vec;

    const ORIGINATED: &[u8] =
        include_bytes!("../tests/data/framed/osv-OriginatedEvent.ecma323-annexJ.bin");
    const SERVICE_INITIATED: &[u8] =
        include_bytes!("../tests/data/framed/osv-ServiceInitiatedEvent.ecma323-annexJ.bin");
    const ESTOS_LOG: &[u8] =
        include_bytes!("../tests/data/framed/estos-ecsta-mitel-mivo400-tcp-log-excerpt.txt");

    fn id(n: u16) -> InvokeId {
        InvokeId::new(n).unwrap()
    }

    fn frame(invoke_id: u16, body: &[u8]) -> Vec<u8> {
        let mut out = std::vec![0; HEADER_LEN + body.len()];
        assert_eq!(encode(id(invoke_id), body, &mut out), Ok(out.len()));
        out
    }

    /// Feeds `chunks` through a reader in order, draining frames after each push, and
    /// returns (invokeID, body) of every frame.
    fn read_all<'c>(
        reader: &mut FrameReader<impl AsRef<[u8]> + AsMut<[u8]>>,
        chunks: impl IntoIterator<Item = &'c [u8]>,
    ) -> Result<Vec<(u16, Vec<u8>)>, FramingError> {
        let mut frames = Vec::new();
        for mut chunk in chunks {
            while !chunk.is_empty() {
                let n = reader.push(chunk);
                chunk = &chunk[n..];
                while let Some(f) = reader.next_frame()? {
                    frames.push((f.invoke_id.get(), f.body.to_vec()));
                }
            }
        }
        Ok(frames)
    }

    #[test]
    fn test_invoke_id_range_and_display() {
        assert_eq!(InvokeId::new(10_000), None);
        assert_eq!(InvokeId::new(u16::MAX), None);
        assert_eq!(InvokeId::new(9999), Some(InvokeId::EVENT));
        assert_eq!(InvokeId::new(9998), Some(InvokeId::MAX_REQUEST));
        assert!(InvokeId::EVENT.is_event() && !InvokeId::MAX_REQUEST.is_event());
        assert_eq!(id(0).to_string(), "0000");
        assert_eq!(id(42).to_string(), "0042");
        assert_eq!(InvokeId::EVENT.to_string(), "9999");
        for n in 0..=9999 {
            let digits = id(n).to_digits();
            assert_eq!(&digits[..], std::format!("{n:04}").as_bytes());
            assert_eq!(InvokeId::from_digits(digits), Some(id(n)));
        }
    }

    #[test]
    fn test_header_parse_emit_round_trip() {
        let head = *ORIGINATED.first_chunk().unwrap();
        let header = Header::parse(&head).unwrap();
        assert_eq!(
            header,
            Header {
                length: 0x0443,
                invoke_id: InvokeId::EVENT
            }
        );
        assert_eq!(header.body_len(), 1091 - 8);
        let mut out = [0xff; HEADER_LEN];
        header.emit(&mut out);
        assert_eq!(out, head);
        assert_eq!(
            Header {
                length: 3,
                invoke_id: id(1)
            }
            .body_len(),
            0
        );
    }

    #[test]
    fn test_round_trip_encode_decode() {
        for (n, body) in [
            (0, &b""[..]),
            (1, b"<a/>"),
            (9998, b"<x>y</x>"),
            (9999, b"<E/>"),
        ] {
            let bytes = frame(n, body);
            assert_eq!(
                usize::from(u16::from_be_bytes([bytes[2], bytes[3]])),
                bytes.len()
            );
            let (f, used) = decode(&bytes, MAX_FRAME_LEN).unwrap().complete().unwrap();
            assert_eq!((f.invoke_id, f.body, used), (id(n), body, bytes.len()));
            // Trailing octets of the next frame are left alone.
            let mut two = bytes.clone();
            two.extend_from_slice(&bytes);
            assert_eq!(
                decode(&two, MAX_FRAME_LEN).unwrap().complete().unwrap().1,
                used
            );
        }
    }

    #[test]
    fn test_empty_body_is_valid() {
        let bytes = b"\x00\x00\x00\x080123";
        let (f, used) = decode(bytes, 8).unwrap().complete().unwrap();
        assert_eq!((f.invoke_id, f.body, used), (id(123), &b""[..], 8));
        let mut reader = FrameReader::new([0u8; 8], 100);
        assert_eq!(reader.max_frame(), 8);
        assert_eq!(reader.push(bytes), 8);
        assert_eq!(
            reader.next_frame(),
            Ok(Some(Frame {
                invoke_id: id(123),
                body: b""
            }))
        );
        assert_eq!(reader.next_frame(), Ok(None));
    }

    #[test]
    fn test_decode_partial_for_every_prefix() {
        let bytes = frame(7, b"<body/>");
        for end in 0..bytes.len() {
            assert_eq!(
                decode(&bytes[..end], 100),
                Ok(Status::Partial),
                "prefix {end}"
            );
        }
        assert!(decode(&bytes, 100).unwrap().is_complete());
    }

    #[test]
    fn test_error_bad_marker() {
        for head in [
            &b"\x01"[..],
            b"\x00\x01",
            b"\x80\x00\x00\x100000",
            b"GET / HTTP/1.1",
        ] {
            assert_eq!(decode(head, 100), Err(FramingError::BadMarker));
        }
        let head = b"\x00\x10\x00\x100000";
        assert_eq!(Header::parse(head), Err(FramingError::BadMarker));
    }

    #[test]
    fn test_error_bad_invoke_id() {
        for bad in [b' ', b'-', b'+', b'a', b'/', b':', 0, 0xb9] {
            for pos in 4..HEADER_LEN {
                let mut head = *b"\x00\x00\x00\x0c1234";
                head[pos] = bad;
                assert_eq!(Header::parse(&head), Err(FramingError::BadInvokeId));
                // Reported as soon as the bad octet is there.
                assert_eq!(decode(&head[..=pos], 100), Err(FramingError::BadInvokeId));
                assert_eq!(decode(&head[..pos], 100), Ok(Status::Partial));
            }
        }
    }

    #[test]
    fn test_error_too_short() {
        for length in 0..8u16 {
            let [hi, lo] = length.to_be_bytes();
            let head = [0, 0, hi, lo, b'0', b'0', b'0', b'1'];
            let err = FramingError::TooShort { length };
            assert_eq!(Header::parse(&head), Err(err));
            assert_eq!(decode(&head[..4], 100), Err(err));
            assert_eq!(decode(&head[..3], 100), Ok(Status::Partial));
        }
    }

    #[test]
    fn test_error_too_long_and_max_frame() {
        let bytes = frame(5, &[b'x'; 92]); // 100 octets
        assert!(decode(&bytes, 100).unwrap().is_complete());
        let err = FramingError::TooLong {
            length: 100,
            max: 99,
        };
        // Known from the length field, without waiting for the rest of the header or body.
        assert_eq!(decode(&bytes[..4], 99), Err(err));
        assert_eq!(decode(&bytes, 99), Err(err));

        let mut reader = FrameReader::new([0u8; 99], usize::MAX);
        assert_eq!(reader.max_frame(), 99);
        assert_eq!(reader.push(&bytes[..4]), 4);
        assert_eq!(reader.next_frame(), Err(err));

        let mut reader = FrameReader::new([0u8; 200], 100);
        assert_eq!(
            read_all(&mut reader, [&bytes[..]]).unwrap(),
            [(5, bytes[8..].to_vec())]
        );

        // The largest length the field can carry, against the largest reader.
        let mut big = std::vec![0u8; 70_000];
        assert_eq!(
            FrameReader::new(&mut big[..], usize::MAX).max_frame(),
            MAX_FRAME_LEN
        );
        assert_eq!(decode(b"\x00\x00\xff\xff", usize::MAX), Ok(Status::Partial));
    }

    #[test]
    fn test_encode_errors() {
        let mut out = [0xaa; 12];
        let err = FramingError::BufferTooSmall { required: 13 };
        assert_eq!(encode(id(1), b"12345", &mut out), Err(err));
        assert_eq!(out, [0xaa; 12], "untouched on error");
        assert_eq!(encode(id(1), b"1234", &mut out), Ok(12));
        assert_eq!(
            encode_header(id(1), 0, &mut out[..7]),
            Err(FramingError::BufferTooSmall { required: 8 })
        );

        let body = std::vec![b'x'; MAX_FRAME_LEN - HEADER_LEN];
        let mut out = std::vec![0; MAX_FRAME_LEN + 1];
        assert_eq!(encode(id(2), &body, &mut out), Ok(MAX_FRAME_LEN));
        assert_eq!(&out[..8], b"\x00\x00\xff\xff0002");
        let too_long = FramingError::TooLong {
            length: MAX_FRAME_LEN + 1,
            max: MAX_FRAME_LEN,
        };
        assert_eq!(
            encode(id(2), &out[..body.len() + 1], &mut [0; 8]),
            Err(too_long)
        );
        let huge = FramingError::TooLong {
            length: usize::MAX,
            max: MAX_FRAME_LEN,
        };
        assert_eq!(encode_header(id(2), usize::MAX, &mut out), Err(huge));
    }

    #[test]
    fn test_error_classification_and_display() {
        let decode_errors = [
            FramingError::BadMarker,
            FramingError::BadInvokeId,
            FramingError::TooShort { length: 7 },
            FramingError::TooLong { length: 9, max: 8 },
        ];
        assert!(decode_errors.iter().all(FramingError::drop_connection));
        assert!(!FramingError::BufferTooSmall { required: 9 }.drop_connection());
        assert_eq!(
            FramingError::TooLong {
                length: 1091,
                max: 1024
            }
            .to_string(),
            "frame length 1091 exceeds the maximum of 1024"
        );
        let e: &dyn core::error::Error = &FramingError::BadMarker;
        assert_eq!(e.to_string(), "frame header does not start with 00 00");
    }

    #[test]
    fn test_vectors_decode() {
        for (bytes, root) in [
            (ORIGINATED, &b"OriginatedEvent"[..]),
            (SERVICE_INITIATED, b"ServiceInitiatedEvent"),
        ] {
            let (f, used) = decode(bytes, MAX_FRAME_LEN).unwrap().complete().unwrap();
            assert_eq!(used, bytes.len());
            assert!(f.invoke_id.is_event());
            assert!(
                f.body
                    .starts_with(br#"<?xml version="1.0" encoding="UTF-8"?><"#)
            );
            assert!(f.body.ends_with(&[b"</", root, b">"].concat()));
            assert_eq!(frame(9999, f.body), bytes, "re-encodes to the same octets");
        }
        assert_eq!((ORIGINATED.len(), SERVICE_INITIATED.len()), (1091, 1003));
    }

    #[test]
    fn test_vectors_byte_by_byte() {
        let stream = [ORIGINATED, SERVICE_INITIATED].concat();
        let mut reader = FrameReader::new([0u8; 1100], 1100);
        let mut frames = Vec::new();
        for byte in stream.chunks(1) {
            frames.extend(read_all(&mut reader, [byte]).unwrap());
            assert!(!reader.spare().is_empty());
        }
        assert_eq!(frames.len(), 2);
        for ((n, body), bytes) in frames.iter().zip([ORIGINATED, SERVICE_INITIATED]) {
            assert_eq!(*n, 9999);
            assert_eq!(body[..], bytes[8..]);
            assert!(body.starts_with(b"<?xml") && body.ends_with(b"Event>"));
        }
        assert_eq!(reader.buffered(), 0);
    }

    #[test]
    fn test_many_frames_in_one_push() {
        let mut stream = Vec::new();
        for n in 0..50u16 {
            stream.extend(frame(n, &std::vec![b'a' + (n % 26) as u8; usize::from(n)]));
        }
        let mut reader = FrameReader::new([0u8; 4096], 4096);
        assert_eq!(reader.push(&stream), stream.len());
        for n in 0..50u16 {
            let f = reader.next_frame().unwrap().unwrap();
            assert_eq!((f.invoke_id.get(), f.body.len()), (n, usize::from(n)));
        }
        assert_eq!(reader.next_frame(), Ok(None));
        assert_eq!(reader.spare().len(), 4096);
    }

    #[test]
    fn test_split_header_across_pushes() {
        let bytes = frame(1234, b"<x/>");
        let mut reader = FrameReader::new([0u8; 64], 64);
        for piece in [&bytes[..1], &bytes[1..3], &bytes[3..5], &bytes[5..7]] {
            assert_eq!(reader.push(piece), piece.len());
            assert_eq!(reader.next_frame(), Ok(None));
        }
        assert_eq!(reader.push(&bytes[7..]), bytes.len() - 7);
        assert_eq!(
            reader.next_frame(),
            Ok(Some(Frame {
                invoke_id: id(1234),
                body: b"<x/>"
            }))
        );
    }

    #[test]
    fn test_every_split_point_of_two_frames() {
        let stream = [ORIGINATED, SERVICE_INITIATED].concat();
        let expected = std::vec![
            (9999, ORIGINATED[8..].to_vec()),
            (9999, SERVICE_INITIATED[8..].to_vec())
        ];
        for split in 0..=stream.len() {
            let mut reader = FrameReader::new([0u8; 1091], 1091);
            let (a, b) = stream.split_at(split);
            assert_eq!(
                read_all(&mut reader, [a, b]).unwrap(),
                expected,
                "split at {split}"
            );
        }
        // Every pair of split points of two small frames, through the smallest buffer.
        let stream = [frame(1, b"<a/>"), frame(2, b"")].concat();
        let expected = std::vec![(1, b"<a/>".to_vec()), (2, Vec::new())];
        for i in 0..=stream.len() {
            for j in i..=stream.len() {
                let mut reader = FrameReader::new([0u8; 12], 12);
                let pieces = [&stream[..i], &stream[i..j], &stream[j..]];
                assert_eq!(
                    read_all(&mut reader, pieces).unwrap(),
                    expected,
                    "split {i} {j}"
                );
            }
        }
    }

    #[test]
    fn test_push_into_full_buffer() {
        let stream = [frame(1, b"<one/>"), frame(2, b"<two/>")].concat(); // 14 + 14
        let mut reader = FrameReader::new([0u8; 20], 20);
        assert_eq!(reader.push(&stream), 20);
        assert_eq!(reader.push(&stream[20..]), 0, "full");
        assert!(reader.spare().is_empty());
        assert_eq!(reader.next_frame().unwrap().unwrap().body, b"<one/>");
        assert_eq!(reader.next_frame(), Ok(None));
        assert_eq!(reader.spare().len(), 14);
        assert_eq!(reader.push(&stream[20..]), 8);
        assert_eq!(reader.next_frame().unwrap().unwrap().body, b"<two/>");
    }

    #[test]
    fn test_sticky_error() {
        let mut reader = FrameReader::new([0u8; 64], 64);
        let good = frame(3, b"<ok/>");
        reader.push(&good);
        reader.push(b"\x00\x00\x00\x0c12x4");
        reader.push(&good);
        assert_eq!(reader.next_frame().unwrap().unwrap().invoke_id, id(3));
        for _ in 0..3 {
            assert_eq!(reader.next_frame(), Err(FramingError::BadInvokeId));
        }
        reader.push(&good);
        assert_eq!(reader.next_frame(), Err(FramingError::BadInvokeId));
        reader.reset();
        assert_eq!((reader.buffered(), reader.push(&good)), (0, good.len()));
        assert_eq!(reader.next_frame().unwrap().unwrap().invoke_id, id(3));
    }

    #[test]
    fn test_spare_commit() {
        let bytes = frame(9, b"<spare/>");
        let mut reader = FrameReader::new([0u8; 32], 32);
        reader.spare()[..5].copy_from_slice(&bytes[..5]);
        reader.commit(5);
        assert_eq!((reader.buffered(), reader.spare().len()), (5, 27));
        let spare = reader.spare();
        spare[..bytes.len() - 5].copy_from_slice(&bytes[5..]);
        reader.commit(bytes.len() - 5);
        assert_eq!(reader.next_frame().unwrap().unwrap().body, b"<spare/>");
        // Too large a commit is clamped to the spare space.
        assert_eq!(reader.spare().len(), 32);
        reader.commit(usize::MAX);
        assert_eq!(reader.buffered(), 32);
        reader.commit(1);
        assert_eq!(reader.buffered(), 32);
        assert!(reader.spare().is_empty());
    }

    #[test]
    fn test_spare_not_empty_after_partial() {
        // Frames as large as the buffer, arriving in reads that straddle them.
        let stream = [
            frame(1, &[b'1'; 24]),
            frame(2, &[b'2'; 24]),
            frame(3, &[b'3'; 24]),
        ]
        .concat();
        for step in 1..stream.len() {
            let mut reader = FrameReader::new([0u8; 32], 32);
            let mut rest = &stream[..];
            let mut seen = 0;
            loop {
                while let Some(f) = reader.next_frame().unwrap() {
                    seen += 1;
                    assert_eq!(f.invoke_id.get(), seen);
                }
                let spare = reader.spare();
                assert!(!spare.is_empty());
                let n = spare.len().min(rest.len()).min(step);
                if n == 0 {
                    break;
                }
                spare[..n].copy_from_slice(&rest[..n]);
                rest = &rest[n..];
                reader.commit(n);
            }
            assert_eq!(seen, 3, "step {step}");
        }
    }

    #[test]
    fn test_no_panic_on_arbitrary_calls() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let valid = [frame(1, b"<a/>"), frame(9999, b"")].concat();
        for round in 0..2000 {
            let size = (next() % 40) as usize;
            let mut storage = [0u8; 40];
            let mut reader = FrameReader::new(&mut storage[..size], (next() % 64) as usize);
            for _ in 0..30 {
                match next() % 5 {
                    0 => {
                        let start = (next() as usize) % valid.len();
                        reader.push(&valid[start..]);
                    }
                    1 => {
                        let noise: Vec<u8> =
                            (0..next() % 10).map(|_| next() as u8 % 4 * 16).collect();
                        reader.push(&noise);
                    }
                    2 => reader.commit((next() % 50) as usize),
                    3 => {
                        let _ = reader.spare().len();
                    }
                    _ => {
                        let _ = reader.next_frame();
                    }
                }
                assert!(reader.buffered() <= size, "round {round}");
            }
        }
    }

    /// The estos trace prints each message's invokeID (the header's last four octets)
    /// before its XML, but not the binary marker and length, and its line ends may not be
    /// the wire's. The frames are rebuilt from the bodies as logged; what they show is
    /// that request and reply carry the same invokeID, 1011.
    #[test]
    fn test_estos_log_request_and_reply_share_invoke_id() {
        let log = core::str::from_utf8(ESTOS_LOG).unwrap();
        let mut stream = Vec::new();
        for record in log.split("\n\n") {
            let (log_line, message) = record.split_once('\n').unwrap();
            assert!(log_line.ends_with("SendData;") || log_line.ends_with("DataReceive;"));
            let (digits, xml) = message.split_at(4);
            let invoke_id = InvokeId::from_digits(*digits.as_bytes().first_chunk().unwrap());
            stream.extend(frame(invoke_id.unwrap().get(), xml.trim().as_bytes()));
        }
        assert_eq!(&stream[..2], b"\x00\x00");
        assert_eq!(&stream[4..8], b"1011");

        let mut reader = FrameReader::new([0u8; 1024], 1024);
        let frames = read_all(&mut reader, stream.chunks(7)).unwrap();
        assert_eq!(frames.len(), 2);
        let (request, reply) = (&frames[0], &frames[1]);
        assert_eq!((request.0, reply.0), (1011, 1011));
        assert!(request.1.starts_with(b"<?xml") && request.1.ends_with(b"</csta:MonitorStart>"));
        assert!(
            reply.1.starts_with(b"<csta:CSTAErrorCode")
                && reply.1.ends_with(b"</csta:CSTAErrorCode>")
        );
    }
}
