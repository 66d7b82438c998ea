//! Drives two transaction layers with arbitrary sequences of operations: received
//! messages (raw fuzz bytes or templated requests and responses whose keys collide on
//! purpose), requests and responses from the TU, CANCELs, transport errors and clock
//! jumps. Checks that nothing panics, the table never holds more than its capacity,
//! everything the layer sends parses, no timer is left overdue after it fired, and
//! stale handles are refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_lite::time::Instant;
use sip_lite::transaction::{ClientTx, Config, Received, ServerTx, Transactions, TxError};
use sip_lite::wire::{HeaderIndex, Message, SliceSink, StatusCode, Writer};

const N: usize = 4;
type Layer = Transactions<u8, N, 1024>;

const METHODS: [&str; 6] = ["INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "INFO"];
const STATUSES: [u16; 8] = [100, 180, 183, 200, 202, 404, 486, 603];

/// A request with fields picked by `sel`: few distinct values, so that keys collide.
fn request(sel: u8, seq: u8) -> String {
    let method = METHODS[usize::from(sel % 6)];
    let branch = if sel & 0x40 != 0 { "old" } else { "z9hG4bK-" };
    let id = (sel >> 3) & 3;
    let to_tag = if sel & 0x80 != 0 { ";tag=t" } else { "" };
    format!(
        "{method} sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP a.example.com;branch={branch}{id}\r\n\
         From: <sip:a@example.com>;tag=f{id}\r\nTo: <sip:b@example.com>{to_tag}\r\n\
         Call-ID: c{id}\r\nCSeq: {seq} {method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
}

fn respond_to(request: &[u8], status: u16, out: &mut [u8]) -> Option<usize> {
    let mut h = [HeaderIndex::EMPTY; 32];
    let msg = Message::parse(request, &mut h).ok()?;
    let w = Writer::response_to(SliceSink::new(out), &msg, StatusCode(status), "", Some("t")).ok()?;
    Some(w.finish(b"").ok()?.len())
}

struct Side {
    layer: Layer,
    clients: Vec<ClientTx>,
    servers: Vec<(ServerTx, Vec<u8>)>,
}

fn drain(side: &mut Side, now: Instant, wire: &mut Vec<Vec<u8>>) {
    while let Some(t) = side.layer.poll_transmit() {
        let mut h = [HeaderIndex::EMPTY; 64];
        assert!(Message::parse(t.bytes, &mut h).is_ok(), "the layer sent something unparsable");
        wire.push(t.bytes.to_vec());
    }
    while side.layer.poll_event().is_some() {}
    assert!(side.layer.len() <= N);
    if let Some(at) = side.layer.poll_timeout()
        && at <= now
    {
        side.layer.handle_timeout(now);
        while side.layer.poll_transmit().is_some() {}
        while side.layer.poll_event().is_some() {}
        side.layer.handle_timeout(now);
        assert!(side.layer.poll_timeout().is_none_or(|at| at > now), "overdue timer");
    }
}

fuzz_target!(|data: &[u8]| {
    let mut sides = [
        Side { layer: Layer::new(Config::DEFAULT), clients: Vec::new(), servers: Vec::new() },
        Side { layer: Layer::new(Config::DEFAULT), clients: Vec::new(), servers: Vec::new() },
    ];
    let mut now = Instant::ZERO;
    let mut wire: Vec<Vec<u8>> = Vec::new();
    let mut out = [0u8; 1024];
    let mut i = 0;
    while i + 3 <= data.len() {
        let (op, a, b) = (data[i], data[i + 1], data[i + 2]);
        i += 3;
        let who = usize::from(op >> 7);
        let side = &mut sides[who];
        match op & 0x0f {
            // Raw bytes as a received message.
            0 => {
                let len = usize::from(a).min(data.len() - i);
                let raw = &data[i..i + len];
                i += len;
                let mut h = [HeaderIndex::EMPTY; 64];
                if let Ok(msg) = Message::parse(raw, &mut h)
                    && let Ok(Received::Request(tx)) = side.layer.receive(now, 1, b & 1 == 1, &msg)
                {
                    side.servers.push((tx, raw.to_vec()));
                }
            }
            // A templated request arrives.
            1 => {
                let req = request(a, b % 4);
                let mut h = [HeaderIndex::EMPTY; 32];
                let msg = Message::parse(req.as_bytes(), &mut h).unwrap();
                match side.layer.receive(now, 1, false, &msg) {
                    Ok(Received::Request(tx)) | Ok(Received::Cancel { cancel: tx, .. }) => {
                        side.servers.push((tx, req.into_bytes()))
                    }
                    Ok(_) | Err(_) => {}
                }
            }
            // A response to a templated request arrives.
            2 => {
                let req = request(a, b % 4);
                if let Some(len) = respond_to(req.as_bytes(), STATUSES[usize::from(b % 8)], &mut out) {
                    let mut h = [HeaderIndex::EMPTY; 32];
                    let msg = Message::parse(&out[..len], &mut h).unwrap();
                    let _ = side.layer.receive(now, 1, false, &msg);
                }
            }
            // The TU sends a request.
            3 => {
                let req = request(a, b % 4);
                match side.layer.send_request(now, 1, b & 0x10 != 0, req.as_bytes()) {
                    Ok(tx) => side.clients.push(tx),
                    Err(TxError::Full | TxError::WrongState | TxError::Malformed) => {}
                    Err(e) => panic!("unexpected {e:?}"),
                }
            }
            // The TU answers a server transaction (perhaps a stale one).
            4 if !side.servers.is_empty() => {
                let (tx, req) = &side.servers[usize::from(a) % side.servers.len()];
                if let Some(len) = respond_to(req, STATUSES[usize::from(b % 8)], &mut out) {
                    let _ = side.layer.respond(now, *tx, &out[..len]);
                }
            }
            5 if !side.clients.is_empty() => {
                let tx = side.clients[usize::from(a) % side.clients.len()];
                if let Ok(c) = side.layer.cancel(now, tx) {
                    side.clients.push(c);
                }
            }
            6 if !side.clients.is_empty() => {
                let tx = side.clients[usize::from(a) % side.clients.len()];
                let _ = side.layer.transport_error(tx);
                assert_eq!(side.layer.transport_error(tx), Err(TxError::Stale));
            }
            // Deliver what is on the wire to the other side.
            7 => {
                for msg in std::mem::take(&mut wire) {
                    let other = &mut sides[1 - who];
                    let mut h = [HeaderIndex::EMPTY; 64];
                    if let Ok(m) = Message::parse(&msg, &mut h)
                        && let Ok(Received::Request(tx)) = other.layer.receive(now, 0, false, &m)
                    {
                        other.servers.push((tx, msg.clone()));
                    }
                }
            }
            // The clock moves.
            _ => {
                now = now + core::time::Duration::from_millis(u64::from(a) * u64::from(b) * 8);
            }
        }
        for side in sides.iter_mut() {
            drain(side, now, &mut wire);
        }
        wire.truncate(64);
    }
});
