//! Drives two sides, each a transaction layer and a dialog set, with arbitrary sequences
//! of operations: received messages (raw fuzz bytes or templated requests and responses
//! whose keys collide on purpose), requests and responses from the TU, requests within
//! dialogs, 2xx retransmission and ACKs, CANCELs, transport errors and clock jumps.
//! Checks that nothing panics, no table holds more than its capacity, everything the
//! layers send parses, no timer is left overdue after it fired, and stale handles are
//! refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_lite::dialog::{DialogHandle, Dialogs, RequestOutcome, ResponseOutcome};
use sip_lite::ids::IdGenerator;
use sip_lite::time::{Instant, Timers};
use sip_lite::transaction::{ClientTx, Config, Received, ServerTx, State, Transactions, TxError};
use sip_lite::wire::{HeaderIndex, Message, Method, SliceSink, StatusCode, Writer};

const N: usize = 4;
/// A store for about four of the templated requests: full often, so that messages
/// give way, holes open and the store is compacted.
type Layer = Transactions<u8, N, 1024>;
type DialogSet = Dialogs<N, 256, 1024>;

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
         Call-ID: c{id}\r\nCSeq: {seq} {method}\r\nMax-Forwards: 70\r\n\
         Contact: <sip:a@192.0.2.1>\r\nContent-Length: 0\r\n\r\n"
    )
}

fn respond_to(request: &[u8], status: u16, out: &mut [u8]) -> Option<usize> {
    let mut h = [HeaderIndex::EMPTY; 32];
    let msg = Message::parse(request, &mut h).ok()?;
    let mut w =
        Writer::response_to(SliceSink::new(out), &msg, StatusCode(status), "", Some("t")).ok()?;
    w.header("Contact", "<sip:b@192.0.2.2>").ok()?;
    Some(w.finish(b"").ok()?.len())
}

struct Side {
    layer: Layer,
    dialogs: DialogSet,
    ids: IdGenerator,
    clients: Vec<(ClientTx, Vec<u8>)>,
    servers: Vec<(ServerTx, Vec<u8>)>,
    handles: Vec<DialogHandle>,
}

impl Side {
    fn new(seed: u8) -> Side {
        Side {
            layer: Layer::new(Config::DEFAULT),
            dialogs: DialogSet::new(Timers::DEFAULT),
            ids: IdGenerator::new([seed; 32]),
            clients: Vec::new(),
            servers: Vec::new(),
            handles: Vec::new(),
        }
    }

    /// What a UA does with a received message: the transaction layer classifies it,
    /// requests and responses also go through the dialogs.
    fn receive(&mut self, now: Instant, peer: u8, reliable: bool, raw: &[u8]) {
        let mut h = [HeaderIndex::EMPTY; 64];
        let Ok(msg) = Message::parse(raw, &mut h) else {
            return;
        };
        match self.layer.receive(now, peer, reliable, &msg) {
            Ok(Received::Request(tx)) | Ok(Received::Cancel { cancel: tx, .. }) => {
                self.servers.push((tx, raw.to_vec()));
                if let Ok(RequestOutcome::OutOfDialog) = self.dialogs.handle_request(&msg)
                    && msg.method() == Some(Method::Invite)
                    && let Ok(d) = self.dialogs.create_uas(&msg, "t", "sip:b@192.0.2.2")
                {
                    self.handles.push(d);
                }
            }
            Ok(Received::Ack) => {
                let _ = self.dialogs.handle_request(&msg);
            }
            Ok(Received::Response(tx)) | Ok(Received::Retransmitted2xx(tx)) => {
                let request = self.clients.iter().find(|c| c.0 == tx).map(|c| c.1.clone());
                let mut rh = [HeaderIndex::EMPTY; 64];
                let request = request
                    .as_deref()
                    .and_then(|r| Message::parse(r, &mut rh).ok());
                if let Ok(ResponseOutcome::Created(d) | ResponseOutcome::Updated(d)) =
                    self.dialogs.handle_response(request.as_ref(), &msg)
                {
                    self.handles.push(d);
                }
            }
            _ => {}
        }
        self.handles.truncate(32);
        self.servers.truncate(64);
    }
}

