//! Pieces shared by the two-node uaCSTA tests: a simulated datagram network on a
//! virtual clock, and a one-line summary of a SIP message.

#![allow(dead_code)]

use core::time::Duration;
use std::collections::BTreeMap;
use std::format;
use std::string::String;
use std::vec::Vec;

use sip_lite::time::Instant;
use sip_lite::wire::{HeaderIndex, Message};

/// The application side's node number.
pub(crate) const APP: u8 = 0;
/// The phone side's node number.
pub(crate) const PHONE: u8 = 1;

/// `t` milliseconds after the start.
pub(crate) fn ms(t: u64) -> Instant {
    Instant::from_millis(t)
}

/// `INVITE` for a request, `200 INVITE` for a response.
pub(crate) fn summary(bytes: &[u8]) -> String {
    let mut hs = [HeaderIndex::EMPTY; 64];
    let msg = Message::parse(bytes, &mut hs).expect("a message the stack built");
    let cseq = msg.cseq().expect("CSeq");
    match msg.status() {
        Some(s) => format!("{} {}", s.0, cseq.method),
        None => format!("{}", cseq.method),
    }
}

/// A datagram network between two nodes: fixed latency plus jitter (which reorders),
/// loss and duplication in per mille, from a seeded generator.
pub(crate) struct Net {
    rng: u64,
    loss: u64,
    duplicate: u64,
    latency: u64,
    jitter: u64,
    queue: BTreeMap<(Instant, u64), (u8, Vec<u8>)>,
    seq: u64,
    /// Everything this node sends is lost.
    pub(crate) cut: [bool; 2],
    /// Every message sent, as `time direction summary`.
    pub(crate) trace: Vec<String>,
}

impl Net {
    /// 10 ms each way, nothing lost.
    pub(crate) fn perfect() -> Net {
        Net {
            rng: 1,
            loss: 0,
            duplicate: 0,
            latency: 10,
            jitter: 0,
            queue: BTreeMap::new(),
            seq: 0,
            cut: [false; 2],
            trace: Vec::new(),
        }
    }

    /// Loss and duplication in per mille, jitter in milliseconds.
    pub(crate) fn lossy(seed: u64, loss: u64, duplicate: u64, jitter: u64) -> Net {
        Net {
            rng: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
            loss,
            duplicate,
            jitter,
            ..Net::perfect()
        }
    }

    fn random(&mut self) -> u64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11
    }

    /// Sends `bytes` from node `from` to the other one.
    pub(crate) fn send(&mut self, now: Instant, from: u8, bytes: &[u8]) {
        let name = if from == APP { "A>P" } else { "P>A" };
        self.trace
            .push(format!("{} {name} {}", now.as_millis(), summary(bytes)));
        if self.cut[usize::from(from)] {
            return;
        }
        let copies = if self.random() % 1000 < self.duplicate {
            2
        } else {
            1
        };
        for _ in 0..copies {
            if self.random() % 1000 < self.loss {
                continue;
            }
            let delay = self.latency + self.random() % (self.jitter + 1);
            self.seq += 1;
            self.queue.insert(
                (now + Duration::from_millis(delay), self.seq),
                (1 - from, bytes.to_vec()),
            );
        }
    }

    /// When the next datagram arrives.
    pub(crate) fn next_delivery(&self) -> Option<Instant> {
        self.queue.keys().next().map(|k| k.0)
    }

    /// The next datagram: when it arrives, to which node, what.
    pub(crate) fn pop(&mut self) -> Option<(Instant, u8, Vec<u8>)> {
        let (&key, _) = self.queue.iter().next()?;
        let (to, bytes) = self.queue.remove(&key)?;
        Some((key.0, to, bytes))
    }
}
