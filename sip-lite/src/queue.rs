//! A first-in first-out queue of messages of any length packed in a ring of octets,
//! for what waits to be sent: a transmit queue whose messages are mostly far smaller
//! than the largest it must take needs a few of the largest in octets, not one each.
//!
//! ```
//! use sip_lite::queue::MessageQueue;
//!
//! // Up to 8 messages in 2 x 64 octets, each with its destination.
//! let mut q: MessageQueue<u8, 64, 2, 8> = MessageQueue::new();
//! q.push(1, b"OPTIONS ...").unwrap();
//! q.push_with(2, |buf| {
//!     buf[..3].copy_from_slice(b"ACK");
//!     Ok::<_, ()>(3)
//! })
//! .unwrap();
//! assert_eq!(q.front(), Some((1, &b"OPTIONS ..."[..])));
//! q.pop();
//! assert_eq!(q.front(), Some((2, &b"ACK"[..])));
//! ```

use heapless::Deque;

/// The queue refused a message: `K` messages wait already, or their octets leave no
/// room for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Full;

impl core::fmt::Display for Full {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("message queue full")
    }
}

impl core::error::Error for Full {}

/// Why [`MessageQueue::push_with`] queued nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PushError<E> {
    /// No message slot, or no free octets.
    Full,
    /// The writer failed (given the longest free run of octets).
    Write(E),
}

/// Up to `K` messages in `R` times `BUF` octets, first in first out, each with a tag
/// `T` (a destination, a kind). Every message lies in one piece: one that does not fit
/// before the end of the ring starts at its beginning, when the octets there are
/// free. (The size is given as `R` times `BUF` so that a caller generic over its
/// largest message `BUF` can ask for a few of them.) All zero bits when empty.
pub struct MessageQueue<T, const BUF: usize, const R: usize, const K: usize> {
    ring: [[u8; BUF]; R],
    /// Each message's tag, first octet and length.
    queue: Deque<(T, u32, u32), K>,
}

impl<T, const BUF: usize, const R: usize, const K: usize> core::fmt::Debug
    for MessageQueue<T, BUF, R, K>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MessageQueue")
            .field("messages", &self.queue.len())
            .field("capacity", &(BUF * R))
            .finish_non_exhaustive()
    }
}