fn drain(side: &mut Side, now: Instant, wire: &mut Vec<Vec<u8>>) {
    while let Some(t) = side.layer.poll_transmit() {
        let mut h = [HeaderIndex::EMPTY; 64];
        assert!(
            Message::parse(t.bytes, &mut h).is_ok(),
            "the layer sent something unparsable"
        );
        wire.push(t.bytes.to_vec());
    }
    let mut buf = [0u8; 1024];
    while let Ok(Some((_, len))) = side.dialogs.poll_transmit(now, &mut buf) {
        let mut h = [HeaderIndex::EMPTY; 64];
        assert!(
            Message::parse(&buf[..len], &mut h).is_ok(),
            "the dialogs sent something unparsable"
        );
        wire.push(buf[..len].to_vec());
    }
    while side.layer.poll_event().is_some() {}
    while side.dialogs.poll_event().is_some() {}
    assert!(side.layer.len() <= N);
    assert!(side.dialogs.len() <= N);
    if side.layer.poll_timeout().is_some_and(|at| at <= now) {
        side.layer.handle_timeout(now);
        while side.layer.poll_transmit().is_some() {}
        while side.layer.poll_event().is_some() {}
        side.layer.handle_timeout(now);
        assert!(
            side.layer.poll_timeout().is_none_or(|at| at > now),
            "overdue timer"
        );
    }
    if side.dialogs.poll_timeout().is_some_and(|at| at <= now) {
        side.dialogs.handle_timeout(now);
        while let Ok(Some(_)) = side.dialogs.poll_transmit(now, &mut buf) {}
        while side.dialogs.poll_event().is_some() {}
        assert!(
            side.dialogs.poll_timeout().is_none_or(|at| at > now),
            "overdue dialog timer"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let mut sides = [Side::new(1), Side::new(2)];
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
                side.receive(now, 1, b & 1 == 1, raw);
            }
            // A templated request arrives.
            1 => {
                side.receive(now, 1, false, request(a, b % 4).as_bytes());
            }
            // A response to a templated request arrives.
            2 => {
                let req = request(a, b % 4);
                if let Some(len) =
                    respond_to(req.as_bytes(), STATUSES[usize::from(b % 8)], &mut out)
                {
                    side.receive(now, 1, false, &out[..len]);
                }
            }
            // The TU sends a request.
            3 => {
                let req = request(a, b % 4);
                match side
                    .layer
                    .send_request(now, 1, b & 0x10 != 0, req.as_bytes())
                {
                    Ok(tx) => side.clients.push((tx, req.into_bytes())),
                    Err(TxError::Full | TxError::WrongState | TxError::Malformed) => {}
                    Err(e) => panic!("unexpected {e:?}"),
                }
            }
            // The TU answers a server transaction (perhaps a stale one).
            4 if !side.servers.is_empty() => {
                let (tx, req) = &side.servers[usize::from(a) % side.servers.len()];
                if let Some(len) = respond_to(req, STATUSES[usize::from(b % 8)], &mut out) {
                    let _ = side.layer.respond(now, *tx, &out[..len]);
                    // A 2xx to an INVITE is retransmitted by the dialog until the ACK.
                    if let Some(&d) = side.handles.last() {
                        let _ = side.dialogs.sent_2xx(d, now, &out[..len]);
                    }
                }
            }
            5 if !side.clients.is_empty() => {
                let (tx, req) = side.clients[usize::from(a) % side.clients.len()].clone();
                if let Ok(c) = side.layer.cancel(now, tx) {
                    side.clients.push((c, req));
                }
            }
            6 if !side.clients.is_empty() => {
                let tx = side.clients[usize::from(a) % side.clients.len()].0;
                let _ = side.layer.transport_error(tx);
                assert_eq!(side.layer.transport_error(tx), Err(TxError::Stale));
            }
            // Deliver what is on the wire to the other side.
            7 => {
                for msg in std::mem::take(&mut wire) {
                    sides[1 - who].receive(now, 0, false, &msg);
                }
            }
            // A request within a dialog (perhaps a removed one), sent through a client
            // transaction; an ACK is sent directly and kept by the dialog.
            9 if !side.handles.is_empty() => {
                let d = side.handles[usize::from(a) % side.handles.len()];
                let method = [
                    Method::Bye,
                    Method::Info,
                    Method::Invite,
                    Method::Update,
                    Method::Ack,
                ][usize::from(b % 5)];
                let Side {
                    dialogs,
                    ids,
                    layer,
                    clients,
                    ..
                } = side;
                if let Some(dialog) = dialogs.get_mut(d)
                    && let Ok(w) =
                        dialog.request(method, "SIP/2.0/UDP a.example.com", ids, &mut out)
                    && let Ok(sink) = w.finish(b"")
                {
                    let len = sink.len();
                    if method == Method::Ack {
                        let _ = dialogs.sent_ack(d, &out[..len]);
                        wire.push(out[..len].to_vec());
                    } else if let Ok(tx) = layer.send_request(now, 1, false, &out[..len]) {
                        clients.push((tx, out[..len].to_vec()));
                    }
                }
            }
            // The TU removes a dialog; removing it twice is refused.
            10 if !side.handles.is_empty() => {
                let d = side.handles[usize::from(a) % side.handles.len()];
                if side.dialogs.remove(d).is_ok() {
                    assert!(side.dialogs.remove(d).is_err());
                    assert!(side.dialogs.get(d).is_none());
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
        // The store moves messages, never mixes them: what a transaction keeps parses,
        // and a request not yet answered is kept as it was given.
        for side in sides.iter() {
            for (tx, req) in &side.clients {
                let Some(stored) = side.layer.stored(*tx).filter(|s| !s.is_empty()) else {
                    continue;
                };
                let mut h = [HeaderIndex::EMPTY; 64];
                let msg = Message::parse(stored, &mut h).expect("a stored message parses");
                if matches!(side.layer.state(*tx), Some(State::Calling | State::Trying))
                    && msg.method() != Some(Method::Cancel)
                {
                    assert_eq!(stored, &req[..]);
                }
            }
        }
        wire.truncate(64);
        for side in sides.iter_mut() {
            side.clients.truncate(64);
        }
    }
});
