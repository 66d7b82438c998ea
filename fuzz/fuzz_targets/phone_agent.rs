//! Drives one `ucsta_phone::Phone` with a sequence of datagrams, handset actions and
//! clock steps taken from the input: whatever arrives, the phone never panics, never
//! spins (every input returns) and its outputs stay within its buffers.
//!
//! Input: the first byte picks the transport (odd: TCP, the chunks are pieces of one
//! stream; even: UDP, each chunk a datagram), then chunks separated by `\0`. A chunk
//! starting with `!` is a control chunk: its next byte picks an action or a clock
//! step; any other chunk is a datagram from one of two peers (the proxy, or a
//! stranger), chosen by the chunk's length, or the next piece of the stream.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_lite::time::Instant;
use ucsta_phone::{Action, Forward, Phone, Transport};

const BUF: usize = 2048;
type Line = Phone<u8, 2, 8, { 4 * BUF }, BUF, 4>;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, data)) = data.split_first() else {
        return;
    };
    let tcp = mode % 2 == 1;
    let mut cfg = ucsta_phone::Config::new(
        "201",
        "secret",
        "pbx.example",
        1,
        "192.0.2.9",
        5060,
        [3; 32],
    );
    if tcp {
        cfg.transport = Transport::Tcp;
    }
    let mut stream: Vec<u8> = Vec::new();
    let mut phone = Box::new(Line::new(&cfg).expect("config fits"));
    let mut now = Instant::from_secs(1);
    let mut out = vec![0u8; BUF];
    phone.handle_action(now, Action::Register);
    for chunk in data.split(|b| *b == 0) {
        match chunk {
            [b'!', op, rest @ ..] => {
                let arg = core::str::from_utf8(rest).unwrap_or("202");
                let action = match op % 16 {
                    0 => Action::Call(arg),
                    1 => Action::Answer,
                    2 => Action::Hangup,
                    3 => Action::Hold,
                    4 => Action::Retrieve,
                    5 => Action::Transfer(arg),
                    6 => Action::CompleteTransfer,
                    7 => Action::Conference,
                    8 => Action::Deflect(arg),
                    9 => Action::Digits(arg),
                    10 => Action::DoNotDisturb(rest.is_empty()),
                    11 => Action::Forward(Forward::Immediate, (!rest.is_empty()).then_some(arg)),
                    12 => Action::OffHook,
                    13 => Action::Dial(arg),
                    14 => Action::AutoAnswer(rest.is_empty()),
                    _ => {
                        // A clock step of up to 40 s, firing what is due.
                        let step = u64::from(rest.first().copied().unwrap_or(1)) * 160;
                        now = Instant::from_millis(now.as_millis() + step);
                        if phone.poll_timeout().is_some_and(|t| t <= now) {
                            phone.handle_timeout(now);
                        }
                        continue;
                    }
                };
                phone.handle_action(now, action);
            }
            piece if tcp => {
                stream.extend_from_slice(piece);
                match phone.handle_stream(now, 1, &stream) {
                    Ok(used) => {
                        assert!(used <= stream.len());
                        stream.drain(..used);
                        assert!(stream.len() <= BUF, "the phone keeps too much undelimited");
                    }
                    Err(_) => {
                        stream.clear();
                        phone.handle_connection_lost(now);
                    }
                }
            }
            datagram => phone.handle_datagram(now, 1 + (datagram.len() % 2) as u8, datagram),
        }
        while let Some((to, n)) = phone.poll_transmit(&mut out) {
            assert!(n <= BUF && to <= 2);
        }
        while phone.poll_report().is_some() {}
        if let Some(t) = phone.poll_timeout() {
            assert!(
                t.as_millis() < now.as_millis() + 3_600_000 * 24,
                "a timer far away"
            );
        }
    }
});
