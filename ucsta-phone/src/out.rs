//! The datagrams a phone sends beside its transaction layer's (ACKs and 2xx
//! retransmissions of its calls, stateless answers, provisional responses taken out
//! of the layer early, keep-alive answers), packed in a ring of octets rather than a
//! buffer of the largest message size each.

use heapless::Deque;

/// The queue refused a message: `K` messages wait already, or their octets leave no
/// room for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Full;

/// Up to `K` messages in `R` times `BUF` octets, first in first out. Every message
/// lies in one piece: one that does not fit before the end of the ring starts at its
/// beginning, when the octets there are free.
pub(crate) struct OutQueue<A, const BUF: usize, const R: usize, const K: usize> {
    ring: [[u8; BUF]; R],
    /// Each message's destination, first octet and length.
    queue: Deque<(A, u32, u32), K>,
}

impl<A: Copy, const BUF: usize, const R: usize, const K: usize> OutQueue<A, BUF, R, K> {
    /// An empty queue, all zero bits.
    pub(crate) const fn new() -> Self {
        OutQueue {
            ring: [[0; BUF]; R],
            queue: Deque::new(),
        }
    }

    /// Queues `bytes` for `to`. An empty message is not queued.
    pub(crate) fn push(&mut self, to: A, bytes: &[u8]) -> Result<(), Full> {
        let n = bytes.len();
        if n == 0 {
            return Ok(());
        }
        let capacity = BUF * R;
        if n > capacity || self.queue.is_full() {
            return Err(Full);
        }
        let start = match (self.queue.front(), self.queue.back()) {
            (Some(&(_, head, _)), Some(&(_, last, len))) => {
                let (head, tail) = (head as usize, last as usize + len as usize);
                if last as usize >= head {
                    // One run from head to tail: free after it, and before head.
                    if tail + n <= capacity {
                        tail
                    } else if n <= head {
                        0
                    } else {
                        return Err(Full);
                    }
                } else if tail + n <= head {
                    // Wrapped: free between tail and head only.
                    tail
                } else {
                    return Err(Full);
                }
            }
            _ => 0,
        };
        self.ring.as_flattened_mut()[start..start + n].copy_from_slice(bytes);
        // Not full: checked above.
        let _ = self.queue.push_back((to, start as u32, n as u32));
        Ok(())
    }

    /// The oldest message and where it goes.
    pub(crate) fn front(&self) -> Option<(A, &[u8])> {
        let &(to, start, len) = self.queue.front()?;
        let start = start as usize;
        Some((to, &self.ring.as_flattened()[start..start + len as usize]))
    }

    /// Drops the oldest message.
    pub(crate) fn pop(&mut self) {
        self.queue.pop_front();
    }

    /// Drops every message.
    pub(crate) fn clear(&mut self) {
        self.queue.clear();
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::{Full, OutQueue};

    fn drain<const B: usize, const R: usize, const K: usize>(
        q: &mut OutQueue<u8, B, R, K>,
    ) -> std::vec::Vec<(u8, std::vec::Vec<u8>)> {
        let mut out = std::vec::Vec::new();
        while let Some((to, bytes)) = q.front() {
            out.push((to, bytes.to_vec()));
            q.pop();
        }
        out
    }

    #[test]
    fn messages_come_out_in_order_and_whole() {
        let mut q: OutQueue<u8, 8, 2, 4> = OutQueue::new();
        q.push(1, b"abcde").unwrap();
        q.push(2, b"fghij").unwrap();
        q.push(3, b"").unwrap();
        assert_eq!(
            drain(&mut q),
            [(1, b"abcde".to_vec()), (2, b"fghij".to_vec())]
        );
        assert!(q.front().is_none());
    }

    #[test]
    fn a_message_wraps_to_the_start_when_the_octets_there_are_free() {
        // 16 octets: 6 + 6 fill to 12; the first leaves; 5 do not fit after 12 (4
        // left) but do at 0..5, before the second message at 6.
        let mut q: OutQueue<u8, 8, 2, 4> = OutQueue::new();
        q.push(1, b"aaaaaa").unwrap();
        q.push(2, b"bbbbbb").unwrap();
        assert_eq!(q.push(3, b"ccccc"), Err(Full));
        q.pop();
        q.push(3, b"ccccc").unwrap();
        // Wrapped: only 5..6 is free now.
        assert_eq!(q.push(4, b"dd"), Err(Full));
        q.push(4, b"d").unwrap();
        assert_eq!(
            drain(&mut q),
            [
                (2, b"bbbbbb".to_vec()),
                (3, b"ccccc".to_vec()),
                (4, b"d".to_vec())
            ]
        );
        // Empty again: the whole ring is free.
        q.push(5, &[b'e'; 16]).unwrap();
        assert_eq!(q.push(6, b"f"), Err(Full));
        assert_eq!(drain(&mut q), [(5, [b'e'; 16].to_vec())]);
    }

    #[test]
    fn larger_than_the_ring_or_too_many_is_refused() {
        let mut q: OutQueue<u8, 4, 2, 2> = OutQueue::new();
        assert_eq!(q.push(1, &[0; 9]), Err(Full));
        q.push(1, b"a").unwrap();
        q.push(2, b"b").unwrap();
        assert_eq!(q.push(3, b"c"), Err(Full));
        q.clear();
        assert!(q.front().is_none());
        q.push(3, b"c").unwrap();
        assert_eq!(drain(&mut q), [(3, b"c".to_vec())]);
    }
}
