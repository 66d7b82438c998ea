//! The switching-function call model (`model::phone::Device`), driven by CSTA requests
//! and by the owner's progress reports, against the sequences of PROTOCOL.md section 5.
//!
//! Requests are written as XML (as a uaCSTA INFO body carries them) and decoded;
//! replies are compared as exact XML; events are compared through a one-line summary
//! of every field the model fills in.

use csta_core::message::{ErrorCode, Message, decode};
use csta_core::model::phone::{
    CallRef, Command, Device, Divert, EventOut, Forward, ModelError, Progress, Reply, failure_cause,
};
use csta_core::names::{
    ConnectionState, EventCause, Operation, StateIncompatibility, SystemResourceAvailability,
};
use csta_core::types::{ConnectionId, DeviceRef};
use csta_core::{Edition, EncodeOptions};

const ME: &str = "sip:201@gw";
type Phone = Device<4>;

// --- helpers ---------------------------------------------------------------------

/// Encodes a message in edition 3 without declaration and namespace.
fn xml(m: &Message<'_>) -> String {
    let options = EncodeOptions {
        edition: Edition::Ed3,
        declaration: false,
    };
    let mut buf = vec![0u8; m.buffer_len(&options)];
    let n = m.encode_with(&options, &mut buf).unwrap();
    String::from_utf8(buf[..n].to_vec()).unwrap().replace(
        " xmlns=\"http://www.ecma-international.org/standards/ecma-323/csta/ed3\"",
        "",
    )
}

fn req<const C: usize, const E: usize, const K: usize>(
    d: &mut Device<C, E, K>,
    request: &str,
) -> Reply {
    let decoded = decode(request.as_bytes()).unwrap();
    d.handle_request(&decoded.message)
}

/// The reply's XML.
fn ask<const C: usize, const E: usize, const K: usize>(
    d: &mut Device<C, E, K>,
    request: &str,
) -> String {
    xml(&req(d, request).message())
}

fn conn(element: &str, call: &str) -> String {
    format!("<{element}><callID>{call}</callID><deviceID>{ME}</deviceID></{element}>")
}

fn make_call(to: &str) -> String {
    format!(
        "<MakeCall><callingDevice>{ME}</callingDevice><calledDirectoryNumber>{to}</calledDirectoryNumber><autoOriginate>doNotPrompt</autoOriginate></MakeCall>"
    )
}

fn error_xml(category: &str, value: &str) -> String {
    format!("<CSTAErrorCode><{category}>{value}</{category}></CSTAErrorCode>")
}

fn dev(d: &DeviceRef<'_>) -> String {
    match d {
        DeviceRef::DeviceIdentifier(id) => id.id.to_string(),
        other => format!("{other:?}"),
    }
}

fn c(id: &ConnectionId<'_>) -> String {
    format!(
        "{}/{}",
        id.call_id.map(|t| t.to_string()).unwrap_or_default(),
        id.device_id.map(|d| d.id.to_string()).unwrap_or_default()
    )
}

fn st(s: Option<ConnectionState>) -> &'static str {
    s.map_or("-", |s| s.as_str())
}

fn cause(c: Option<EventCause<'_>>) -> String {
    c.map_or("-".into(), |c| c.to_string())
}

