//! Complete SIP exchanges through two sip-lite stacks in memory: a REGISTER/200 and a
//! call (INVITE/100/180/200/ACK/BYE/200), both sides, with every message built,
//! parsed and classified as a real user agent would.
//!
//! Each exchange moves the virtual clock on by [`STEP`], long enough for every timer of
//! the previous exchange (timers J, K, L, M, the 2xx retransmission) to run out, so the
//! tables do not fill and the timer code runs too.

use core::time::Duration;

use sip_lite::dialog::{Dialogs, RequestOutcome, ResponseOutcome};
use sip_lite::ids::IdGenerator;
use sip_lite::time::{Instant, Timers};
use sip_lite::transaction::{Config, Received, Transactions};
use sip_lite::wire::{HeaderIndex, HeaderName, Message, Method, SliceSink, StatusCode, Writer};

/// Virtual time between two exchanges.
pub const STEP: Duration = Duration::from_secs(40);

const BUF: usize = 2048;
type Layer = Transactions<u8, 8, { 8 * BUF }>;
type DialogSet = Dialogs<4, 512, BUF>;

const ALICE_VIA: &str = "SIP/2.0/UDP 192.0.2.1:5060;rport";

/// One side: its transactions, dialogs and identifiers.
struct Side {
    layer: Layer,
    dialogs: DialogSet,
    ids: IdGenerator,
}

impl Side {
    fn new(seed: u8) -> Side {
        Side {
            layer: Layer::new(Config::DEFAULT),
            dialogs: DialogSet::new(Timers::DEFAULT),
            ids: IdGenerator::new([seed; 32]),
        }
    }

    /// Fires due timers and throws away what they send (nothing is lost in memory).
    fn tick(&mut self, now: Instant, scratch: &mut [u8]) {
        self.layer.handle_timeout(now);
        self.dialogs.handle_timeout(now);
        while self.layer.poll_transmit().is_some() {}
        while self.layer.poll_event().is_some() {}
        while let Ok(Some(_)) = self.dialogs.poll_transmit(now, scratch) {}
        while self.dialogs.poll_event().is_some() {}
    }
}

/// Two stacks and the buffers the exchanges use.
pub struct Pair {
    alice: Side,
    bob: Side,
    now: Instant,
    /// The message in flight, copied as a network would.
    wire: [u8; BUF],
    /// Requests and responses being built.
    out: [u8; BUF],
    /// Alice's INVITE, which creates her dialog with Bob's first response.
    invite: [u8; BUF],
    scratch: [u8; BUF],
}

impl Default for Pair {
    fn default() -> Self {
        Pair::new()
    }
}

