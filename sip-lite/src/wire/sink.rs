//! Byte sinks the emitter writes into: a caller's slice, a `heapless::Vec`, a
//! `core::fmt::Write`, or a counter that measures how long the output would be.

use core::fmt;

use crate::error::EmitError;

/// Where emitted octets go.
///
/// Every write is all-or-nothing from the caller's point of view: on error the sink may
/// hold a prefix of the output, which the caller discards.
pub trait Sink {
    /// Appends `bytes`.
    ///
    /// # Errors
    /// [`EmitError::InsufficientSize`] when the sink is full, [`EmitError::NotText`] when a
    /// text sink receives octets that are not UTF-8.
    fn put(&mut self, bytes: &[u8]) -> Result<(), EmitError>;

    /// Appends a decimal number.
    ///
    /// # Errors
    /// As [`Sink::put`].
    #[inline]
    fn put_u32(&mut self, v: u32) -> Result<(), EmitError> {
        let mut buf = [0u8; 10];
        let mut i = buf.len();
        let mut v = v;
        loop {
            i -= 1;
            buf[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.put(&buf[i..])
    }
}

impl<S: Sink + ?Sized> Sink for &mut S {
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<(), EmitError> {
        (**self).put(bytes)
    }
}

/// Writes into a caller-provided slice.
#[derive(Debug)]
pub struct SliceSink<'b> {
    buf: &'b mut [u8],
    len: usize,
    overflow: usize,
}

impl<'b> SliceSink<'b> {
    /// Starts writing at the beginning of `buf`.
    #[inline]
    pub fn new(buf: &'b mut [u8]) -> Self {
        SliceSink {
            buf,
            len: 0,
            overflow: 0,
        }
    }

    /// Octets written so far.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing has been written.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The octets written so far.
    #[inline]
    pub fn written(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Consumes the sink, returning the written prefix of the buffer.
    #[inline]
    pub fn into_written(self) -> &'b mut [u8] {
        &mut self.buf[..self.len]
    }
}

impl Sink for SliceSink<'_> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<(), EmitError> {
        let end = self.len + bytes.len();
        match self.buf.get_mut(self.len..end) {
            Some(dst) if self.overflow == 0 => {
                dst.copy_from_slice(bytes);
                self.len = end;
                Ok(())
            }
            _ => {
                self.overflow += bytes.len();
                Err(EmitError::InsufficientSize {
                    required: self.len + self.overflow,
                })
            }
        }
    }
}

/// Counts octets without storing them; `buffer_len` implementations use it.
#[derive(Debug, Default, Clone, Copy)]
pub struct CountingSink {
    /// Octets written so far.
    pub len: usize,
}

impl Sink for CountingSink {
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<(), EmitError> {
        self.len += bytes.len();
        Ok(())
    }
}

impl<const N: usize> Sink for heapless::Vec<u8, N> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<(), EmitError> {
        self.extend_from_slice(bytes)
            .map_err(|_| EmitError::InsufficientSize { required: 0 })
    }
}

/// Adapts a [`core::fmt::Write`] (a `heapless::String`, a `Formatter`, a UART writer) as a
/// sink. Octets must form UTF-8 text in every single `put`, which the emitter guarantees
/// for everything but message bodies.
#[derive(Debug)]
pub struct FmtSink<W>(pub W);

impl<W: fmt::Write> Sink for FmtSink<W> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<(), EmitError> {
        let s = core::str::from_utf8(bytes).map_err(|_| EmitError::NotText)?;
        self.0
            .write_str(s)
            .map_err(|_| EmitError::InsufficientSize { required: 0 })
    }
}

/// Something that writes its wire form into a [`Sink`]. Every typed header value,
/// URI and parameter list implements it, and `Display` is derived from it.
pub trait Emit {
    /// Writes the wire form.
    ///
    /// # Errors
    /// Whatever the sink reports.
    fn emit<S: Sink + ?Sized>(&self, out: &mut S) -> Result<(), EmitError>;

    /// The number of octets [`Emit::emit`] writes.
    fn buffer_len(&self) -> usize {
        let mut c = CountingSink::default();
        // A counting sink never fails.
        let _ = self.emit(&mut c);
        c.len
    }
}

/// Implements `Display` through [`Emit`].
macro_rules! display_via_emit {
    ($($t:ident),*) => {
        $(impl core::fmt::Display for $t<'_> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                $crate::wire::Emit::emit(self, &mut $crate::wire::FmtSink(f))
                    .map_err(|_| core::fmt::Error)
            }
        })*
    };
}
pub(crate) use display_via_emit;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_slice_sink_overflow_reports_required() {
        let mut buf = [0u8; 4];
        let mut s = SliceSink::new(&mut buf);
        s.put(b"abc").unwrap();
        assert_eq!(
            s.put(b"de"),
            Err(EmitError::InsufficientSize { required: 5 })
        );
        assert_eq!(
            s.put(b"fgh"),
            Err(EmitError::InsufficientSize { required: 8 })
        );
        assert_eq!(s.written(), b"abc");
    }

    #[test]
    fn test_put_u32() {
        let mut v: heapless::Vec<u8, 16> = heapless::Vec::new();
        v.put_u32(0).unwrap();
        v.put(b" ").unwrap();
        v.put_u32(4294967295).unwrap();
        assert_eq!(&v[..], b"0 4294967295");
    }
}