fn list(l: &Option<csta_core::message::call::ConnectionList<'_>>) -> String {
    l.as_ref().map_or("-".into(), |l| {
        l.items
            .iter()
            .map(|i| {
                format!(
                    "{}:{}",
                    i.new_connection.as_ref().map(c).unwrap_or_default(),
                    i.endpoint.as_ref().map(dev).unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join(",")
    })
}

/// A one-line summary of an event: its name, monitor and every field the model sets.
fn summary(e: &EventOut) -> String {
    let m = e.message();
    let mon = |x: &Option<csta_core::types::CrossRefId<'_>>| x.map(|x| x.to_string()).unwrap();
    match &m {
        Message::ServiceInitiatedEvent(e) => format!(
            "[{}] ServiceInitiated {} by={} {} {}",
            mon(&e.monitor_cross_ref_id),
            c(&e.initiated_connection),
            dev(&e.initiating_device),
            st(e.local_connection_info),
            cause(e.cause)
        ),
        Message::OriginatedEvent(e) => format!(
            "[{}] Originated {} calling={} called={} {} {}",
            mon(&e.monitor_cross_ref_id),
            c(&e.originated_connection),
            dev(&e.calling_device),
            dev(&e.called_device),
            st(e.local_connection_info),
            cause(e.cause)
        ),
        Message::DeliveredEvent(e) => format!(
            "[{}] Delivered {} alerting={} calling={} called={} {} {}",
            mon(&e.monitor_cross_ref_id),
            c(&e.connection),
            e.alerting_device.as_ref().map(dev).unwrap(),
            dev(&e.calling_device),
            dev(&e.called_device),
            st(e.local_connection_info),
            cause(e.cause)
        ),
        Message::EstablishedEvent(e) => format!(
            "[{}] Established {} answering={} calling={} called={} {} {}",
            mon(&e.monitor_cross_ref_id),
            c(&e.established_connection),
            dev(&e.answering_device),
            dev(&e.calling_device),
            dev(&e.called_device),
            st(e.local_connection_info),
            cause(e.cause)
        ),
        Message::ConnectionClearedEvent(e) => format!(
            "[{}] ConnectionCleared {} releasing={} {} {}",
            mon(&e.monitor_cross_ref_id),
            c(&e.dropped_connection),
            dev(&e.releasing_device),
            st(e.local_connection_info),
            cause(e.cause)
        ),
        Message::HeldEvent(e) => format!(
            "[{}] Held {} by={} {} {}",
            mon(&e.monitor_cross_ref_id),
            c(&e.held_connection),
            dev(&e.holding_device),
            st(e.local_connection_info),
            cause(e.cause)
        ),
        Message::RetrievedEvent(e) => format!(
            "[{}] Retrieved {} by={} {} {}",
            mon(&e.monitor_cross_ref_id),
            c(&e.retrieved_connection),
            dev(&e.retrieving_device),
            st(e.local_connection_info),
            cause(e.cause)
        ),
        Message::FailedEvent(e) => format!(
            "[{}] Failed {} failing={} calling={} called={} {} {}",
            mon(&e.monitor_cross_ref_id),
            c(&e.failed_connection),
            dev(&e.failing_device),
            dev(&e.calling_device),
            dev(&e.called_device),
            st(e.local_connection_info),
            cause(e.cause)
        ),
        Message::TransferedEvent(e) => format!(
            "[{}] Transfered primary={} secondary={} by={} to={} conns={} {} {}",
            mon(&e.monitor_cross_ref_id),
            c(&e.primary_old_call),
            e.secondary_old_call.as_ref().map(c).unwrap_or("-".into()),
            dev(&e.transferring_device),
            dev(&e.transferred_to_device),
            list(&e.transferred_connections),
            st(e.local_connection_info),
            cause(e.cause)
        ),
        Message::ConferencedEvent(e) => format!(
            "[{}] Conferenced primary={} secondary={} by={} added={} conns={} {} {}",
            mon(&e.monitor_cross_ref_id),
            c(&e.primary_old_call),
            e.secondary_old_call.as_ref().map(c).unwrap_or("-".into()),
            dev(&e.conferencing_device),
            dev(&e.added_party),
            list(&e.conference_connections),
            st(e.local_connection_info),
            cause(e.cause)
        ),
        Message::DivertedEvent(e) => format!(
            "[{}] Diverted {} by={} new={} calling={} called={} {} {}",
            mon(&e.monitor_cross_ref_id),
            c(&e.connection),
            dev(&e.diverting_device),
            e.new_destination.as_ref().map(dev).unwrap(),
            e.calling_device.as_ref().map(dev).unwrap(),
            e.called_device.as_ref().map(dev).unwrap(),
            st(e.local_connection_info),
            cause(e.cause)
        ),
        Message::DoNotDisturbEvent(e) => format!(
            "[{}] DoNotDisturb {} on={}",
            mon(&e.monitor_cross_ref_id),
            dev(&e.device),
            e.do_not_disturb_on
        ),
        Message::ForwardingEvent(e) => format!(
            "[{}] Forwarding {} {} on={} to={}",
            mon(&e.monitor_cross_ref_id),
            dev(&e.device),
            e.forwarding_type.unwrap(),
            e.forward_status,
            e.forward_to.map(|t| t.id.to_string()).unwrap_or("-".into())
        ),
        other => panic!("unexpected event {}", other.name()),
    }
}

fn events<const C: usize, const E: usize, const K: usize>(d: &mut Device<C, E, K>) -> Vec<String> {
    std::iter::from_fn(|| d.poll_event())
        .map(|e| summary(&e))
        .collect()
}

fn commands<const C: usize, const E: usize, const K: usize>(
    d: &mut Device<C, E, K>,
) -> Vec<Command> {
    std::iter::from_fn(|| d.poll_command()).collect()
}

fn monitored() -> Phone {
    let mut d = Phone::new(ME).unwrap();
    let r = ask(
        &mut d,
        &format!(
            "<MonitorStart><monitorObject><deviceObject>{ME}</deviceObject></monitorObject></MonitorStart>"
        ),
    );
    assert_eq!(
        r,
        "<MonitorStartResponse><monitorCrossRefID>1</monitorCrossRefID><monitorExistingCalls>true</monitorExistingCalls></MonitorStartResponse>"
    );
    d
}

fn buf(s: &str) -> csta_core::model::phone::DeviceIdBuf {
    heapless::String::try_from(s).unwrap()
}

/// MakeCall to `to` up to `Established`; returns the call (events and commands
/// drained and checked).
fn connected_out(d: &mut Phone, to: &str) -> CallRef {
    let reply = req(d, &make_call(to));
    let Message::MakeCallResponse(r) = reply.message() else {
        panic!("{}", xml(&reply.message()))
    };
    let id = r.calling_device.call_id.unwrap().to_string();
    let call = d.find(&id).unwrap();
    assert_eq!(commands(d), [Command::Originate { call, to: buf(to) }]);
    d.handle_progress(call, Progress::Originated { called: to })
        .unwrap();
    d.handle_progress(call, Progress::Ringing).unwrap();
    d.handle_progress(call, Progress::Answered).unwrap();
    assert_eq!(events(d).len(), 4);
    assert_eq!(d.state(call), Ok(ConnectionState::Connected));
    call
}

/// An incoming call from `from`, answered on the handset (events drained).
fn connected_in(d: &mut Phone, from: &str) -> CallRef {
    let call = d.incoming(from, ME).unwrap();
    d.handle_progress(call, Progress::Answered).unwrap();
    assert_eq!(events(d).len(), 2);
    call
}

// --- 1. MakeCall ------------------------------------------------------------------

#[test]
fn make_call_success_emits_initiated_originated_delivered_established_cleared() {
    let mut d = monitored();
    assert_eq!(
        ask(&mut d, &make_call("202")),
        format!(
            "<MakeCallResponse><callingDevice><callID>1</callID><deviceID>{ME}</deviceID></callingDevice></MakeCallResponse>"
        )
    );
    let call = d.find("1").unwrap();
    assert_eq!(d.state(call), Ok(ConnectionState::Initiated));
    assert_eq!(
        commands(&mut d),
        [Command::Originate {
            call,
            to: buf("202")
        }]
    );
    assert_eq!(
        events(&mut d),
        [format!(
            "[1] ServiceInitiated 1/{ME} by={ME} initiated makeCall"
        )]
    );
    d.handle_progress(call, Progress::Originated { called: "202" })
        .unwrap();
    d.handle_progress(call, Progress::Ringing).unwrap();
    assert_eq!(d.state(call), Ok(ConnectionState::Connected));
    d.handle_progress(call, Progress::Answered).unwrap();
    d.handle_progress(call, Progress::Cleared { remote: true })
        .unwrap();
    assert_eq!(
        events(&mut d),
        [
            format!("[1] Originated 1/{ME} calling={ME} called=202 connected makeCall"),
            format!("[1] Delivered 1/202 alerting=202 calling={ME} called=202 connected -"),
            format!("[1] Established 1/202 answering=202 calling={ME} called=202 connected -"),
            "[1] ConnectionCleared 1/202 releasing=202 null normalClearing".to_string(),
        ]
    );
    assert_eq!(d.state(call), Err(ModelError::StaleCall));
    assert_eq!(d.calls_in_use(), 0);
}

#[test]
fn make_call_cleared_locally_names_this_device_as_releasing() {
    let mut d = monitored();
    let call = connected_out(&mut d, "202");
    assert_eq!(
        ask(
            &mut d,
            &format!(
                "<ClearConnection>{}</ClearConnection>",
                conn("connectionToBeCleared", "1")
            )
        ),
        "<ClearConnectionResponse></ClearConnectionResponse>"
    );
    assert_eq!(commands(&mut d), [Command::Clear { call }]);
    // Nothing happens until the owner reports it.
    assert_eq!(events(&mut d), Vec::<String>::new());
    d.handle_progress(call, Progress::Cleared { remote: false })
        .unwrap();
    assert_eq!(
        events(&mut d),
        [format!(
            "[1] ConnectionCleared 1/{ME} releasing={ME} null normalClearing"
        )]
    );
}

#[test]
fn make_call_failures_map_sip_status_to_failed_cause_then_cleared() {
    let table = [
        (486, "busy"),
        (600, "busy"),
        (408, "callNotAnswered"),
        (480, "callNotAnswered"),
        (404, "numberUnallocated"),
        (604, "numberUnallocated"),
        (484, "invalidNumberFormat"),
        (487, "callCancelled"),
        (503, "destNotObtainable"),
    ];
    for (status, expected) in table {
        assert_eq!(failure_cause(status).to_string(), expected);
        let mut d = monitored();
        let _ = req(&mut d, &make_call("202"));
        let call = d.find("1").unwrap();
        d.handle_progress(call, Progress::Originated { called: "202" })
            .unwrap();
        if status != 404 {
            d.handle_progress(call, Progress::Ringing).unwrap();
        }
        let _ = events(&mut d);
        d.handle_progress(call, Progress::Failed { status })
            .unwrap();
        assert_eq!(d.state(call), Ok(ConnectionState::Fail));
        assert_eq!(
            events(&mut d),
            [format!(
                "[1] Failed 1/{ME} failing=202 calling={ME} called=202 fail {expected}"
            )],
            "status {status}"
        );
        // The phone clears the failed call.
        d.handle_progress(call, Progress::Cleared { remote: false })
            .unwrap();
        assert_eq!(
            events(&mut d),
            [format!(
                "[1] ConnectionCleared 1/{ME} releasing={ME} null normalClearing"
            )]
        );
        assert_eq!(d.calls_in_use(), 0);
    }
}

#[test]
fn failed_is_refused_after_the_call_was_established() {
    let mut d = monitored();
    let call = connected_out(&mut d, "202");
    assert_eq!(
        d.handle_progress(call, Progress::Failed { status: 486 }),
        Err(ModelError::InvalidState(ConnectionState::Connected))
    );
}

// --- 2. Incoming --------------------------------------------------------------------

#[test]
fn incoming_answered_by_answer_call_request() {
    let mut d = monitored();
    let call = d.incoming("sip:300@pbx", "201").unwrap();
    assert_eq!(d.state(call), Ok(ConnectionState::Alerting));
    assert_eq!(
        events(&mut d),
        [format!(
            "[1] Delivered 1/{ME} alerting={ME} calling=sip:300@pbx called=201 alerting newCall"
        )]
    );
    assert_eq!(
        ask(
            &mut d,
            &format!("<AnswerCall>{}</AnswerCall>", conn("callToBeAnswered", "1"))
        ),
        "<AnswerCallResponse></AnswerCallResponse>"
    );
    assert_eq!(commands(&mut d), [Command::Answer { call }]);
    assert_eq!(events(&mut d), Vec::<String>::new());
    d.handle_progress(call, Progress::Answered).unwrap();
    d.handle_progress(call, Progress::Cleared { remote: true })
        .unwrap();
    assert_eq!(
        events(&mut d),
        [
            format!(
                "[1] Established 1/{ME} answering={ME} calling=sip:300@pbx called=201 connected -"
            ),
            "[1] ConnectionCleared 1/sip:300@pbx releasing=sip:300@pbx null normalClearing"
                .to_string(),
        ]
    );
}

#[test]
fn incoming_answered_on_the_handset() {
    let mut d = monitored();
    let call = d.incoming("300", ME).unwrap();
    let _ = events(&mut d);
    d.handle_progress(call, Progress::Answered).unwrap();
    assert_eq!(
        events(&mut d),
        [format!(
            "[1] Established 1/{ME} answering={ME} calling=300 called={ME} connected -"
        )]
    );
    assert_eq!(commands(&mut d), []);
    assert_eq!(d.state(call), Ok(ConnectionState::Connected));
}

#[test]
fn incoming_caller_gives_up_while_ringing_is_call_cancelled() {
    let mut d = monitored();
    let call = d.incoming("300", ME).unwrap();
    let _ = events(&mut d);
    d.handle_progress(call, Progress::Cancelled).unwrap();
    assert_eq!(
        events(&mut d),
        ["[1] ConnectionCleared 1/300 releasing=300 null callCancelled"]
    );
    assert_eq!(d.calls_in_use(), 0);
    // Cancelled only fits a ringing call.
    let call = connected_in(&mut d, "301");
    assert_eq!(
        d.handle_progress(call, Progress::Cancelled),
        Err(ModelError::InvalidState(ConnectionState::Connected))
    );
}

// --- 3. Hold / retrieve -------------------------------------------------------------

#[test]
fn hold_and_retrieve_by_request_and_on_the_handset() {
    let mut d = monitored();
    let call = connected_out(&mut d, "202");
    assert_eq!(
        ask(
            &mut d,
            &format!("<HoldCall>{}</HoldCall>", conn("callToBeHeld", "1"))
        ),
        "<HoldCallResponse></HoldCallResponse>"
    );
    assert_eq!(commands(&mut d), [Command::Hold { call }]);
    d.handle_progress(call, Progress::Held).unwrap();
    assert_eq!(d.state(call), Ok(ConnectionState::Hold));
    assert_eq!(
        ask(
            &mut d,
            &format!(
                "<RetrieveCall>{}</RetrieveCall>",
                conn("callToBeRetrieved", "1")
            )
        ),
        "<RetrieveCallResponse></RetrieveCallResponse>"
    );
    assert_eq!(commands(&mut d), [Command::Retrieve { call }]);
    d.handle_progress(call, Progress::Retrieved).unwrap();
    // The handset does the same without requests.
    d.handle_progress(call, Progress::Held).unwrap();
    d.handle_progress(call, Progress::Retrieved).unwrap();
    let held = format!("[1] Held 1/{ME} by={ME} hold -");
    let retrieved = format!("[1] Retrieved 1/{ME} by={ME} connected -");
    assert_eq!(
        events(&mut d),
        [held.clone(), retrieved.clone(), held, retrieved]
    );
    assert_eq!(commands(&mut d), []);
}

// --- 4. Consultation, transfer, alternate, reconnect ---------------------------------

/// C1 to 202 connected, then ConsultationCall to 203 up to Established(C2).
fn consulted(d: &mut Phone) -> (CallRef, CallRef) {
    let c1 = connected_out(d, "202");
    assert_eq!(
        ask(
            d,
            &format!(
                "<ConsultationCall>{}<consultedDevice>203</consultedDevice></ConsultationCall>",
                conn("existingCall", "1")
            )
        ),
        format!(
            "<ConsultationCallResponse><initiatedCall><callID>2</callID><deviceID>{ME}</deviceID></initiatedCall></ConsultationCallResponse>"
        )
    );
    let c2 = d.find("2").unwrap();
    assert_eq!(
        commands(d),
        [Command::Consult {
            held: c1,
            call: c2,
            to: buf("203")
        }]
    );
    d.handle_progress(c1, Progress::Held).unwrap();
    d.handle_progress(c2, Progress::Originated { called: "203" })
        .unwrap();
    d.handle_progress(c2, Progress::Ringing).unwrap();
    d.handle_progress(c2, Progress::Answered).unwrap();
    assert_eq!(
        events(d),
        [
            format!("[1] Held 1/{ME} by={ME} hold consultation"),
            format!("[1] ServiceInitiated 2/{ME} by={ME} initiated consultation"),
            format!("[1] Originated 2/{ME} calling={ME} called=203 connected consultation"),
            format!("[1] Delivered 2/203 alerting=203 calling={ME} called=203 connected -"),
            format!("[1] Established 2/203 answering=203 calling={ME} called=203 connected -"),
        ]
    );
    (c1, c2)
}

#[test]
fn consultation_then_transfer_emits_transfered_and_no_connection_cleared() {
    let mut d = monitored();
    let (c1, c2) = consulted(&mut d);
    assert_eq!(
        ask(
            &mut d,
            &format!(
                "<TransferCall>{}{}</TransferCall>",
                conn("heldCall", "1"),
                conn("activeCall", "2")
            )
        ),
        "<TransferCallResponse><transferredCall><callID>1</callID><deviceID>203</deviceID></transferredCall></TransferCallResponse>"
    );
    assert_eq!(
        commands(&mut d),
        [Command::Transfer {
            held: c1,
            active: c2
        }]
    );
    d.handle_progress(c2, Progress::Transferred).unwrap();
    assert_eq!(
        events(&mut d),
        [format!(
            "[1] Transfered primary=1/{ME} secondary=2/{ME} by={ME} to=203 conns=1/202:202,2/203:203 null transfer"
        )]
    );
    assert_eq!(d.calls_in_use(), 0);
    assert_eq!(d.state(c1), Err(ModelError::StaleCall));
    // Clearing the ended calls afterwards is refused: no ConnectionCleared follows.
    assert_eq!(
        d.handle_progress(c1, Progress::Cleared { remote: true }),
        Err(ModelError::StaleCall)
    );
    assert_eq!(events(&mut d), Vec::<String>::new());
}

#[test]
fn alternate_call_holds_the_active_and_retrieves_the_held() {
    let mut d = monitored();
    let (c1, c2) = consulted(&mut d);
    assert_eq!(
        ask(
            &mut d,
            &format!(
                "<AlternateCall>{}{}</AlternateCall>",
                conn("heldCall", "1"),
                conn("activeCall", "2")
            )
        ),
        "<AlternateCallResponse></AlternateCallResponse>"
    );
    assert_eq!(
        commands(&mut d),
        [Command::Hold { call: c2 }, Command::Retrieve { call: c1 }]
    );
    d.handle_progress(c2, Progress::Held).unwrap();
    d.handle_progress(c1, Progress::Retrieved).unwrap();
    assert_eq!(
        events(&mut d),
        [
            format!("[1] Held 2/{ME} by={ME} hold -"),
            format!("[1] Retrieved 1/{ME} by={ME} connected -"),
        ]
    );
    // The pair is still a pair: a transfer now has C2 held and C1 active.
    d.handle_progress(c1, Progress::Transferred).unwrap();
    assert_eq!(
        events(&mut d),
        [format!(
            "[1] Transfered primary=2/{ME} secondary=1/{ME} by={ME} to=202 conns=2/203:203,1/202:202 null transfer"
        )]
    );
}

#[test]
fn reconnect_call_clears_the_active_and_retrieves_the_held() {
    let mut d = monitored();
    let (c1, c2) = consulted(&mut d);
    assert_eq!(
        ask(
            &mut d,
            &format!(
                "<ReconnectCall>{}{}</ReconnectCall>",
                conn("activeCall", "2"),
                conn("heldCall", "1")
            )
        ),
        "<ReconnectCallResponse></ReconnectCallResponse>"
    );
    assert_eq!(
        commands(&mut d),
        [Command::Clear { call: c2 }, Command::Retrieve { call: c1 }]
    );
    d.handle_progress(c2, Progress::Cleared { remote: false })
        .unwrap();
    d.handle_progress(c1, Progress::Retrieved).unwrap();
    assert_eq!(
        events(&mut d),
        [
            format!("[1] ConnectionCleared 2/{ME} releasing={ME} null normalClearing"),
            format!("[1] Retrieved 1/{ME} by={ME} connected -"),
        ]
    );
    assert_eq!(d.calls_in_use(), 1);
    // The partner link went with C2.
    assert_eq!(
        d.handle_progress(c1, Progress::Transferred),
        Err(ModelError::NoPartner)
    );
}

// --- 5. Single-step transfer ---------------------------------------------------------

#[test]
fn single_step_transfer_emits_transfered_with_single_step_cause() {
    let mut d = monitored();
    let call = connected_in(&mut d, "300");
    assert_eq!(
        ask(
            &mut d,
            &format!(
                "<SingleStepTransferCall>{}<transferredTo>204</transferredTo></SingleStepTransferCall>",
                conn("activeCall", "1")
            )
        ),
        "<SingleStepTransferCallResponse><transferredCall><callID>1</callID><deviceID>204</deviceID></transferredCall></SingleStepTransferCallResponse>"
    );
    assert_eq!(
        commands(&mut d),
        [Command::SingleStepTransfer {
            call,
            to: buf("204")
        }]
    );
    d.handle_progress(call, Progress::SingleStepTransferred { to: "204" })
        .unwrap();
    assert_eq!(
        events(&mut d),
        [format!(
            "[1] Transfered primary=1/{ME} secondary=- by={ME} to=204 conns=1/300:300 null singleStepTransfer"
        )]
    );
    assert_eq!(d.calls_in_use(), 0);
}

// --- 6. Conference -------------------------------------------------------------------

#[test]
fn conference_merges_held_and_active_into_the_held_call() {
    let mut d = monitored();
    let (c1, c2) = consulted(&mut d);
    assert_eq!(
        ask(
            &mut d,
            &format!(
                "<ConferenceCall>{}{}</ConferenceCall>",
                conn("heldCall", "1"),
                conn("activeCall", "2")
            )
        ),
        format!(
            "<ConferenceCallResponse><conferenceCall><callID>1</callID><deviceID>{ME}</deviceID></conferenceCall></ConferenceCallResponse>"
        )
    );
    assert_eq!(
        commands(&mut d),
        [Command::Conference {
            held: c1,
            active: c2
        }]
    );
    d.handle_progress(c1, Progress::Conferenced).unwrap();
    assert_eq!(
        events(&mut d),
        [format!(
            "[1] Conferenced primary=1/{ME} secondary=2/{ME} by={ME} added=203 conns=1/202:202,1/203:203 connected conference"
        )]
    );
    assert_eq!(d.calls_in_use(), 1);
    assert_eq!(d.state(c1), Ok(ConnectionState::Connected));
    assert_eq!(d.state(c2), Err(ModelError::StaleCall));
    d.handle_progress(c1, Progress::Cleared { remote: false })
        .unwrap();
    assert_eq!(
        events(&mut d),
        [format!(
            "[1] ConnectionCleared 1/{ME} releasing={ME} null normalClearing"
        )]
    );
}

// --- 7. Deflect ----------------------------------------------------------------------

#[test]
fn deflect_of_a_ringing_call_emits_diverted_redirected() {
    let mut d = monitored();
    let call = d.incoming("300", ME).unwrap();
    let _ = events(&mut d);
    assert_eq!(
        ask(
            &mut d,
            &format!(
                "<DeflectCall>{}<newDestination>205</newDestination></DeflectCall>",
                conn("callToBeDiverted", "1")
            )
        ),
        "<DeflectCallResponse></DeflectCallResponse>"
    );
    assert_eq!(
        commands(&mut d),
        [Command::Deflect {
            call,
            to: buf("205")
        }]
    );
    d.handle_progress(
        call,
        Progress::Diverted {
            to: "205",
            how: Divert::Deflected,
        },
    )
    .unwrap();
    assert_eq!(
        events(&mut d),
        [format!(
            "[1] Diverted 1/{ME} by={ME} new=205 calling=300 called={ME} null redirected"
        )]
    );
    assert_eq!(d.calls_in_use(), 0);
}

// --- 8. Forwarding and do-not-disturb -----------------------------------------------

#[test]
fn set_do_not_disturb_answers_emits_event_and_commands_the_owner() {
    let mut d = monitored();
    let get = format!("<GetDoNotDisturb><device>{ME}</device></GetDoNotDisturb>");
    assert_eq!(
        ask(&mut d, &get),
        "<GetDoNotDisturbResponse><doNotDisturbOn>false</doNotDisturbOn></GetDoNotDisturbResponse>"
    );
    assert_eq!(
        ask(
            &mut d,
            &format!(
                "<SetDoNotDisturb><device>{ME}</device><doNotDisturbOn>true</doNotDisturbOn></SetDoNotDisturb>"
            )
        ),
        "<SetDoNotDisturbResponse></SetDoNotDisturbResponse>"
    );
    assert_eq!(events(&mut d), [format!("[1] DoNotDisturb {ME} on=true")]);
    assert_eq!(commands(&mut d), [Command::SetDoNotDisturb { on: true }]);
    assert!(d.do_not_disturb());
    assert_eq!(
        ask(&mut d, &get),
        "<GetDoNotDisturbResponse><doNotDisturbOn>true</doNotDisturbOn></GetDoNotDisturbResponse>"
    );
    // Switched off on the handset: event, no command.
    d.handset_do_not_disturb(false).unwrap();
    assert_eq!(events(&mut d), [format!("[1] DoNotDisturb {ME} on=false")]);
    assert_eq!(commands(&mut d), []);
    assert!(!d.do_not_disturb());
}

#[test]
fn set_forwarding_answers_emits_event_and_get_forwarding_lists_settings() {
    let mut d = monitored();
    assert_eq!(
        ask(
            &mut d,
            &format!(
                "<SetForwarding><device>{ME}</device><forwardingType>forwardImmediate</forwardingType><activateForward>true</activateForward><forwardDN>206</forwardDN></SetForwarding>"
            )
        ),
        "<SetForwardingResponse></SetForwardingResponse>"
    );
    assert_eq!(
        events(&mut d),
        [format!(
            "[1] Forwarding {ME} forwardImmediate on=true to=206"
        )]
    );
    assert_eq!(
        commands(&mut d),
        [Command::SetForwarding {
            forward: Forward::Immediate,
            on: true,
            to: Some(buf("206"))
        }]
    );
    d.handset_forwarding(Forward::Busy, true, Some("207"))
        .unwrap();
    assert_eq!(
        events(&mut d),
        [format!("[1] Forwarding {ME} forwardBusy on=true to=207")]
    );
    assert_eq!(commands(&mut d), []);
    assert_eq!(d.forwarding(Forward::Busy), (true, Some("207")));
    assert_eq!(
        ask(
            &mut d,
            &format!("<GetForwarding><device>{ME}</device></GetForwarding>")
        ),
        "<GetForwardingResponse><forwardingList>\
<forwardListItem><forwardingType>forwardImmediate</forwardingType><forwardStatus>true</forwardStatus><forwardDN>206</forwardDN></forwardListItem>\
<forwardListItem><forwardingType>forwardBusy</forwardingType><forwardStatus>true</forwardStatus><forwardDN>207</forwardDN></forwardListItem>\
<forwardListItem><forwardingType>forwardNoAns</forwardingType><forwardStatus>false</forwardStatus></forwardListItem>\
<forwardListItem><forwardingType>forwardDND</forwardingType><forwardStatus>false</forwardStatus></forwardListItem>\
</forwardingList></GetForwardingResponse>"
    );
    // Switching off keeps the destination.
    let _ = ask(
        &mut d,
        &format!(
            "<SetForwarding><device>{ME}</device><forwardingType>forwardImmediate</forwardingType><activateForward>false</activateForward></SetForwarding>"
        ),
    );
    assert_eq!(
        events(&mut d),
        [format!(
            "[1] Forwarding {ME} forwardImmediate on=false to=206"
        )]
    );
    assert_eq!(d.forwarding(Forward::Immediate), (false, Some("206")));
}

#[test]
fn set_forwarding_errors_for_unkept_type_and_missing_destination() {
    let mut d = monitored();
    assert_eq!(
        ask(
            &mut d,
            &format!(
                "<SetForwarding><device>{ME}</device><forwardingType>forwardBusyInt</forwardingType><activateForward>true</activateForward><forwardDN>1</forwardDN></SetForwarding>"
            )
        ),
        error_xml("operation", "invalidForwardingType")
    );
    assert_eq!(
        ask(
            &mut d,
            &format!(
                "<SetForwarding><device>{ME}</device><forwardingType>forwardNoAns</forwardingType><activateForward>true</activateForward></SetForwarding>"
            )
        ),
        error_xml("operation", "invalidForwardingDestination")
    );
    assert_eq!(events(&mut d), Vec::<String>::new());
    assert_eq!(commands(&mut d), []);
}

#[test]
fn forwarded_calls_emit_diverted_with_forwarding_causes() {
    let mut d = monitored();
    d.forwarded("300", ME, "206", Divert::ForwardImmediate)
        .unwrap();
    d.forwarded("301", ME, "207", Divert::ForwardBusy).unwrap();
    let call = d.incoming("302", ME).unwrap();
    d.handle_progress(
        call,
        Progress::Diverted {
            to: "208",
            how: Divert::ForwardNoAnswer,
        },
    )
    .unwrap();
    assert_eq!(
        events(&mut d),
        [
            format!(
                "[1] Diverted 1/{ME} by={ME} new=206 calling=300 called={ME} null callForwardImmediate"
            ),
            format!(
                "[1] Diverted 2/{ME} by={ME} new=207 calling=301 called={ME} null callForwardBusy"
            ),
            format!("[1] Delivered 3/{ME} alerting={ME} calling=302 called={ME} alerting newCall"),
            format!(
                "[1] Diverted 3/{ME} by={ME} new=208 calling=302 called={ME} null callForwardNoAnswer"
            ),
        ]
    );
    assert_eq!(d.calls_in_use(), 0);
}

// --- 9. Snapshot ---------------------------------------------------------------------

#[test]
fn snapshot_device_lists_one_item_per_active_connection() {
    let mut d = monitored();
    let snapshot =
        format!("<SnapshotDevice><snapshotObject>{ME}</snapshotObject></SnapshotDevice>");
    assert_eq!(
        ask(&mut d, &snapshot),
        "<SnapshotDeviceResponse><crossRefIDorSnapshotData><snapshotData></snapshotData></crossRefIDorSnapshotData></SnapshotDeviceResponse>"
    );
    let c1 = connected_out(&mut d, "202");
    d.handle_progress(c1, Progress::Held).unwrap();
    let _c2 = d.incoming("300", ME).unwrap();
    let item = |call: &str, state: &str| {
        format!(
            "<snapshotDeviceResponseInfo><connectionIdentifier><callID>{call}</callID><deviceID>{ME}</deviceID></connectionIdentifier><localCallState><compoundCallState><localConnectionState>{state}</localConnectionState></compoundCallState></localCallState></snapshotDeviceResponseInfo>"
        )
    };
    assert_eq!(
        ask(&mut d, &snapshot),
        format!(
            "<SnapshotDeviceResponse><crossRefIDorSnapshotData><snapshotData>{}{}</snapshotData></crossRefIDorSnapshotData></SnapshotDeviceResponse>",
            item("1", "hold"),
            item("2", "alerting")
        )
    );
}

#[test]
fn snapshot_leaves_out_a_consultation_not_yet_started() {
    let mut d = monitored();
    let _c1 = connected_out(&mut d, "202");
    let _ = req(
        &mut d,
        &format!(
            "<ConsultationCall>{}<consultedDevice>203</consultedDevice></ConsultationCall>",
            conn("existingCall", "1")
        ),
    );
    let reply = req(
        &mut d,
        &format!("<SnapshotDevice><snapshotObject>{ME}</snapshotObject></SnapshotDevice>"),
    );
    let Message::SnapshotDeviceResponse(r) = reply.message() else {
        panic!()
    };
    assert_eq!(r.calls().len(), 1);
    assert_eq!(
        r.calls()[0].connection_identifier.unwrap().call_id.unwrap(),
        "1"
    );
}

// --- errors --------------------------------------------------------------------------

#[test]
fn unknown_service_is_service_not_supported() {
    let mut d = monitored();
    assert_eq!(
        ask(&mut d, "<SystemRegister/>"),
        error_xml("operation", "serviceNotSupported")
    );
    // Not a request at all.
    assert_eq!(
        ask(&mut d, "<AnswerCallResponse/>"),
        error_xml("operation", "serviceNotSupported")
    );
}

#[test]
fn unknown_call_and_connection_errors() {
    let mut d = monitored();
    let _ = connected_out(&mut d, "202");
    assert_eq!(
        ask(
            &mut d,
            &format!("<HoldCall>{}</HoldCall>", conn("callToBeHeld", "99"))
        ),
        error_xml("operation", "invalidCallID")
    );
    assert_eq!(
        ask(
            &mut d,
            "<HoldCall><callToBeHeld><deviceID>201</deviceID></callToBeHeld></HoldCall>"
        ),
        error_xml("operation", "invalidConnectionID")
    );
    assert_eq!(commands(&mut d), []);
}

#[test]
fn wrong_state_errors() {
    let mut d = monitored();
    let _c1 = connected_out(&mut d, "202");
    let cases = [
        // Answering a connected call.
        (
            format!("<AnswerCall>{}</AnswerCall>", conn("callToBeAnswered", "1")),
            "noCallToAnswer",
        ),
        // Retrieving a call that is not held.
        (
            format!(
                "<RetrieveCall>{}</RetrieveCall>",
                conn("callToBeRetrieved", "1")
            ),
            "noHeldCall",
        ),
        // Deflecting a call that is not ringing.
        (
            format!(
                "<DeflectCall>{}<newDestination>2</newDestination></DeflectCall>",
                conn("callToBeDiverted", "1")
            ),
            "invalidConnectionState",
        ),
        // Transfer without a held call.
        (
            format!(
                "<TransferCall>{}{}</TransferCall>",
                conn("heldCall", "1"),
                conn("activeCall", "1")
            ),
            "noHeldCall",
        ),
    ];
    for (request, expected) in &cases {
        assert_eq!(
            ask(&mut d, request),
            error_xml("stateIncompatibility", expected),
            "{request}"
        );
    }
    // Put C1 on hold: now hold, consultation and transfer with C1 as active fail.
    let c1 = d.find("1").unwrap();
    d.handle_progress(c1, Progress::Held).unwrap();
    let cases = [
        (
            format!("<HoldCall>{}</HoldCall>", conn("callToBeHeld", "1")),
            "invalidConnectionState",
        ),
        (
            format!(
                "<ConsultationCall>{}<consultedDevice>3</consultedDevice></ConsultationCall>",
                conn("existingCall", "1")
            ),
            "noActiveCall",
        ),
        (
            format!(
                "<AlternateCall>{}{}</AlternateCall>",
                conn("heldCall", "1"),
                conn("activeCall", "1")
            ),
            "noActiveCall",
        ),
        (
            format!(
                "<GenerateDigits>{}<charactersToSend>12</charactersToSend></GenerateDigits>",
                conn("connectionToSendDigits", "1")
            ),
            "invalidConnectionState",
        ),
    ];
    for (request, expected) in &cases {
        assert_eq!(
            ask(&mut d, request),
            error_xml("stateIncompatibility", expected),
            "{request}"
        );
    }
    assert_eq!(commands(&mut d), []);
}

#[test]
fn monitor_stop_of_unknown_monitor_and_monitor_limit() {
    let mut d = monitored();
    let start = format!(
        "<MonitorStart><monitorObject><deviceObject>{ME}</deviceObject></monitorObject></MonitorStart>"
    );
    assert_eq!(
        ask(&mut d, &start),
        error_xml("systemResourceAvailibility", "overallMonitorLimitExceeded")
    );
    assert_eq!(
        ask(
            &mut d,
            "<MonitorStop><monitorCrossRefID>7</monitorCrossRefID></MonitorStop>"
        ),
        error_xml("operation", "invalidMonitorCrossRefID")
    );
    assert_eq!(
        ask(
            &mut d,
            "<MonitorStop><monitorCrossRefID>1</monitorCrossRefID></MonitorStop>"
        ),
        "<MonitorStopResponse></MonitorStopResponse>"
    );
    assert!(!d.is_monitored());
    // The next monitor gets a new ID.
    assert_eq!(
        ask(&mut d, &start),
        "<MonitorStartResponse><monitorCrossRefID>2</monitorCrossRefID><monitorExistingCalls>true</monitorExistingCalls></MonitorStartResponse>"
    );
}

#[test]
fn configured_monitor_limit_reports_every_event_to_every_monitor() {
    let mut d = Phone::with_monitor_limit(ME, 2).unwrap();
    let start = format!(
        "<MonitorStart><monitorObject><deviceObject>{ME}</deviceObject></monitorObject></MonitorStart>"
    );
    assert!(req(&mut d, &start).is_positive());
    assert!(req(&mut d, &start).is_positive());
    assert_eq!(
        req(&mut d, &start).error(),
        Some(ErrorCode::SystemResourceAvailability(
            SystemResourceAvailability::OverallMonitorLimitExceeded
        ))
    );
    let _ = d.incoming("300", ME).unwrap();
    let delivered = |m: &str| {
        format!("[{m}] Delivered 1/{ME} alerting={ME} calling=300 called={ME} alerting newCall")
    };
    assert_eq!(events(&mut d), [delivered("1"), delivered("2")]);
}

#[test]
fn events_are_suppressed_without_monitor_but_state_changes() {
    let mut d = Phone::new(ME).unwrap();
    assert!(!d.is_monitored());
    let reply = req(&mut d, &make_call("202"));
    assert!(reply.is_positive());
    let call = d.find("1").unwrap();
    d.handle_progress(call, Progress::Originated { called: "202" })
        .unwrap();
    d.handle_progress(call, Progress::Answered).unwrap();
    assert_eq!(d.state(call), Ok(ConnectionState::Connected));
    d.handset_do_not_disturb(true).unwrap();
    assert!(d.do_not_disturb());
    assert!(d.poll_event().is_none());
    // Commands still flow.
    assert_eq!(commands(&mut d).len(), 1);
}

// --- handles and slots ---------------------------------------------------------------

#[test]
fn stale_call_ref_is_refused_and_never_acts_on_the_reused_slot() {
    let mut d = monitored();
    let old = d.incoming("300", ME).unwrap();
    d.handle_progress(old, Progress::Cancelled).unwrap();
    let new = d.incoming("301", ME).unwrap();
    assert_eq!(new.index(), old.index());
    assert_ne!(new.generation(), old.generation());
    let _ = events(&mut d);
    assert_eq!(
        d.handle_progress(old, Progress::Answered),
        Err(ModelError::StaleCall)
    );
    assert_eq!(d.state(old), Err(ModelError::StaleCall));
    assert_eq!(d.call_id(old), Err(ModelError::StaleCall));
    assert_eq!(d.state(new), Ok(ConnectionState::Alerting));
    assert_eq!(d.far_end(new), Ok("301"));
    assert_eq!(events(&mut d), Vec::<String>::new());
}

#[test]
fn slot_exhaustion_refuses_new_calls_and_ended_calls_free_their_slots() {
    let mut d = Device::<2>::new(ME).unwrap();
    let a = d.incoming("300", ME).unwrap();
    let b = d.off_hook().unwrap();
    assert_eq!(d.incoming("301", ME), Err(ModelError::NoFreeSlot));
    assert_eq!(d.off_hook(), Err(ModelError::NoFreeSlot));
    assert_eq!(
        ask(&mut d, &make_call("202")),
        error_xml("systemResourceAvailibility", "resourceBusy")
    );
    d.handle_progress(b, Progress::Originated { called: "202" })
        .unwrap();
    d.handle_progress(b, Progress::Answered).unwrap();
    assert_eq!(
        ask(
            &mut d,
            &format!(
                "<ConsultationCall>{}<consultedDevice>203</consultedDevice></ConsultationCall>",
                conn("existingCall", "2")
            )
        ),
        error_xml("systemResourceAvailibility", "resourceBusy")
    );
    d.handle_progress(a, Progress::Cancelled).unwrap();
    d.handle_progress(b, Progress::Cleared { remote: true })
        .unwrap();
    assert_eq!(d.calls_in_use(), 0);
    // Many calls later, nothing leaked.
    for i in 0..100 {
        let x = d.incoming("300", ME).unwrap();
        let y = d.incoming("301", ME).unwrap();
        d.handle_progress(x, Progress::Answered).unwrap();
        d.handle_progress(x, Progress::Cleared { remote: false })
            .unwrap();
        d.handle_progress(y, Progress::Cancelled).unwrap();
        assert_eq!(d.calls_in_use(), 0, "round {i}");
    }
    assert!(d.poll_event().is_none());
}

// --- queues --------------------------------------------------------------------------

#[test]
fn full_event_queue_refuses_reports_and_requests_without_changing_state() {
    let mut d = Device::<4, 2, 8>::new(ME).unwrap();
    let _ = req(
        &mut d,
        &format!(
            "<MonitorStart><monitorObject><deviceObject>{ME}</deviceObject></monitorObject></MonitorStart>"
        ),
    );
    let a = d.incoming("300", ME).unwrap();
    d.handle_progress(a, Progress::Answered).unwrap();
    // Two events queued: the next report does not fit.
    assert_eq!(
        d.handle_progress(a, Progress::Held),
        Err(ModelError::QueueFull)
    );
    assert_eq!(d.state(a), Ok(ConnectionState::Connected));
    assert_eq!(d.incoming("301", ME), Err(ModelError::QueueFull));
    assert_eq!(d.calls_in_use(), 1);
    assert_eq!(
        ask(
            &mut d,
            &format!(
                "<SetDoNotDisturb><device>{ME}</device><doNotDisturbOn>true</doNotDisturbOn></SetDoNotDisturb>"
            )
        ),
        error_xml("systemResourceAvailibility", "resourceBusy")
    );
    assert!(!d.do_not_disturb());
    assert_eq!(events(&mut d).len(), 2);
    // After polling, the same report goes through.
    d.handle_progress(a, Progress::Held).unwrap();
    assert_eq!(events(&mut d), [format!("[1] Held 1/{ME} by={ME} hold -")]);
}

#[test]
fn full_command_queue_answers_resource_busy() {
    let mut d = Device::<4, 16, 1>::new(ME).unwrap();
    let _ = d.incoming("300", ME).unwrap();
    let answer = format!("<AnswerCall>{}</AnswerCall>", conn("callToBeAnswered", "1"));
    assert!(req(&mut d, &answer).is_positive());
    assert_eq!(
        req(&mut d, &answer).error(),
        Some(ErrorCode::SystemResourceAvailability(
            SystemResourceAvailability::ResourceBusy
        ))
    );
    assert_eq!(commands(&mut d).len(), 1);
    assert!(req(&mut d, &answer).is_positive());
}

// --- progress reports in the wrong state ---------------------------------------------

#[test]
fn progress_in_the_wrong_state_is_refused() {
    let mut d = monitored();
    let call = d.incoming("300", ME).unwrap();
    let _ = events(&mut d);
    assert_eq!(
        d.handle_progress(call, Progress::Held),
        Err(ModelError::InvalidState(ConnectionState::Alerting))
    );
    assert_eq!(
        d.handle_progress(call, Progress::Retrieved),
        Err(ModelError::InvalidState(ConnectionState::Alerting))
    );
    assert_eq!(
        d.handle_progress(call, Progress::Ringing),
        Err(ModelError::InvalidState(ConnectionState::Alerting))
    );
    assert_eq!(
        d.handle_progress(call, Progress::Transferred),
        Err(ModelError::NoPartner)
    );
    assert_eq!(
        d.handle_progress(call, Progress::Conferenced),
        Err(ModelError::NoPartner)
    );
    d.handle_progress(call, Progress::Answered).unwrap();
    assert_eq!(
        d.handle_progress(call, Progress::Answered),
        Err(ModelError::InvalidState(ConnectionState::Connected))
    );
    assert_eq!(
        d.handle_progress(
            call,
            Progress::Diverted {
                to: "1",
                how: Divert::Deflected
            }
        ),
        Err(ModelError::InvalidState(ConnectionState::Connected))
    );
    assert_eq!(events(&mut d).len(), 1);
}

#[test]
fn off_hook_then_dialled_on_the_handset() {
    let mut d = monitored();
    let call = d.off_hook().unwrap();
    d.handle_progress(call, Progress::Originated { called: "202" })
        .unwrap();
    assert_eq!(
        events(&mut d),
        [
            format!("[1] ServiceInitiated 1/{ME} by={ME} initiated -"),
            format!("[1] Originated 1/{ME} calling={ME} called=202 connected -"),
        ]
    );
    assert_eq!(d.far_end(call), Ok("202"));
}

// --- other services ------------------------------------------------------------------

#[test]
fn device_services_answer_from_state_and_command_the_owner() {
    let mut d = monitored();
    let call = connected_in(&mut d, "300");
    assert_eq!(
        ask(
            &mut d,
            &format!(
                "<GenerateDigits>{}<charactersToSend>12#</charactersToSend></GenerateDigits>",
                conn("connectionToSendDigits", "1")
            )
        ),
        "<GenerateDigitsResponse></GenerateDigitsResponse>"
    );
    assert_eq!(
        commands(&mut d),
        [Command::SendDigits {
            call,
            digits: heapless::String::try_from("12#").unwrap()
        }]
    );
    let pairs = [
        (
            format!(
                "<SetMessageWaitingIndicator><device>{ME}</device><messageWaitingOn>true</messageWaitingOn></SetMessageWaitingIndicator>"
            ),
            "<SetMessageWaitingIndicatorResponse></SetMessageWaitingIndicatorResponse>",
            Command::SetMessageWaiting { on: true },
        ),
        (
            format!(
                "<SetSpeakerMute><device>{ME}</device><speakerMuteOn>true</speakerMuteOn></SetSpeakerMute>"
            ),
            "<SetSpeakerMuteResponse></SetSpeakerMuteResponse>",
            Command::SetSpeakerMute { on: true },
        ),
        (
            format!(
                "<SetSpeakerVolume><device>{ME}</device><speakerVolume>80</speakerVolume></SetSpeakerVolume>"
            ),
            "<SetSpeakerVolumeResponse></SetSpeakerVolumeResponse>",
            Command::SetSpeakerVolume { volume: 80 },
        ),
        (
            format!(
                "<SetMicrophoneMute><device>{ME}</device><microphoneMuteOn>true</microphoneMuteOn></SetMicrophoneMute>"
            ),
            "<SetMicrophoneMuteResponse></SetMicrophoneMuteResponse>",
            Command::SetMicrophoneMute { on: true },
        ),
    ];
    for (request, response, command) in pairs {
        assert_eq!(ask(&mut d, &request), response);
        assert_eq!(commands(&mut d), [command]);
    }
    assert_eq!(
        ask(
            &mut d,
            &format!(
                "<GetMessageWaitingIndicator><device>{ME}</device></GetMessageWaitingIndicator>"
            )
        ),
        "<GetMessageWaitingIndicatorResponse><messageWaitingOn>true</messageWaitingOn></GetMessageWaitingIndicatorResponse>"
    );
    assert_eq!(
        ask(
            &mut d,
            &format!("<GetSpeakerMute><device>{ME}</device></GetSpeakerMute>")
        ),
        "<GetSpeakerMuteResponse><speakerMuteOn>true</speakerMuteOn></GetSpeakerMuteResponse>"
    );
    assert_eq!(
        ask(
            &mut d,
            &format!("<GetSpeakerVolume><device>{ME}</device></GetSpeakerVolume>")
        ),
        "<GetSpeakerVolumeResponse><speakerVolume>80</speakerVolume></GetSpeakerVolumeResponse>"
    );
    assert_eq!(
        ask(
            &mut d,
            &format!("<GetMicrophoneMute><device>{ME}</device></GetMicrophoneMute>")
        ),
        "<GetMicrophoneMuteResponse><microphoneMuteOn>true</microphoneMuteOn></GetMicrophoneMuteResponse>"
    );
    assert_eq!(
        ask(
            &mut d,
            &format!(
                "<SetSpeakerVolume><device>{ME}</device><speakerVolume>101</speakerVolume></SetSpeakerVolume>"
            )
        ),
        error_xml("operation", "valueOutOfRange")
    );
    assert_eq!(commands(&mut d), []);
}

#[test]
fn request_system_status_is_normal() {
    let mut d = Phone::new(ME).unwrap();
    assert_eq!(
        ask(&mut d, "<RequestSystemStatus/>"),
        "<RequestSystemStatusResponse><systemStatus>normal</systemStatus></RequestSystemStatusResponse>"
    );
}

#[test]
fn get_csta_features_lists_what_the_device_answers() {
    let mut d = Phone::new(ME).unwrap();
    let reply = req(&mut d, "<GetCSTAFeatures/>");
    let Message::GetCSTAFeaturesResponse(r) = reply.message() else {
        panic!()
    };
    let services = r.supported_services.unwrap();
    let events = r.supported_events.unwrap();
    for (category, service) in csta_core::model::phone::SUPPORTED_SERVICES {
        assert_eq!(services.get(category, service), Some(true), "{service}");
    }
    assert_eq!(
        services.count_true(),
        csta_core::model::phone::SUPPORTED_SERVICES.len()
    );
    assert_eq!(services.get("callControlServList", "parkCall"), None);
    for (category, event) in csta_core::model::phone::SUPPORTED_EVENTS {
        assert_eq!(events.get(category, event), Some(true), "{event}");
    }
    assert_eq!(
        events.count_true(),
        csta_core::model::phone::SUPPORTED_EVENTS.len()
    );
    assert_eq!(events.get("callControlEvtsList", "transferred"), Some(true));
    assert_eq!(events.get("logicalEvtsList", "doNotDisturb"), Some(true));
    // It emits ForwardingEvent, so it says so.
    assert_eq!(events.get("logicalEvtsList", "forwarding"), Some(true));
    assert_eq!(events.get("callControlEvtsList", "bridged"), None);
    // Every service it lists is answered positively or with a state error, never
    // serviceNotSupported: spot-check with the requests this file sends.
    let x = xml(&reply.message());
    assert!(
        x.contains("<makeCall/>") || x.contains("<makeCall></makeCall>"),
        "{x}"
    );
}

#[test]
fn transfered_event_encodes_with_the_one_r_spelling() {
    let mut d = monitored();
    let call = connected_in(&mut d, "300");
    d.handle_progress(call, Progress::SingleStepTransferred { to: "204" })
        .unwrap();
    let e = d.poll_event().unwrap();
    assert_eq!(e.monitor_cross_ref_id(), "1");
    assert_eq!(
        xml(&e.message()),
        format!(
            "<TransferedEvent><monitorCrossRefID>1</monitorCrossRefID><primaryOldCall><callID>1</callID><deviceID>{ME}</deviceID></primaryOldCall><transferringDevice><deviceIdentifier>{ME}</deviceIdentifier></transferringDevice><transferredToDevice><deviceIdentifier>204</deviceIdentifier></transferredToDevice><transferredConnections><connectionListItem><newConnection><callID>1</callID><deviceID>300</deviceID></newConnection><endpoint><deviceIdentifier>300</deviceIdentifier></endpoint></connectionListItem></transferredConnections><localConnectionInfo>null</localConnectionInfo><cause>singleStepTransfer</cause></TransferedEvent>"
        )
    );
}

#[test]
fn errors_are_typed_and_displayable() {
    assert_eq!(ModelError::NoFreeSlot.to_string(), "no free call slot");
    assert_eq!(
        ModelError::InvalidState(ConnectionState::Hold).to_string(),
        "not valid in connection state hold"
    );
    assert_eq!(
        Phone::new(&"x".repeat(300)).err(),
        Some(ModelError::TooLong)
    );
    let mut d = monitored();
    assert_eq!(d.incoming(&"x".repeat(300), ME), Err(ModelError::TooLong));
    assert_eq!(d.calls_in_use(), 0);
    let _ = (
        Operation::ServiceNotSupported,
        StateIncompatibility::NoHeldCall,
    );
}

#[test]
fn requested_monitor_filter_suppresses_filtered_events() {
    let mut d = Phone::new(ME).unwrap();
    let reply = ask(
        &mut d,
        &format!(
            "<MonitorStart><monitorObject><deviceObject>{ME}</deviceObject></monitorObject><requestedMonitorFilter><callcontrol><delivered>true</delivered><held>false</held></callcontrol><logicalDeviceFeature><doNotDisturb>true</doNotDisturb></logicalDeviceFeature></requestedMonitorFilter></MonitorStart>"
        ),
    );
    assert!(
        reply.starts_with("<MonitorStartResponse><monitorCrossRefID>1</monitorCrossRefID><actualMonitorFilter><callcontrol>"),
        "{reply}"
    );
    assert!(reply.contains("<delivered>true</delivered>"), "{reply}");
    let call = d.incoming("300", ME).unwrap();
    d.handle_progress(call, Progress::Answered).unwrap();
    d.handle_progress(call, Progress::Held).unwrap();
    d.handset_do_not_disturb(true).unwrap();
    assert_eq!(
        events(&mut d),
        [
            format!("[1] Established 1/{ME} answering={ME} calling=300 called={ME} connected -"),
            format!("[1] Held 1/{ME} by={ME} hold -"),
        ]
    );
}

#[test]
fn consultation_whose_hold_never_happened_is_cleared_without_events() {
    let mut d = monitored();
    let c1 = connected_out(&mut d, "202");
    let _ = req(
        &mut d,
        &format!(
            "<ConsultationCall>{}<consultedDevice>203</consultedDevice></ConsultationCall>",
            conn("existingCall", "1")
        ),
    );
    let c2 = d.find("2").unwrap();
    assert_eq!(d.state(c2), Ok(ConnectionState::Null));
    let _ = commands(&mut d);
    d.handle_progress(c2, Progress::Cleared { remote: false })
        .unwrap();
    assert_eq!(events(&mut d), Vec::<String>::new());
    assert_eq!(d.calls_in_use(), 1);
    // C1 is unlinked: its hold is a plain hold now.
    d.handle_progress(c1, Progress::Held).unwrap();
    assert_eq!(events(&mut d), [format!("[1] Held 1/{ME} by={ME} hold -")]);
}

#[test]
fn stop_monitors_ends_every_monitor_and_drops_unpolled_events() {
    let mut d = monitored();
    let call = d.incoming("300", ME).unwrap();
    d.stop_monitors();
    assert!(!d.is_monitored());
    assert_eq!(events(&mut d), Vec::<String>::new());
    // The call stays; without a monitor its progress emits nothing.
    d.handle_progress(call, Progress::Answered).unwrap();
    assert_eq!(events(&mut d), Vec::<String>::new());
    assert_eq!(d.state(call), Ok(ConnectionState::Connected));
    // A new session's monitor gets a new ID and sees what follows.
    assert_eq!(
        ask(
            &mut d,
            &format!(
                "<MonitorStart><monitorObject><deviceObject>{ME}</deviceObject></monitorObject></MonitorStart>"
            )
        ),
        "<MonitorStartResponse><monitorCrossRefID>2</monitorCrossRefID><monitorExistingCalls>true</monitorExistingCalls></MonitorStartResponse>"
    );
    d.handle_progress(call, Progress::Cleared { remote: false })
        .unwrap();
    assert_eq!(
        events(&mut d),
        [format!(
            "[2] ConnectionCleared 1/{ME} releasing={ME} null normalClearing"
        )]
    );
}

#[test]
fn transfer_made_on_the_handset_joins_the_linked_calls() {
    let mut d = monitored();
    let c1 = connected_in(&mut d, "300");
    d.handle_progress(c1, Progress::Held).unwrap();
    let c2 = d.off_hook().unwrap();
    d.handle_progress(c2, Progress::Originated { called: "204" })
        .unwrap();
    d.handle_progress(c2, Progress::Answered).unwrap();
    let _ = events(&mut d);
    // Unlinked, the phone's transfer cannot be reported.
    assert_eq!(
        d.handle_progress(c2, Progress::Transferred),
        Err(ModelError::NoPartner)
    );
    assert_eq!(
        d.link_calls(c2, c1),
        Err(ModelError::InvalidState(ConnectionState::Connected))
    );
    assert_eq!(d.link_calls(c1, c1), Err(ModelError::NoPartner));
    d.link_calls(c1, c2).unwrap();
    d.handle_progress(c2, Progress::Transferred).unwrap();
    assert_eq!(
        events(&mut d),
        [format!(
            "[1] Transfered primary=1/{ME} secondary=2/{ME} by={ME} to=204 conns=1/300:300,2/204:204 null transfer"
        )]
    );
    assert_eq!(d.calls_in_use(), 0);
}

/// An unconfigured device (all zero bits, for a `static`) hands out no monitor;
/// configured in place it is the device `new` makes; configured again it starts over:
/// its calls are gone (their handles stale), its monitor and features too, and call
/// and monitor IDs count from 1 again. An ID that does not fit changes nothing.
#[test]
fn configured_in_place_and_again() {
    let start = format!(
        "<MonitorStart><monitorObject><deviceObject>{ME}</deviceObject></monitorObject></MonitorStart>"
    );
    let first_monitor = "<MonitorStartResponse><monitorCrossRefID>1</monitorCrossRefID><monitorExistingCalls>true</monitorExistingCalls></MonitorStartResponse>";
    let mut d = Phone::unconfigured();
    assert_eq!(d.id(), "");
    assert!(!req(&mut d, &start).is_positive());
    assert!(!d.is_monitored());

    d.configure(ME, 1).unwrap();
    assert_eq!(d.id(), ME);
    assert_eq!(ask(&mut d, &start), first_monitor);
    let call = d.off_hook().unwrap();
    assert_eq!(d.call_id(call), Ok("1"));
    d.handset_do_not_disturb(true).unwrap();
    d.handset_forwarding(Forward::Immediate, true, Some("203"))
        .unwrap();
    assert!(!events(&mut d).is_empty());
    let _ = d.incoming("300", ME);

    assert_eq!(d.configure(&"x".repeat(300), 1), Err(ModelError::TooLong));
    assert_eq!((d.id(), d.calls_in_use()), (ME, 2), "unchanged");

    d.configure("sip:301@gw", 1).unwrap();
    assert_eq!(d.id(), "sip:301@gw");
    assert_eq!(d.calls_in_use(), 0);
    assert_eq!(d.state(call), Err(ModelError::StaleCall));
    assert!(!d.is_monitored() && !d.do_not_disturb());
    assert_eq!(d.forwarding(Forward::Immediate), (false, None));
    assert!(events(&mut d).is_empty() && commands(&mut d).is_empty());
    let start = start.replace(ME, "sip:301@gw");
    assert_eq!(ask(&mut d, &start), first_monitor);
    let again = d.off_hook().unwrap();
    assert_ne!(again, call);
    assert_eq!(d.call_id(again), Ok("1"));
}