/// Why an exchange went wrong (the benchmark checks every step).
#[derive(Debug)]
pub struct Failed(pub &'static str);

fn fail<T, E>(what: &'static str) -> impl FnOnce(E) -> Result<T, Failed> {
    move |_| Err(Failed(what))
}

impl Pair {
    /// Two fresh stacks.
    pub fn new() -> Pair {
        Pair {
            alice: Side::new(1),
            bob: Side::new(2),
            now: Instant::ZERO,
            wire: [0; BUF],
            out: [0; BUF],
            invite: [0; BUF],
            scratch: [0; BUF],
        }
    }

    fn next_exchange(&mut self) {
        self.now = self.now + STEP;
        self.alice.tick(self.now, &mut self.scratch);
        self.bob.tick(self.now, &mut self.scratch);
    }

    /// Takes the next message `from` wants to send onto the wire; its length.
    fn take(from: &mut Layer, wire: &mut [u8; BUF]) -> Option<usize> {
        let t = from.poll_transmit()?;
        wire[..t.bytes.len()].copy_from_slice(t.bytes);
        Some(t.bytes.len())
    }

    /// A REGISTER and its 200, through both transaction layers.
    ///
    /// # Errors
    /// The step that failed.
    pub fn register(&mut self) -> Result<(), Failed> {
        self.next_exchange();
        let now = self.now;
        let (alice, bob) = (&mut self.alice, &mut self.bob);
        let branch = alice.ids.branch();
        let tag = alice.ids.token();
        let call_id = alice.ids.token();
        let len = {
            let mut w = Writer::request_str(
                SliceSink::new(&mut self.out),
                Method::Register,
                "sip:registrar.example.com",
            )
            .or_else(fail("start REGISTER"))?;
            let via = Via(ALICE_VIA, &branch);
            w.header_typed(HeaderName::Via, &via)
                .and_then(|w| w.header("Max-Forwards", "70"))
                .and_then(|w| {
                    w.header_typed(HeaderName::From, &Tagged("sip:alice@example.com", &tag))
                })
                .and_then(|w| w.header("To", "<sip:alice@example.com>"))
                .and_then(|w| w.header("Call-ID", &call_id))
                .and_then(|w| w.header("CSeq", "1 REGISTER"))
                .and_then(|w| w.header("Contact", "<sip:alice@192.0.2.1:5060>;expires=3600"))
                .or_else(fail("REGISTER headers"))?;
            w.finish(b"").or_else(fail("finish REGISTER"))?.len()
        };
        let client = alice
            .layer
            .send_request(now, 1, false, &self.out[..len])
            .or_else(fail("send REGISTER"))?;
        let len =
            Self::take(&mut alice.layer, &mut self.wire).ok_or(Failed("REGISTER not sent"))?;
        let mut hs = [HeaderIndex::EMPTY; 32];
        let req = Message::parse(&self.wire[..len], &mut hs).or_else(fail("parse REGISTER"))?;
        let Ok(Received::Request(server)) = bob.layer.receive(now, 0, false, &req) else {
            return Err(Failed("REGISTER not a new request"));
        };
        let bob_tag = bob.ids.token();
        let len = {
            let mut w = Writer::response_to(
                SliceSink::new(&mut self.out),
                &req,
                StatusCode::OK,
                "",
                Some(&bob_tag),
            )
            .or_else(fail("start 200"))?;
            w.header("Contact", "<sip:alice@192.0.2.1:5060>;expires=3600")
                .or_else(fail("200 headers"))?;
            w.finish(b"").or_else(fail("finish 200"))?.len()
        };
        bob.layer
            .respond(now, server, &self.out[..len])
            .or_else(fail("respond 200"))?;
        let len = Self::take(&mut bob.layer, &mut self.wire).ok_or(Failed("200 not sent"))?;
        let mut hs = [HeaderIndex::EMPTY; 32];
        let ok = Message::parse(&self.wire[..len], &mut hs).or_else(fail("parse 200"))?;
        match alice.layer.receive(now, 1, false, &ok) {
            Ok(Received::Response(tx)) if tx == client => Ok(()),
            _ => Err(Failed("200 not matched")),
        }
    }

    /// A whole call: INVITE, 100, 180, 200, ACK, BYE, 200, with dialogs on both sides.
    ///
    /// # Errors
    /// The step that failed.
    pub fn call(&mut self) -> Result<(), Failed> {
        self.next_exchange();
        let now = self.now;
        let (alice, bob) = (&mut self.alice, &mut self.bob);

        // Alice: INVITE.
        let branch = alice.ids.branch();
        let tag = alice.ids.token();
        let call_id = alice.ids.token();
        let invite_len = {
            let mut w = Writer::request_str(
                SliceSink::new(&mut self.invite),
                Method::Invite,
                "sip:bob@192.0.2.2:5060",
            )
            .or_else(fail("start INVITE"))?;
            w.header_typed(HeaderName::Via, &Via(ALICE_VIA, &branch))
                .and_then(|w| w.header("Max-Forwards", "70"))
                .and_then(|w| {
                    w.header_typed(HeaderName::From, &Tagged("sip:alice@example.com", &tag))
                })
                .and_then(|w| w.header("To", "<sip:bob@example.com>"))
                .and_then(|w| w.header("Call-ID", &call_id))
                .and_then(|w| w.header("CSeq", "1 INVITE"))
                .and_then(|w| w.header("Contact", "<sip:alice@192.0.2.1:5060>"))
                .or_else(fail("INVITE headers"))?;
            w.finish(b"").or_else(fail("finish INVITE"))?.len()
        };
        let invite_tx = alice
            .layer
            .send_request(now, 1, false, &self.invite[..invite_len])
            .or_else(fail("send INVITE"))?;

        // Bob: the INVITE arrives; the transaction sends 100 Trying.
        let len = Self::take(&mut alice.layer, &mut self.wire).ok_or(Failed("INVITE not sent"))?;
        let mut hs = [HeaderIndex::EMPTY; 32];
        let req = Message::parse(&self.wire[..len], &mut hs).or_else(fail("parse INVITE"))?;
        let Ok(Received::Request(server)) = bob.layer.receive(now, 0, false, &req) else {
            return Err(Failed("INVITE not a new request"));
        };
        if bob
            .dialogs
            .handle_request(&req)
            .or_else(fail("classify INVITE"))?
            != RequestOutcome::OutOfDialog
        {
            return Err(Failed("INVITE in a dialog"));
        }
        let bob_tag = bob.ids.token();
        let bob_dialog = bob
            .dialogs
            .create_uas(&req, &bob_tag, "sip:bob@192.0.2.2:5060")
            .or_else(fail("UAS dialog"))?;
        let mut responses = [(0usize, 0usize); 2];
        let mut at = 0;
        for (i, status) in [StatusCode::RINGING, StatusCode::OK]
            .into_iter()
            .enumerate()
        {
            let mut w = Writer::response_to(
                SliceSink::new(&mut self.out[at..]),
                &req,
                status,
                "",
                Some(&bob_tag),
            )
            .or_else(fail("start response"))?;
            w.header("Contact", "<sip:bob@192.0.2.2:5060>")
                .or_else(fail("response headers"))?;
            let len = w.finish(b"").or_else(fail("finish response"))?.len();
            responses[i] = (at, len);
            at += len;
        }

        // The 100, then the 180 and the 200 go to Alice, one by one.
        let mut invite_hs = [HeaderIndex::EMPTY; 32];
        let invite =
            Message::parse(&self.invite[..invite_len], &mut invite_hs).or_else(fail("INVITE"))?;
        let mut alice_dialog = None;
        for step in 0..3 {
            if step > 0 {
                let (at, len) = responses[step - 1];
                bob.layer
                    .respond(now, server, &self.out[at..at + len])
                    .or_else(fail("respond"))?;
                if step == 2 {
                    bob.dialogs
                        .sent_2xx(bob_dialog, now, &self.out[at..at + len])
                        .or_else(fail("sent 2xx"))?;
                }
            }
            let len = Self::take(&mut bob.layer, &mut self.wire).ok_or(Failed("no response"))?;
            let mut hs = [HeaderIndex::EMPTY; 32];
            let resp = Message::parse(&self.wire[..len], &mut hs).or_else(fail("parse resp"))?;
            match alice.layer.receive(now, 1, false, &resp) {
                Ok(Received::Response(tx)) if tx == invite_tx => {}
                _ => return Err(Failed("response not matched")),
            }
            match alice
                .dialogs
                .handle_response(Some(&invite), &resp)
                .or_else(fail("UAC dialog"))?
            {
                ResponseOutcome::Created(h) | ResponseOutcome::Updated(h) => alice_dialog = Some(h),
                ResponseOutcome::NoDialog if step == 0 => {}
                _ => return Err(Failed("unexpected dialog outcome")),
            }
        }
        let alice_dialog = alice_dialog.ok_or(Failed("no UAC dialog"))?;

        // Alice: ACK for the 2xx, sent without a transaction and kept by the dialog.
        let len = {
            let d = alice
                .dialogs
                .get_mut(alice_dialog)
                .ok_or(Failed("UAC dialog gone"))?;
            let w = d
                .request(Method::Ack, ALICE_VIA, &mut alice.ids, &mut self.wire)
                .or_else(fail("build ACK"))?;
            w.finish(b"").or_else(fail("finish ACK"))?.len()
        };
        alice
            .dialogs
            .sent_ack(alice_dialog, &self.wire[..len])
            .or_else(fail("keep ACK"))?;
        let mut hs = [HeaderIndex::EMPTY; 32];
        let ack = Message::parse(&self.wire[..len], &mut hs).or_else(fail("parse ACK"))?;
        if bob.layer.receive(now, 0, false, &ack) != Ok(Received::Ack) {
            return Err(Failed("ACK not for the TU"));
        }
        if bob.dialogs.handle_request(&ack).or_else(fail("ACK"))? != RequestOutcome::Ack(bob_dialog)
        {
            return Err(Failed("ACK not in the dialog"));
        }

        // Alice hangs up: BYE in the dialog, 200 from Bob, both dialogs removed.
        let len = {
            let d = alice
                .dialogs
                .get_mut(alice_dialog)
                .ok_or(Failed("UAC dialog gone"))?;
            let w = d
                .request(Method::Bye, ALICE_VIA, &mut alice.ids, &mut self.out)
                .or_else(fail("build BYE"))?;
            w.finish(b"").or_else(fail("finish BYE"))?.len()
        };
        let bye_tx = alice
            .layer
            .send_request(now, 1, false, &self.out[..len])
            .or_else(fail("send BYE"))?;
        let len = Self::take(&mut alice.layer, &mut self.wire).ok_or(Failed("BYE not sent"))?;
        let mut hs = [HeaderIndex::EMPTY; 32];
        let bye = Message::parse(&self.wire[..len], &mut hs).or_else(fail("parse BYE"))?;
        let Ok(Received::Request(server)) = bob.layer.receive(now, 0, false, &bye) else {
            return Err(Failed("BYE not a new request"));
        };
        if bob.dialogs.handle_request(&bye).or_else(fail("BYE"))?
            != RequestOutcome::Accept(bob_dialog)
        {
            return Err(Failed("BYE not in the dialog"));
        }
        let len = Writer::response_to(
            SliceSink::new(&mut self.out),
            &bye,
            StatusCode::OK,
            "",
            None,
        )
        .and_then(|w| w.finish(b""))
        .or_else(fail("200 to BYE"))?
        .len();
        bob.layer
            .respond(now, server, &self.out[..len])
            .or_else(fail("respond BYE"))?;
        bob.dialogs
            .remove(bob_dialog)
            .or_else(fail("remove UAS dialog"))?;
        let len = Self::take(&mut bob.layer, &mut self.wire).ok_or(Failed("200 not sent"))?;
        let mut hs = [HeaderIndex::EMPTY; 32];
        let ok = Message::parse(&self.wire[..len], &mut hs).or_else(fail("parse 200"))?;
        match alice.layer.receive(now, 1, false, &ok) {
            Ok(Received::Response(tx)) if tx == bye_tx => {}
            _ => return Err(Failed("200 to BYE not matched")),
        }
        alice
            .dialogs
            .remove(alice_dialog)
            .or_else(fail("remove UAC dialog"))?;
        Ok(())
    }

    /// Live transactions and dialogs on both sides (after [`STEP`] they are all gone).
    pub fn live(&self) -> usize {
        self.alice.layer.len()
            + self.bob.layer.len()
            + self.alice.dialogs.len()
            + self.bob.dialogs.len()
    }
}

/// A Via value with a branch.
struct Via<'a>(&'a str, &'a str);

impl sip_lite::wire::Emit for Via<'_> {
    fn emit<S: sip_lite::wire::Sink + ?Sized>(
        &self,
        out: &mut S,
    ) -> Result<(), sip_lite::EmitError> {
        out.put(self.0.as_bytes())?;
        out.put(b";branch=")?;
        out.put(self.1.as_bytes())
    }
}

/// A From value `<uri>;tag=...`.
struct Tagged<'a>(&'a str, &'a str);

impl sip_lite::wire::Emit for Tagged<'_> {
    fn emit<S: sip_lite::wire::Sink + ?Sized>(
        &self,
        out: &mut S,
    ) -> Result<(), sip_lite::EmitError> {
        out.put(b"<")?;
        out.put(self.0.as_bytes())?;
        out.put(b">;tag=")?;
        out.put(self.1.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exchanges run again and again without a leak: after each one only its own
    /// transactions linger, the earlier ones were freed by their timers.
    #[test]
    fn exchanges_repeat_without_leaks() {
        let mut pair = Box::new(Pair::new());
        for _ in 0..50 {
            pair.register().unwrap();
            assert!(pair.live() <= 2, "{} live after a REGISTER", pair.live());
            pair.call().unwrap();
            assert!(pair.live() <= 4, "{} live after a call", pair.live());
        }
    }
}