impl<T: Copy, const BUF: usize, const R: usize, const K: usize> Default
    for MessageQueue<T, BUF, R, K>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Copy, const BUF: usize, const R: usize, const K: usize> MessageQueue<T, BUF, R, K> {
    const CHECK: () = assert!(
        BUF * R <= u32::MAX as usize,
        "a message queue holds less than 4 GiB"
    );

    /// An empty queue.
    pub const fn new() -> Self {
        let () = Self::CHECK;
        MessageQueue {
            ring: [[0; BUF]; R],
            queue: Deque::new(),
        }
    }

    /// How many messages wait.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether no message waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Queues a copy of `bytes`. An empty message is not queued.
    ///
    /// # Errors
    /// [`Full`].
    pub fn push(&mut self, tag: T, bytes: &[u8]) -> Result<(), Full> {
        let n = bytes.len();
        if n == 0 {
            return Ok(());
        }
        let start = self.room(n).ok_or(Full)?;
        self.ring.as_flattened_mut()[start..start + n].copy_from_slice(bytes);
        self.commit(tag, start, n);
        Ok(())
    }

    /// Queues a message written in place: `write` gets the longest run of free
    /// octets and returns how many it wrote (none: nothing is queued).
    ///
    /// # Errors
    /// [`PushError::Full`] when no message slot or octet is free,
    /// [`PushError::Write`] with the writer's error, which may only mean that the
    /// free run was shorter than the message (an empty queue offers all its octets).
    pub fn push_with<E>(
        &mut self,
        tag: T,
        write: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<(), PushError<E>> {
        let (start, len) = self.longest_free().ok_or(PushError::Full)?;
        let n = write(&mut self.ring.as_flattened_mut()[start..start + len])
            .map_err(PushError::Write)?;
        if n > 0 {
            self.commit(tag, start, n.min(len));
        }
        Ok(())
    }

    fn commit(&mut self, tag: T, start: usize, n: usize) {
        // Not full: `room` and `longest_free` checked.
        let _ = self.queue.push_back((tag, start as u32, n as u32));
    }

    /// Where `n` octets can go, if anywhere.
    fn room(&self, n: usize) -> Option<usize> {
        self.free_runs()
            .into_iter()
            .flatten()
            .find(|r| r.1 >= n)
            .map(|r| r.0)
    }

    /// The longest free run (start, length), if a message slot is free.
    fn longest_free(&self) -> Option<(usize, usize)> {
        self.free_runs()
            .into_iter()
            .flatten()
            .filter(|r| r.1 > 0)
            .max_by_key(|r| r.1)
    }

    /// The runs a new message may take, in the order to try them: after the last
    /// message, then from the start of the ring. None when every slot is taken.
    fn free_runs(&self) -> [Option<(usize, usize)>; 2] {
        let capacity = BUF * R;
        if self.queue.is_full() {
            return [None, None];
        }
        match (self.queue.front(), self.queue.back()) {
            (Some(&(_, head, _)), Some(&(_, last, len))) => {
                let (head, tail) = (head as usize, last as usize + len as usize);
                if last as usize >= head {
                    // One run from head to tail: free after it, and before head.
                    [Some((tail, capacity - tail)), Some((0, head))]
                } else {
                    // Wrapped: free between tail and head only.
                    [Some((tail, head - tail)), None]
                }
            }
            _ => [Some((0, capacity)), None],
        }
    }

    /// The oldest message and its tag.
    pub fn front(&self) -> Option<(T, &[u8])> {
        let &(tag, start, len) = self.queue.front()?;
        Some((tag, self.octets(start, len)))
    }

    /// Takes the oldest message out of the queue: its tag and its octets, which stay
    /// where they are until the queue is next changed.
    pub fn pop_front(&mut self) -> Option<(T, &[u8])> {
        let (tag, start, len) = self.queue.pop_front()?;
        Some((tag, self.octets(start, len)))
    }

    /// The octets of the message at `start`.
    fn octets(&self, start: u32, len: u32) -> &[u8] {
        let start = start as usize;
        &self.ring.as_flattened()[start..start + len as usize]
    }

    /// Drops the oldest message.
    pub fn pop(&mut self) {
        self.queue.pop_front();
    }

    /// Drops every message.
    pub fn clear(&mut self) {
        self.queue.clear();
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::{Full, MessageQueue as OutQueue, PushError};

    fn drain<const B: usize, const R: usize, const K: usize>(
        q: &mut OutQueue<u8, B, R, K>,
    ) -> std::vec::Vec<(u8, std::vec::Vec<u8>)> {
        let mut out = std::vec::Vec::new();
        while let Some((to, bytes)) = q.pop_front() {
            out.push((to, bytes.to_vec()));
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

    #[test]
    fn written_in_place_into_the_longest_free_run() {
        let mut q: OutQueue<u8, 8, 2, 4> = OutQueue::new();
        q.push(1, b"aaaaaa").unwrap();
        q.push(2, b"bbbbbb").unwrap();
        q.pop();
        // Free: 12..16 (4) and 0..6 (6): the writer gets the 6.
        q.push_with(3, |buf| {
            assert_eq!(buf.len(), 6);
            buf[..2].copy_from_slice(b"cc");
            Ok::<_, ()>(2)
        })
        .unwrap();
        assert_eq!(
            q.push_with(4, |_| Err::<usize, _>("no")),
            Err(PushError::Write("no"))
        );
        // Nothing written: nothing queued.
        q.push_with(4, |_| Ok::<_, ()>(0)).unwrap();
        assert_eq!(q.len(), 2);
        assert_eq!(
            drain(&mut q),
            [(2, b"bbbbbb".to_vec()), (3, b"cc".to_vec())]
        );
        let mut full: OutQueue<u8, 4, 1, 1> = OutQueue::new();
        full.push(1, b"x").unwrap();
        assert_eq!(full.push_with(2, |_| Ok::<_, ()>(1)), Err(PushError::Full));
    }
}
