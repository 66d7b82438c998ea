//! The computing function's device view, driven by the event sequences a uaCSTA phone
//! emits (PROTOCOL.md section 5), by the ways real phones deviate from them, and by
//! vendor captures from `tests/data/csta`.

use std::path::PathBuf;

use csta_core::decode;
use csta_core::model::view::{
    Change, ConsultationPurpose, DeviceView, Direction, DisconnectMode, LastEvent, TapiCallState,
    ViewError,
};
use csta_core::names::{ConnectionState, EventCause, ForwardingType};

const ME: &str = "sip:201@pbx.example";

fn feed<const N: usize>(view: &mut DeviceView<N>, xml: &str) -> Change {
    let decoded = decode(xml.as_bytes()).unwrap_or_else(|e| panic!("{e:?} decoding {xml}"));
    view.handle_message(&decoded.message)
        .unwrap_or_else(|e| panic!("{e:?} handling {xml}"))
}

fn try_feed<const N: usize>(view: &mut DeviceView<N>, xml: &str) -> Result<Change, ViewError> {
    let decoded = decode(xml.as_bytes()).unwrap_or_else(|e| panic!("{e:?} decoding {xml}"));
    view.handle_message(&decoded.message)
}

fn updated(change: &Change) -> Vec<String> {
    change.updated().map(str::to_owned).collect()
}

fn removed(change: &Change) -> Vec<(String, Option<DisconnectMode>)> {
    change
        .removed()
        .iter()
        .map(|r| (r.call_id().to_owned(), r.disconnect_mode()))
        .collect()
}

fn ids<const N: usize>(view: &DeviceView<N>) -> Vec<String> {
    view.calls().map(|c| c.call_id().to_owned()).collect()
}

/// Asserts the call's local state, TAPI state and peer.
fn assert_call<const N: usize>(
    view: &DeviceView<N>,
    call_id: &str,
    state: ConnectionState,
    tapi: TapiCallState,
    peer: Option<&str>,
) {
    let call = view
        .call(call_id)
        .unwrap_or_else(|| panic!("no call {call_id:?} in {:?}", ids(view)));
    assert_eq!(call.local_state(), state, "local state of {call_id}");
    assert_eq!(call.tapi_state(), tapi, "TAPI state of {call_id}");
    assert_eq!(call.peer(), peer, "peer of {call_id}");
}

// Outgoing call C1 from 201 to 202 (MakeCall, doNotPrompt).

const MAKE_CALL_RESPONSE: &str = r#"<MakeCallResponse xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3"><callingDevice><callID>C1</callID><deviceID>sip:201@pbx.example</deviceID></callingDevice></MakeCallResponse>"#;

const SI_C1: &str = r#"<ServiceInitiatedEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
  <monitorCrossRefID>43</monitorCrossRefID>
  <initiatedConnection><callID>C1</callID><deviceID>sip:201@pbx.example</deviceID></initiatedConnection>
  <initiatingDevice><deviceIdentifier>sip:201@pbx.example</deviceIdentifier></initiatingDevice>
  <localConnectionInfo>initiated</localConnectionInfo>
  <cause>makeCall</cause>
</ServiceInitiatedEvent>"#;

const ORIGINATED_C1: &str = r#"<OriginatedEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
  <monitorCrossRefID>43</monitorCrossRefID>
  <originatedConnection><callID>C1</callID><deviceID>sip:201@pbx.example</deviceID></originatedConnection>
  <callingDevice><deviceIdentifier>sip:201@pbx.example</deviceIdentifier></callingDevice>
  <calledDevice><deviceIdentifier>202</deviceIdentifier></calledDevice>
  <localConnectionInfo>connected</localConnectionInfo>
  <cause>newCall</cause>
</OriginatedEvent>"#;

const DELIVERED_C1_FAR: &str = r#"<DeliveredEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
  <monitorCrossRefID>43</monitorCrossRefID>
  <connection><callID>C1</callID><deviceID>sip:202@pbx.example</deviceID></connection>
  <alertingDevice><deviceIdentifier>sip:202@pbx.example</deviceIdentifier></alertingDevice>
  <callingDevice><deviceIdentifier>sip:201@pbx.example</deviceIdentifier></callingDevice>
  <calledDevice><deviceIdentifier>202</deviceIdentifier></calledDevice>
  <localConnectionInfo>connected</localConnectionInfo>
  <cause>newCall</cause>
</DeliveredEvent>"#;

const ESTABLISHED_C1_FAR: &str = r#"<EstablishedEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
  <monitorCrossRefID>43</monitorCrossRefID>
  <establishedConnection><callID>C1</callID><deviceID>sip:202@pbx.example</deviceID></establishedConnection>
  <answeringDevice><deviceIdentifier>sip:202@pbx.example</deviceIdentifier></answeringDevice>
  <callingDevice><deviceIdentifier>sip:201@pbx.example</deviceIdentifier></callingDevice>
  <calledDevice><deviceIdentifier>202</deviceIdentifier></calledDevice>
  <localConnectionInfo>connected</localConnectionInfo>
  <cause>newCall</cause>
</EstablishedEvent>"#;

const CLEARED_C1_OWN: &str = r#"<ConnectionClearedEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
  <monitorCrossRefID>43</monitorCrossRefID>
  <droppedConnection><callID>C1</callID><deviceID>sip:201@pbx.example</deviceID></droppedConnection>
  <releasingDevice><deviceIdentifier>sip:201@pbx.example</deviceIdentifier></releasingDevice>
  <localConnectionInfo>null</localConnectionInfo>
  <cause>normalClearing</cause>
</ConnectionClearedEvent>"#;

// Incoming call C5 from 202 to 201.

const DELIVERED_C5_OWN: &str = r#"<DeliveredEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
  <monitorCrossRefID>43</monitorCrossRefID>
  <connection><callID>C5</callID><deviceID>sip:201@pbx.example</deviceID></connection>
  <alertingDevice><deviceIdentifier>sip:201@pbx.example</deviceIdentifier></alertingDevice>
  <callingDevice><deviceIdentifier>sip:202@pbx.example</deviceIdentifier></callingDevice>
  <calledDevice><deviceIdentifier>201</deviceIdentifier></calledDevice>
  <localConnectionInfo>alerting</localConnectionInfo>
  <cause>newCall</cause>
</DeliveredEvent>"#;

const ESTABLISHED_C5_OWN: &str = r#"<EstablishedEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
  <monitorCrossRefID>43</monitorCrossRefID>
  <establishedConnection><callID>C5</callID><deviceID>sip:201@pbx.example</deviceID></establishedConnection>
  <answeringDevice><deviceIdentifier>sip:201@pbx.example</deviceIdentifier></answeringDevice>
  <callingDevice><deviceIdentifier>sip:202@pbx.example</deviceIdentifier></callingDevice>
  <calledDevice><deviceIdentifier>201</deviceIdentifier></calledDevice>
  <localConnectionInfo>connected</localConnectionInfo>
  <cause>newCall</cause>
</EstablishedEvent>"#;

const CLEARED_C5_FAR: &str = r#"<ConnectionClearedEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
  <monitorCrossRefID>43</monitorCrossRefID>
  <droppedConnection><callID>C5</callID><deviceID>sip:202@pbx.example</deviceID></droppedConnection>
  <releasingDevice><deviceIdentifier>sip:202@pbx.example</deviceIdentifier></releasingDevice>
  <localConnectionInfo>null</localConnectionInfo>
  <cause>normalClearing</cause>
</ConnectionClearedEvent>"#;

// Consultation from C1 (connected to 202) to 203 in C2.

const HELD_C1_CONSULTATION: &str = r#"<HeldEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
  <monitorCrossRefID>43</monitorCrossRefID>
  <heldConnection><callID>C1</callID><deviceID>sip:201@pbx.example</deviceID></heldConnection>
  <holdingDevice><deviceIdentifier>sip:201@pbx.example</deviceIdentifier></holdingDevice>
  <localConnectionInfo>hold</localConnectionInfo>
  <cause>consultation</cause>
</HeldEvent>"#;

const SI_C2: &str = r#"<ServiceInitiatedEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
  <monitorCrossRefID>43</monitorCrossRefID>
  <initiatedConnection><callID>C2</callID><deviceID>sip:201@pbx.example</deviceID></initiatedConnection>
  <initiatingDevice><deviceIdentifier>sip:201@pbx.example</deviceIdentifier></initiatingDevice>
  <localConnectionInfo>initiated</localConnectionInfo>
  <cause>consultation</cause>
</ServiceInitiatedEvent>"#;

const ORIGINATED_C2: &str = r#"<OriginatedEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
  <monitorCrossRefID>43</monitorCrossRefID>
  <originatedConnection><callID>C2</callID><deviceID>sip:201@pbx.example</deviceID></originatedConnection>
  <callingDevice><deviceIdentifier>sip:201@pbx.example</deviceIdentifier></callingDevice>
  <calledDevice><deviceIdentifier>sip:203@pbx.example</deviceIdentifier></calledDevice>
  <localConnectionInfo>connected</localConnectionInfo>
  <cause>consultation</cause>
</OriginatedEvent>"#;

const DELIVERED_C2_FAR: &str = r#"<DeliveredEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
  <monitorCrossRefID>43</monitorCrossRefID>
  <connection><callID>C2</callID><deviceID>sip:203@pbx.example</deviceID></connection>
  <alertingDevice><deviceIdentifier>sip:203@pbx.example</deviceIdentifier></alertingDevice>
  <callingDevice><deviceIdentifier>sip:201@pbx.example</deviceIdentifier></callingDevice>
  <calledDevice><deviceIdentifier>sip:203@pbx.example</deviceIdentifier></calledDevice>
  <localConnectionInfo>connected</localConnectionInfo>
  <cause>consultation</cause>
</DeliveredEvent>"#;

const ESTABLISHED_C2_FAR: &str = r#"<EstablishedEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
  <monitorCrossRefID>43</monitorCrossRefID>
  <establishedConnection><callID>C2</callID><deviceID>sip:203@pbx.example</deviceID></establishedConnection>
  <answeringDevice><deviceIdentifier>sip:203@pbx.example</deviceIdentifier></answeringDevice>
  <callingDevice><deviceIdentifier>sip:201@pbx.example</deviceIdentifier></callingDevice>
  <calledDevice><deviceIdentifier>sip:203@pbx.example</deviceIdentifier></calledDevice>
  <localConnectionInfo>connected</localConnectionInfo>
  <cause>consultation</cause>
</EstablishedEvent>"#;

const RETRIEVED_C1: &str = r#"<RetrievedEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
  <monitorCrossRefID>43</monitorCrossRefID>
  <retrievedConnection><callID>C1</callID><deviceID>sip:201@pbx.example</deviceID></retrievedConnection>
  <retrievingDevice><deviceIdentifier>sip:201@pbx.example</deviceIdentifier></retrievingDevice>
  <localConnectionInfo>connected</localConnectionInfo>
  <cause>normal</cause>
</RetrievedEvent>"#;

fn outgoing_connected() -> DeviceView<4> {
    let mut view = DeviceView::<4>::new(ME).unwrap();
    for xml in [SI_C1, ORIGINATED_C1, DELIVERED_C1_FAR, ESTABLISHED_C1_FAR] {
        feed(&mut view, xml);
    }
    assert_call(
        &view,
        "C1",
        ConnectionState::Connected,
        TapiCallState::Connected,
        Some("sip:202@pbx.example"),
    );
    view
}

/// C1 held for a consultation, C2 connected to 203.
fn consulting() -> DeviceView<4> {
    let mut view = outgoing_connected();
    let change = feed(&mut view, HELD_C1_CONSULTATION);
    assert_eq!(updated(&change), ["C1"]);
    assert_call(
        &view,
        "C1",
        ConnectionState::Hold,
        TapiCallState::OnHoldPendTransfer,
        Some("sip:202@pbx.example"),
    );
    let change = feed(&mut view, SI_C2);
    assert_eq!(updated(&change), ["C2", "C1"]);
    assert_call(
        &view,
        "C2",
        ConnectionState::Initiated,
        TapiCallState::Dialtone,
        None,
    );
    assert_eq!(view.call("C2").unwrap().consultation_of(), Some("C1"));
    assert_eq!(view.call("C1").unwrap().consulted_by(), Some("C2"));
    feed(&mut view, ORIGINATED_C2);
    assert_call(
        &view,
        "C2",
        ConnectionState::Connected,
        TapiCallState::Proceeding,
        Some("sip:203@pbx.example"),
    );
    feed(&mut view, DELIVERED_C2_FAR);
    assert_call(
        &view,
        "C2",
        ConnectionState::Connected,
        TapiCallState::Ringback,
        Some("sip:203@pbx.example"),
    );
    feed(&mut view, ESTABLISHED_C2_FAR);
    assert_call(
        &view,
        "C2",
        ConnectionState::Connected,
        TapiCallState::Connected,
        Some("sip:203@pbx.example"),
    );
    assert_call(
        &view,
        "C1",
        ConnectionState::Hold,
        TapiCallState::OnHoldPendTransfer,
        Some("sip:202@pbx.example"),
    );
    view
}

// --- Section 5 sequences -------------------------------------------------------------

#[test]
fn make_call_success_walks_dialtone_proceeding_ringback_connected_then_disconnects() {
    let mut view = DeviceView::<4>::new(ME).unwrap();
    assert!(feed(&mut view, MAKE_CALL_RESPONSE).is_empty());
    assert_eq!(view.calls().count(), 0);

    let change = feed(&mut view, SI_C1);
    assert_eq!(updated(&change), ["C1"]);
    assert_call(
        &view,
        "C1",
        ConnectionState::Initiated,
        TapiCallState::Dialtone,
        None,
    );
    let call = view.call("C1").unwrap();
    assert_eq!(call.direction(), Direction::Outgoing);
    assert_eq!(call.cause(), Some(EventCause::MakeCall));
    assert_eq!(call.last_event(), LastEvent::ServiceInitiated);

    feed(&mut view, ORIGINATED_C1);
    assert_call(
        &view,
        "C1",
        ConnectionState::Connected,
        TapiCallState::Proceeding,
        Some("202"),
    );

    feed(&mut view, DELIVERED_C1_FAR);
    assert_call(
        &view,
        "C1",
        ConnectionState::Connected,
        TapiCallState::Ringback,
        Some("sip:202@pbx.example"),
    );

    feed(&mut view, ESTABLISHED_C1_FAR);
    assert_call(
        &view,
        "C1",
        ConnectionState::Connected,
        TapiCallState::Connected,
        Some("sip:202@pbx.example"),
    );
    assert_eq!(view.call("C1").unwrap().direction(), Direction::Outgoing);

    let change = feed(&mut view, CLEARED_C1_OWN);
    assert_eq!(
        removed(&change),
        [("C1".to_owned(), Some(DisconnectMode::Normal))]
    );
    assert!(updated(&change).is_empty());
    assert_eq!(view.calls().count(), 0);
}

#[test]
fn make_call_busy_is_tapi_busy_then_disconnected_busy() {
    let mut view = DeviceView::<4>::new(ME).unwrap();
    feed(&mut view, SI_C1);
    feed(&mut view, ORIGINATED_C1);
    feed(
        &mut view,
        r#"<FailedEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
  <monitorCrossRefID>43</monitorCrossRefID>
  <failedConnection><callID>C1</callID><deviceID>sip:202@pbx.example</deviceID></failedConnection>
  <failingDevice><deviceIdentifier>sip:202@pbx.example</deviceIdentifier></failingDevice>
  <callingDevice><deviceIdentifier>sip:201@pbx.example</deviceIdentifier></callingDevice>
  <calledDevice><deviceIdentifier>202</deviceIdentifier></calledDevice>
  <localConnectionInfo>fail</localConnectionInfo>
  <cause>busy</cause>
</FailedEvent>"#,
    );
    assert_call(
        &view,
        "C1",
        ConnectionState::Fail,
        TapiCallState::Busy,
        Some("202"),
    );
    assert_eq!(view.call("C1").unwrap().disconnect_mode(), None);

    let change = feed(
        &mut view,
        r#"<ConnectionClearedEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
  <monitorCrossRefID>43</monitorCrossRefID>
  <droppedConnection><callID>C1</callID><deviceID>sip:201@pbx.example</deviceID></droppedConnection>
  <releasingDevice><deviceIdentifier>sip:201@pbx.example</deviceIdentifier></releasingDevice>
  <localConnectionInfo>null</localConnectionInfo>
  <cause>busy</cause>
</ConnectionClearedEvent>"#,
    );
    assert_eq!(
        removed(&change),
        [("C1".to_owned(), Some(DisconnectMode::Busy))]
    );
    assert_eq!(view.calls().count(), 0);
}

#[test]
fn make_call_failures_map_causes_to_disconnect_modes() {
    for (cause, tapi, mode) in [
        (
            "numberUnallocated",
            TapiCallState::Disconnected,
            Some(DisconnectMode::BadAddress),
        ),
        (
            "callNotAnswered",
            TapiCallState::Disconnected,
            Some(DisconnectMode::NoAnswer),
        ),
        (
            "destNotObtainable",
            TapiCallState::Disconnected,
            Some(DisconnectMode::BadAddress),
        ),
        (
            "doNotDisturb",
            TapiCallState::Disconnected,
            Some(DisconnectMode::DoNotDisturb),
        ),
        (
            "networkCongestion",
            TapiCallState::Disconnected,
            Some(DisconnectMode::Congestion),
        ),
        ("trunksBusy", TapiCallState::Busy, None),
        (
            "vendorSpecific",
            TapiCallState::Disconnected,
            Some(DisconnectMode::Unknown),
        ),
    ] {
        let mut view = DeviceView::<4>::new(ME).unwrap();
        feed(&mut view, SI_C1);
        // No localConnectionInfo: Failed moves the device's connection to `fail`.
        let xml = format!(
            r#"<FailedEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
  <failedConnection><callID>C1</callID><deviceID>sip:202@pbx.example</deviceID></failedConnection>
  <failingDevice><deviceIdentifier>sip:202@pbx.example</deviceIdentifier></failingDevice>
  <callingDevice><deviceIdentifier>sip:201@pbx.example</deviceIdentifier></callingDevice>
  <calledDevice><deviceIdentifier>202</deviceIdentifier></calledDevice>
  <cause>{cause}</cause>
</FailedEvent>"#
        );
        feed(&mut view, &xml);
        let call = view.call("C1").unwrap();
        assert_eq!(call.local_state(), ConnectionState::Fail, "{cause}");
        assert_eq!(call.tapi_state(), tapi, "{cause}");
        assert_eq!(call.disconnect_mode(), mode, "{cause}");
        assert_eq!(call.peer(), Some("sip:202@pbx.example"));
    }
}

#[test]
fn incoming_call_answered_offering_connected_then_far_end_clears() {
    let mut view = DeviceView::<4>::new(ME).unwrap();
    let change = feed(&mut view, DELIVERED_C5_OWN);
    assert_eq!(updated(&change), ["C5"]);
    assert_call(
        &view,
        "C5",
        ConnectionState::Alerting,
        TapiCallState::Offering,
        Some("sip:202@pbx.example"),
    );
    assert_eq!(view.call("C5").unwrap().direction(), Direction::Incoming);
    assert_eq!(view.call("C5").unwrap().cause(), Some(EventCause::NewCall));

    feed(&mut view, ESTABLISHED_C5_OWN);
    assert_call(
        &view,
        "C5",
        ConnectionState::Connected,
        TapiCallState::Connected,
        Some("sip:202@pbx.example"),
    );
    assert_eq!(view.call("C5").unwrap().direction(), Direction::Incoming);

    let change = feed(&mut view, CLEARED_C5_FAR);
    assert_eq!(
        removed(&change),
        [("C5".to_owned(), Some(DisconnectMode::Normal))]
    );
    assert_eq!(view.calls().count(), 0);
}

#[test]
fn incoming_call_caller_gives_up_is_disconnected_cancelled() {
    let mut view = DeviceView::<4>::new(ME).unwrap();
    feed(&mut view, DELIVERED_C5_OWN);
    let change = feed(
        &mut view,
        r#"<ConnectionClearedEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
  <monitorCrossRefID>43</monitorCrossRefID>
  <droppedConnection><callID>C5</callID><deviceID>sip:201@pbx.example</deviceID></droppedConnection>
  <releasingDevice><deviceIdentifier>sip:202@pbx.example</deviceIdentifier></releasingDevice>
  <localConnectionInfo>null</localConnectionInfo>
  <cause>callCancelled</cause>
</ConnectionClearedEvent>"#,
    );
    assert_eq!(
        removed(&change),
        [("C5".to_owned(), Some(DisconnectMode::Cancelled))]
    );
    assert_eq!(view.calls().count(), 0);
}

#[test]
fn hold_and_retrieve_move_between_onhold_and_connected() {
    let mut view = outgoing_connected();
    feed(
        &mut view,
        r#"<HeldEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
  <monitorCrossRefID>43</monitorCrossRefID>
  <heldConnection><callID>C1</callID><deviceID>sip:201@pbx.example</deviceID></heldConnection>
  <holdingDevice><deviceIdentifier>sip:201@pbx.example</deviceIdentifier></holdingDevice>
  <localConnectionInfo>hold</localConnectionInfo>
  <cause>normal</cause>
</HeldEvent>"#,
    );
    assert_call(
        &view,
        "C1",
        ConnectionState::Hold,
        TapiCallState::OnHold,
        Some("sip:202@pbx.example"),
    );
    feed(&mut view, RETRIEVED_C1);
    assert_call(
        &view,
        "C1",
        ConnectionState::Connected,
        TapiCallState::Connected,
        Some("sip:202@pbx.example"),
    );
    assert_eq!(view.call("C1").unwrap().last_event(), LastEvent::Retrieved);
}

#[test]
fn consultation_then_transfer_removes_both_calls_without_connection_cleared() {
    let mut view = consulting();
    let change = feed(
        &mut view,
        r#"<TransferedEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
  <monitorCrossRefID>43</monitorCrossRefID>
  <primaryOldCall><callID>C1</callID><deviceID>sip:201@pbx.example</deviceID></primaryOldCall>
  <secondaryOldCall><callID>C2</callID><deviceID>sip:201@pbx.example</deviceID></secondaryOldCall>
  <transferringDevice><deviceIdentifier>sip:201@pbx.example</deviceIdentifier></transferringDevice>
  <transferredToDevice><deviceIdentifier>sip:203@pbx.example</deviceIdentifier></transferredToDevice>
  <transferredConnections>
    <connectionListItem>
      <newConnection><callID>C3</callID><deviceID>sip:202@pbx.example</deviceID></newConnection>
      <oldConnection><callID>C1</callID><deviceID>sip:202@pbx.example</deviceID></oldConnection>
      <endpoint><deviceIdentifier>sip:202@pbx.example</deviceIdentifier></endpoint>
    </connectionListItem>
    <connectionListItem>
      <newConnection><callID>C3</callID><deviceID>sip:203@pbx.example</deviceID></newConnection>
      <oldConnection><callID>C2</callID><deviceID>sip:203@pbx.example</deviceID></oldConnection>
      <endpoint><deviceIdentifier>sip:203@pbx.example</deviceIdentifier></endpoint>
    </connectionListItem>
  </transferredConnections>
  <localConnectionInfo>null</localConnectionInfo>
  <cause>transfer</cause>
</TransferedEvent>"#,
    );
    // TAPI: IDLE directly (no disconnect mode) for both.
    assert_eq!(
        removed(&change),
        [("C1".to_owned(), None), ("C2".to_owned(), None)]
    );
    assert_eq!(view.calls().count(), 0);

    // A ConnectionCleared that some phones send late anyway changes nothing.
    assert!(feed(&mut view, CLEARED_C1_OWN).is_empty());
    assert_eq!(view.calls().count(), 0);
}

#[test]
fn alternate_swaps_held_and_active_calls() {
    let mut view = consulting();
    feed(
        &mut view,
        r#"<HeldEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
  <monitorCrossRefID>43</monitorCrossRefID>
  <heldConnection><callID>C2</callID><deviceID>sip:201@pbx.example</deviceID></heldConnection>
  <holdingDevice><deviceIdentifier>sip:201@pbx.example</deviceIdentifier></holdingDevice>
  <localConnectionInfo>hold</localConnectionInfo>
  <cause>alternate</cause>
</HeldEvent>"#,
    );
    assert_call(
        &view,
        "C2",
        ConnectionState::Hold,
        TapiCallState::OnHold,
        Some("sip:203@pbx.example"),
    );
    feed(&mut view, RETRIEVED_C1);
    assert_call(
        &view,
        "C1",
        ConnectionState::Connected,
        TapiCallState::Connected,
        Some("sip:202@pbx.example"),
    );
    // The consultation pair survives the swap.
    assert_eq!(view.call("C2").unwrap().consultation_of(), Some("C1"));
    assert_eq!(view.call("C1").unwrap().consulted_by(), Some("C2"));
}

#[test]
fn reconnect_clears_consultation_and_retrieves_primary() {
    let mut view = consulting();
    let change = feed(
        &mut view,
        r#"<ConnectionClearedEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
  <monitorCrossRefID>43</monitorCrossRefID>
  <droppedConnection><callID>C2</callID><deviceID>sip:201@pbx.example</deviceID></droppedConnection>
  <releasingDevice><deviceIdentifier>sip:201@pbx.example</deviceIdentifier></releasingDevice>
  <localConnectionInfo>null</localConnectionInfo>
  <cause>normalClearing</cause>
</ConnectionClearedEvent>"#,
    );
    assert_eq!(
        removed(&change),
        [("C2".to_owned(), Some(DisconnectMode::Normal))]
    );
    assert_eq!(updated(&change), ["C1"]);
    assert_eq!(view.call("C1").unwrap().consulted_by(), None);
    assert_call(
        &view,
        "C1",
        ConnectionState::Hold,
        TapiCallState::OnHold,
        Some("sip:202@pbx.example"),
    );
    feed(&mut view, RETRIEVED_C1);
    assert_call(
        &view,
        "C1",
        ConnectionState::Connected,
        TapiCallState::Connected,
        Some("sip:202@pbx.example"),
    );
    assert_eq!(ids(&view), ["C1"]);
}

#[test]
fn single_step_transfer_removes_the_call() {
    let mut view = outgoing_connected();
    // No localConnectionInfo: the transferring device (named as a bare extension) is
    // this device, so it leaves.
    let change = feed(
        &mut view,
        r#"<TransferedEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
  <monitorCrossRefID>43</monitorCrossRefID>
  <primaryOldCall><callID>C1</callID><deviceID>201</deviceID></primaryOldCall>
  <transferringDevice><deviceIdentifier>201</deviceIdentifier></transferringDevice>
  <transferredToDevice><deviceIdentifier>sip:204@pbx.example</deviceIdentifier></transferredToDevice>
  <cause>singleStepTransfer</cause>
</TransferedEvent>"#,
    );
    assert_eq!(removed(&change), [("C1".to_owned(), None)]);
    assert_eq!(view.calls().count(), 0);
}

#[test]
fn transfer_recognised_by_own_old_connection_when_transferring_device_form_differs() {
    let mut view = outgoing_connected();
    let change = feed(
        &mut view,
        r#"<TransferedEvent>
  <primaryOldCall><callID>C1</callID><deviceID>sip:201@pbx.example</deviceID></primaryOldCall>
  <transferringDevice><deviceIdentifier>N&lt;+49 89 1234 201&gt;;noa=unknown</deviceIdentifier></transferringDevice>
  <transferredToDevice><deviceIdentifier>204</deviceIdentifier></transferredToDevice>
  <cause>singleStepTransfer</cause>
</TransferedEvent>"#,
    );
    assert_eq!(removed(&change), [("C1".to_owned(), None)]);
    assert_eq!(view.calls().count(), 0);
}

const TRANSFERED_AWAY_FROM_202: &str = r#"<TransferedEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
  <monitorCrossRefID>43</monitorCrossRefID>
  <primaryOldCall><callID>C5</callID><deviceID>sip:202@pbx.example</deviceID></primaryOldCall>
  <secondaryOldCall><callID>C6</callID><deviceID>sip:202@pbx.example</deviceID></secondaryOldCall>
  <transferringDevice><deviceIdentifier>sip:202@pbx.example</deviceIdentifier></transferringDevice>
  <transferredToDevice><deviceIdentifier>sip:203@pbx.example</deviceIdentifier></transferredToDevice>
  <transferredConnections>
    <connectionListItem>
      <newConnection><callID>C7</callID><deviceID>sip:201@pbx.example</deviceID></newConnection>
      <oldConnection><callID>C5</callID><deviceID>sip:201@pbx.example</deviceID></oldConnection>
    </connectionListItem>
  </transferredConnections>
  <localConnectionInfo>connected</localConnectionInfo>
  <cause>transfer</cause>
</TransferedEvent>"#;

#[test]
fn transferred_party_stays_with_renamed_call_and_new_peer() {
    // 201 is the party being transferred: 202 transfers it to 203.
    let mut view = DeviceView::<4>::new(ME).unwrap();
    feed(&mut view, DELIVERED_C5_OWN);
    feed(&mut view, ESTABLISHED_C5_OWN);
    let change = feed(&mut view, TRANSFERED_AWAY_FROM_202);
    assert_eq!(removed(&change), [("C5".to_owned(), None)]);
    assert_eq!(updated(&change), ["C7"]);
    assert_eq!(ids(&view), ["C7"]);
    assert_call(
        &view,
        "C7",
        ConnectionState::Connected,
        TapiCallState::Connected,
        Some("sip:203@pbx.example"),
    );
    assert_eq!(view.call("C7").unwrap().last_event(), LastEvent::Transfered);
    // Re-sent: the renamed call is already there, nothing changes.
    assert!(feed(&mut view, TRANSFERED_AWAY_FROM_202).is_empty());
    assert_eq!(ids(&view), ["C7"]);
}

const CONFERENCED_C1_C2: &str = r#"<ConferencedEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
  <monitorCrossRefID>43</monitorCrossRefID>
  <primaryOldCall><callID>C1</callID><deviceID>sip:201@pbx.example</deviceID></primaryOldCall>
  <secondaryOldCall><callID>C2</callID><deviceID>sip:201@pbx.example</deviceID></secondaryOldCall>
  <conferencingDevice><deviceIdentifier>sip:201@pbx.example</deviceIdentifier></conferencingDevice>
  <addedParty><deviceIdentifier>sip:203@pbx.example</deviceIdentifier></addedParty>
  <conferenceConnections>
    <connectionListItem>
      <newConnection><callID>C1</callID><deviceID>sip:201@pbx.example</deviceID></newConnection>
      <oldConnection><callID>C1</callID><deviceID>sip:201@pbx.example</deviceID></oldConnection>
    </connectionListItem>
    <connectionListItem>
      <newConnection><callID>C1</callID><deviceID>sip:203@pbx.example</deviceID></newConnection>
      <oldConnection><callID>C2</callID><deviceID>sip:203@pbx.example</deviceID></oldConnection>
    </connectionListItem>
  </conferenceConnections>
  <localConnectionInfo>connected</localConnectionInfo>
  <cause>conference</cause>
</ConferencedEvent>"#;

#[test]
fn conference_merges_consultation_into_primary() {
    let mut view = consulting();
    assert!(view.set_consultation_purpose("C1", ConsultationPurpose::Conference));
    assert!(!view.set_consultation_purpose("C9", ConsultationPurpose::Conference));
    assert_eq!(
        view.call("C1").unwrap().tapi_state(),
        TapiCallState::OnHoldPendConf
    );
    let change = feed(&mut view, CONFERENCED_C1_C2);
    assert_eq!(removed(&change), [("C2".to_owned(), None)]);
    assert_eq!(updated(&change), ["C1"]);
    assert_eq!(ids(&view), ["C1"]);
    let call = view.call("C1").unwrap();
    assert!(call.in_conference());
    assert_eq!(call.consulted_by(), None);
    assert_call(
        &view,
        "C1",
        ConnectionState::Connected,
        TapiCallState::Conferenced,
        Some("sip:202@pbx.example"),
    );

    assert_eq!(view.call("C1").unwrap().conference_parties(), 2);
    // A re-sent ConferencedEvent changes nothing.
    let before = view.call("C1").unwrap().clone();
    assert!(feed(&mut view, CONFERENCED_C1_C2).is_empty());

    // One party leaves: the device stays, in a two-party call with 203.
    let change = feed(
        &mut view,
        r#"<ConnectionClearedEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
  <monitorCrossRefID>43</monitorCrossRefID>
  <droppedConnection><callID>C1</callID><deviceID>sip:202@pbx.example</deviceID></droppedConnection>
  <releasingDevice><deviceIdentifier>sip:202@pbx.example</deviceIdentifier></releasingDevice>
  <cause>normalClearing</cause>
</ConnectionClearedEvent>"#,
    );
    assert!(change.removed().is_empty());
    assert_call(
        &view,
        "C1",
        ConnectionState::Connected,
        TapiCallState::Connected,
        None,
    );
    assert!(!view.call("C1").unwrap().in_conference());
    assert_eq!(view.call("C1").unwrap().conference_parties(), 0);
    assert_ne!(view.call("C1").unwrap(), &before);
    let change = feed(&mut view, CLEARED_C1_OWN);
    assert_eq!(
        removed(&change),
        [("C1".to_owned(), Some(DisconnectMode::Normal))]
    );
}

#[test]
fn conference_of_four_survives_one_party_leaving_and_duplicate_clears() {
    let mut view = DeviceView::<4>::new("201").unwrap();
    feed(
        &mut view,
        r#"<ConferencedEvent>
  <primaryOldCall><callID>K1</callID><deviceID>201</deviceID></primaryOldCall>
  <secondaryOldCall><callID>K2</callID><deviceID>201</deviceID></secondaryOldCall>
  <conferencingDevice><deviceIdentifier>201</deviceIdentifier></conferencingDevice>
  <addedParty><deviceIdentifier>204</deviceIdentifier></addedParty>
  <conferenceConnections>
    <connectionListItem><newConnection><callID>K1</callID><deviceID>201</deviceID></newConnection></connectionListItem>
    <connectionListItem><newConnection><callID>K1</callID><deviceID>202</deviceID></newConnection></connectionListItem>
    <connectionListItem><newConnection><callID>K1</callID><deviceID>203</deviceID></newConnection></connectionListItem>
    <connectionListItem><newConnection><callID>K1</callID><deviceID>sip:204@pbx</deviceID></newConnection></connectionListItem>
  </conferenceConnections>
  <cause>conference</cause>
</ConferencedEvent>"#,
    );
    assert_eq!(ids(&view), ["K1"]);
    assert_eq!(view.call("K1").unwrap().conference_parties(), 3);
    let leave = r#"<ConnectionClearedEvent>
  <droppedConnection><callID>K1</callID><deviceID>N&lt;203&gt;</deviceID></droppedConnection>
  <releasingDevice><deviceIdentifier>203</deviceIdentifier></releasingDevice>
  <cause>normalClearing</cause>
</ConnectionClearedEvent>"#;
    let change = feed(&mut view, leave);
    assert_eq!(updated(&change), ["K1"]);
    assert!(feed(&mut view, leave).is_empty());
    assert_eq!(view.call("K1").unwrap().conference_parties(), 2);
    assert_call(
        &view,
        "K1",
        ConnectionState::Connected,
        TapiCallState::Conferenced,
        None,
    );
}

#[test]
fn deflect_of_ringing_call_goes_idle() {
    let mut view = DeviceView::<4>::new(ME).unwrap();
    feed(&mut view, DELIVERED_C5_OWN);
    let change = feed(
        &mut view,
        r#"<DivertedEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
  <monitorCrossRefID>43</monitorCrossRefID>
  <connection><callID>C5</callID><deviceID>sip:201@pbx.example</deviceID></connection>
  <divertingDevice><deviceIdentifier>sip:201@pbx.example</deviceIdentifier></divertingDevice>
  <newDestination><deviceIdentifier>sip:204@pbx.example</deviceIdentifier></newDestination>
  <localConnectionInfo>null</localConnectionInfo>
  <cause>redirected</cause>
</DivertedEvent>"#,
    );
    assert_eq!(removed(&change), [("C5".to_owned(), None)]);
    assert_eq!(view.calls().count(), 0);
}

#[test]
fn far_end_forwarding_keeps_call_with_new_peer() {
    let mut view = DeviceView::<4>::new(ME).unwrap();
    feed(&mut view, SI_C1);
    feed(&mut view, ORIGINATED_C1);
    feed(&mut view, DELIVERED_C1_FAR);
    let change = feed(
        &mut view,
        r#"<DivertedEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
  <monitorCrossRefID>43</monitorCrossRefID>
  <connection><callID>C1</callID><deviceID>sip:202@pbx.example</deviceID></connection>
  <divertingDevice><deviceIdentifier>sip:202@pbx.example</deviceIdentifier></divertingDevice>
  <newDestination><deviceIdentifier>sip:205@pbx.example</deviceIdentifier></newDestination>
  <cause>callForwardImmediate</cause>
</DivertedEvent>"#,
    );
    assert!(change.removed().is_empty());
    assert_eq!(updated(&change), ["C1"]);
    assert_call(
        &view,
        "C1",
        ConnectionState::Connected,
        TapiCallState::Connected,
        Some("sip:205@pbx.example"),
    );
    assert_eq!(
        view.call("C1").unwrap().cause(),
        Some(EventCause::CallForwardImmediate)
    );
}

#[test]
fn dnd_and_forwarding_events_and_responses_update_device_settings() {
    let mut view = DeviceView::<4>::new(ME).unwrap();
    assert_eq!(view.dnd(), None);
    let dnd_on = r#"<DoNotDisturbEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
  <monitorCrossRefID>43</monitorCrossRefID>
  <device><deviceIdentifier>sip:201@pbx.example</deviceIdentifier></device>
  <doNotDisturbOn>true</doNotDisturbOn>
</DoNotDisturbEvent>"#;
    let change = feed(&mut view, dnd_on);
    assert!(change.device());
    assert_eq!(view.dnd(), Some(true));
    assert!(feed(&mut view, dnd_on).is_empty());

    let change = feed(
        &mut view,
        r#"<ForwardingEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
  <monitorCrossRefID>43</monitorCrossRefID>
  <device><deviceIdentifier>sip:201@pbx.example</deviceIdentifier></device>
  <forwardingType>forwardImmediate</forwardingType>
  <forwardStatus>true</forwardStatus>
  <forwardTo>300</forwardTo>
</ForwardingEvent>"#,
    );
    assert!(change.device());
    let fwd = view.forwarding();
    assert_eq!(fwd.len(), 1);
    assert_eq!(fwd[0].forwarding_type(), ForwardingType::ForwardImmediate);
    assert!(fwd[0].is_on());
    assert_eq!(fwd[0].destination(), Some("300"));

    feed(
        &mut view,
        r#"<ForwardingEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
  <monitorCrossRefID>43</monitorCrossRefID>
  <device><deviceIdentifier>sip:201@pbx.example</deviceIdentifier></device>
  <forwardingType>forwardBusy</forwardingType>
  <forwardStatus>true</forwardStatus>
  <forwardTo>301</forwardTo>
</ForwardingEvent>"#,
    );
    feed(
        &mut view,
        r#"<ForwardingEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
  <monitorCrossRefID>43</monitorCrossRefID>
  <device><deviceIdentifier>sip:201@pbx.example</deviceIdentifier></device>
  <forwardingType>forwardImmediate</forwardingType>
  <forwardStatus>false</forwardStatus>
</ForwardingEvent>"#,
    );
    let fwd = view.forwarding();
    assert_eq!(fwd.len(), 2);
    assert!(!fwd[0].is_on());
    assert_eq!(fwd[0].destination(), None);
    assert_eq!(fwd[1].forwarding_type(), ForwardingType::ForwardBusy);
    assert_eq!(fwd[1].destination(), Some("301"));

    // A response to GetForwarding replaces the list.
    let change = feed(
        &mut view,
        r#"<GetForwardingResponse xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
  <forwardingList>
    <forwardListItem><forwardingType>forwardNoAns</forwardingType><forwardStatus>true</forwardStatus><forwardDN>302</forwardDN><ringCount>5</ringCount></forwardListItem>
  </forwardingList>
</GetForwardingResponse>"#,
    );
    assert!(change.device());
    let fwd = view.forwarding();
    assert_eq!(fwd.len(), 1);
    assert_eq!(fwd[0].forwarding_type(), ForwardingType::ForwardNoAns);
    assert_eq!(fwd[0].ring_count(), Some(5));

    feed(
        &mut view,
        r#"<GetDoNotDisturbResponse xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3"><doNotDisturbOn>false</doNotDisturbOn></GetDoNotDisturbResponse>"#,
    );
    assert_eq!(view.dnd(), Some(false));
}

#[test]
fn set_requests_apply_on_positive_response_and_drop_on_error() {
    let mut view = DeviceView::<4>::new(ME).unwrap();
    assert!(
        feed(
            &mut view,
            r#"<SetDoNotDisturb xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3"><device>sip:201@pbx.example</device><doNotDisturbOn>true</doNotDisturbOn></SetDoNotDisturb>"#,
        )
        .is_empty()
    );
    assert_eq!(view.dnd(), None);
    let change = feed(
        &mut view,
        r#"<SetDoNotDisturbResponse xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3"/>"#,
    );
    assert!(change.device());
    assert_eq!(view.dnd(), Some(true));

    feed(
        &mut view,
        r#"<SetForwarding xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3"><device>sip:201@pbx.example</device><forwardingType>forwardImmediate</forwardingType><activateForward>true</activateForward><forwardDN>300</forwardDN></SetForwarding>"#,
    );
    feed(
        &mut view,
        r#"<CSTAErrorCode xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3"><operation>invalidForwardingDestination</operation></CSTAErrorCode>"#,
    );
    // A response without a pending request changes nothing.
    assert!(
        feed(
            &mut view,
            r#"<SetForwardingResponse xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3"/>"#,
        )
        .is_empty()
    );
    assert!(view.forwarding().is_empty());

    feed(
        &mut view,
        r#"<SetForwarding xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3"><device>sip:201@pbx.example</device><forwardingType>forwardImmediate</forwardingType><activateForward>true</activateForward><forwardDN>300</forwardDN></SetForwarding>"#,
    );
    feed(
        &mut view,
        r#"<SetForwardingResponse xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3"/>"#,
    );
    assert_eq!(view.forwarding().len(), 1);
    assert_eq!(view.forwarding()[0].destination(), Some("300"));
}

const SNAPSHOT_C2_HOLD_C9_ALERTING: &str = r#"<SnapshotDeviceResponse xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
  <crossRefIDorSnapshotData><snapshotData>
    <snapshotDeviceResponseInfo>
      <connectionIdentifier><callID>C2</callID><deviceID>sip:201@pbx.example</deviceID></connectionIdentifier>
      <localCallState><compoundCallState><localConnectionState>hold</localConnectionState><localConnectionState>connected</localConnectionState></compoundCallState></localCallState>
    </snapshotDeviceResponseInfo>
    <snapshotDeviceResponseInfo>
      <connectionIdentifier><callID>C9</callID><deviceID>sip:201@pbx.example</deviceID></connectionIdentifier>
      <localCallState><compoundCallState><localConnectionState>alerting</localConnectionState></compoundCallState></localCallState>
    </snapshotDeviceResponseInfo>
  </snapshotData></crossRefIDorSnapshotData>
</SnapshotDeviceResponse>"#;

#[test]
fn snapshot_replaces_calls_keeping_known_details() {
    let mut view = consulting();
    let change = feed(&mut view, SNAPSHOT_C2_HOLD_C9_ALERTING);
    assert!(change.resynchronised());
    assert_eq!(ids(&view), ["C2", "C9"]);
    // C2 keeps its peer; its relation to the vanished C1 is dropped.
    assert_call(
        &view,
        "C2",
        ConnectionState::Hold,
        TapiCallState::OnHold,
        Some("sip:203@pbx.example"),
    );
    assert_eq!(view.call("C2").unwrap().consultation_of(), None);
    assert_eq!(view.call("C2").unwrap().last_event(), LastEvent::Snapshot);
    assert_call(
        &view,
        "C9",
        ConnectionState::Alerting,
        TapiCallState::Offering,
        None,
    );
    assert_eq!(view.call("C9").unwrap().direction(), Direction::Unknown);
    // The same snapshot again changes nothing.
    assert!(feed(&mut view, SNAPSHOT_C2_HOLD_C9_ALERTING).is_empty());
}

#[test]
fn snapshot_larger_than_table_is_refused_without_change() {
    let mut view = DeviceView::<1>::new(ME).unwrap();
    feed(&mut view, DELIVERED_C5_OWN);
    let err = try_feed(&mut view, SNAPSHOT_C2_HOLD_C9_ALERTING).unwrap_err();
    assert_eq!(err, ViewError::TableFull);
    assert_eq!(ids(&view), ["C5"]);
}

#[test]
fn monitor_start_response_is_remembered() {
    let mut view = DeviceView::<4>::new(ME).unwrap();
    let change = feed(
        &mut view,
        r#"<MonitorStartResponse xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed5"><monitorCrossRefID>43</monitorCrossRefID><monitorExistingCalls>true</monitorExistingCalls></MonitorStartResponse>"#,
    );
    assert!(change.device());
    assert_eq!(view.monitor_cross_ref_id(), Some("43"));
    assert_eq!(view.monitor_existing_calls(), Some(true));
}

#[test]
fn reset_forgets_calls_and_settings() {
    let mut view = consulting();
    feed(
        &mut view,
        r#"<GetDoNotDisturbResponse><doNotDisturbOn>true</doNotDisturbOn></GetDoNotDisturbResponse>"#,
    );
    let change = view.reset();
    assert!(change.resynchronised());
    assert_eq!(
        removed(&change),
        [("C1".to_owned(), None), ("C2".to_owned(), None)]
    );
    assert_eq!(view.calls().count(), 0);
    assert_eq!(view.dnd(), None);
    assert_eq!(view.monitor_cross_ref_id(), None);
}

// --- Tolerance ----------------------------------------------------------------------

#[test]
fn duplicate_events_are_idempotent() {
    let mut view = DeviceView::<4>::new(ME).unwrap();
    for xml in [
        SI_C1,
        ORIGINATED_C1,
        DELIVERED_C1_FAR,
        ESTABLISHED_C1_FAR,
        HELD_C1_CONSULTATION,
        SI_C2,
        ORIGINATED_C2,
    ] {
        let first = feed(&mut view, xml);
        assert!(!first.is_empty(), "{xml}");
        let before: Vec<_> = view.calls().cloned().collect();
        let again = feed(&mut view, xml);
        assert!(again.is_empty(), "re-sent {xml} changed {again:?}");
        let after: Vec<_> = view.calls().cloned().collect();
        assert_eq!(before, after);
    }
    let first = feed(&mut view, CLEARED_C1_OWN);
    assert_eq!(first.removed().len(), 1);
    assert!(feed(&mut view, CLEARED_C1_OWN).is_empty());
    assert_eq!(ids(&view), ["C2"]);
}

#[test]
fn delivered_without_local_info_infers_own_or_far_connection() {
    // Far end alerting: the device's own connection is connected (ringback).
    let mut view = DeviceView::<4>::new("201").unwrap();
    feed(
        &mut view,
        r#"<DeliveredEvent>
  <connection><callID>C1</callID><deviceID>202</deviceID></connection>
  <alertingDevice><deviceIdentifier>202</deviceIdentifier></alertingDevice>
  <callingDevice><deviceIdentifier>tel:201</deviceIdentifier></callingDevice>
  <calledDevice><deviceIdentifier>202</deviceIdentifier></calledDevice>
</DeliveredEvent>"#,
    );
    assert_call(
        &view,
        "C1",
        ConnectionState::Connected,
        TapiCallState::Ringback,
        Some("202"),
    );
    assert_eq!(view.call("C1").unwrap().direction(), Direction::Outgoing);

    // Own device alerting, named in switching-function form.
    feed(
        &mut view,
        r#"<DeliveredEvent>
  <connection><callID>C2</callID><deviceID>N&lt;201&gt;;noa=nk</deviceID></connection>
  <alertingDevice><deviceIdentifier>N&lt;201&gt;;noa=nk</deviceIdentifier></alertingDevice>
  <callingDevice><deviceIdentifier>203</deviceIdentifier></callingDevice>
  <calledDevice><deviceIdentifier>201</deviceIdentifier></calledDevice>
</DeliveredEvent>"#,
    );
    assert_call(
        &view,
        "C2",
        ConnectionState::Alerting,
        TapiCallState::Offering,
        Some("203"),
    );
    assert_eq!(view.call("C2").unwrap().direction(), Direction::Incoming);

    // No alerting device: the connection's device decides.
    feed(
        &mut view,
        r#"<DeliveredEvent>
  <connection><callID>C3</callID><deviceID>sip:201@elsewhere</deviceID></connection>
  <callingDevice><deviceIdentifier>204</deviceIdentifier></callingDevice>
  <calledDevice><deviceIdentifier>201</deviceIdentifier></calledDevice>
</DeliveredEvent>"#,
    );
    assert_call(
        &view,
        "C3",
        ConnectionState::Alerting,
        TapiCallState::Offering,
        Some("204"),
    );
}

#[test]
fn delivered_local_info_wins_over_connection_device() {
    // The own connection named, but localConnectionInfo says connected: the far end
    // rings (Uni-tel style).
    let mut view = DeviceView::<4>::new("200").unwrap();
    feed(
        &mut view,
        r#"<DeliveredEvent>
  <connection><callID>X</callID><deviceID>200</deviceID></connection>
  <alertingDevice><deviceIdentifier>22334455</deviceIdentifier></alertingDevice>
  <callingDevice><deviceIdentifier>200</deviceIdentifier></callingDevice>
  <calledDevice><deviceIdentifier>22334455</deviceIdentifier></calledDevice>
  <localConnectionInfo>connected</localConnectionInfo>
</DeliveredEvent>"#,
    );
    assert_call(
        &view,
        "X",
        ConnectionState::Connected,
        TapiCallState::Ringback,
        Some("22334455"),
    );
}

#[test]
fn established_naming_own_or_far_connection_gives_the_right_peer() {
    // Unknown call answered by this device: incoming, peer is the caller.
    let mut view = DeviceView::<4>::new(ME).unwrap();
    feed(
        &mut view,
        r#"<EstablishedEvent>
  <establishedConnection><callID>C1</callID><deviceID>201</deviceID></establishedConnection>
  <answeringDevice><deviceIdentifier>201</deviceIdentifier></answeringDevice>
  <callingDevice><deviceIdentifier>202</deviceIdentifier></callingDevice>
  <calledDevice><deviceIdentifier>201</deviceIdentifier></calledDevice>
</EstablishedEvent>"#,
    );
    assert_call(
        &view,
        "C1",
        ConnectionState::Connected,
        TapiCallState::Connected,
        Some("202"),
    );
    assert_eq!(view.call("C1").unwrap().direction(), Direction::Incoming);

    // Unknown call answered by the far end: outgoing, peer is the answerer.
    feed(
        &mut view,
        r#"<EstablishedEvent>
  <establishedConnection><callID>C2</callID><deviceID>203</deviceID></establishedConnection>
  <answeringDevice><deviceIdentifier>203</deviceIdentifier></answeringDevice>
  <callingDevice><deviceIdentifier>201</deviceIdentifier></callingDevice>
  <calledDevice><deviceIdentifier>203</deviceIdentifier></calledDevice>
</EstablishedEvent>"#,
    );
    assert_call(
        &view,
        "C2",
        ConnectionState::Connected,
        TapiCallState::Connected,
        Some("203"),
    );
    assert_eq!(view.call("C2").unwrap().direction(), Direction::Outgoing);

    // A known incoming call keeps the caller as peer even if Established names the
    // far end's connection.
    feed(&mut view, DELIVERED_C5_OWN);
    feed(
        &mut view,
        r#"<EstablishedEvent>
  <establishedConnection><callID>C5</callID><deviceID>sip:202@pbx.example</deviceID></establishedConnection>
  <answeringDevice><deviceIdentifier>sip:201@other-host</deviceIdentifier></answeringDevice>
  <callingDevice><deviceIdentifier>sip:202@pbx.example</deviceIdentifier></callingDevice>
  <calledDevice><deviceIdentifier>201</deviceIdentifier></calledDevice>
</EstablishedEvent>"#,
    );
    assert_call(
        &view,
        "C5",
        ConnectionState::Connected,
        TapiCallState::Connected,
        Some("sip:202@pbx.example"),
    );
}

#[test]
fn events_for_unknown_calls_create_them_but_clears_do_not() {
    let mut view = DeviceView::<4>::new(ME).unwrap();
    assert!(feed(&mut view, CLEARED_C1_OWN).is_empty());
    assert!(
        feed(
            &mut view,
            r#"<CallClearedEvent><clearedCall><callID>C1</callID></clearedCall><cause>normalClearing</cause></CallClearedEvent>"#,
        )
        .is_empty()
    );
    assert!(
        feed(
            &mut view,
            r#"<DigitsGeneratedEvent><connection><callID>C1</callID><deviceID>201</deviceID></connection><digitGeneratedList>12</digitGeneratedList></DigitsGeneratedEvent>"#,
        )
        .is_empty()
    );
    assert_eq!(view.calls().count(), 0);

    let change = feed(
        &mut view,
        r#"<HeldEvent>
  <heldConnection><callID>C4</callID><deviceID>sip:201@pbx.example</deviceID></heldConnection>
  <holdingDevice><deviceIdentifier>sip:201@pbx.example</deviceIdentifier></holdingDevice>
</HeldEvent>"#,
    );
    assert_eq!(updated(&change), ["C4"]);
    assert_call(
        &view,
        "C4",
        ConnectionState::Hold,
        TapiCallState::OnHold,
        None,
    );
    let change = feed(
        &mut view,
        r#"<CallClearedEvent><clearedCall><callID>C4</callID></clearedCall><cause>normalClearing</cause></CallClearedEvent>"#,
    );
    assert_eq!(
        removed(&change),
        [("C4".to_owned(), Some(DisconnectMode::Normal))]
    );
}

#[test]
fn far_end_clear_with_lingering_own_connection_is_disconnected() {
    let mut view = outgoing_connected();
    let change = feed(
        &mut view,
        r#"<ConnectionClearedEvent>
  <droppedConnection><callID>C1</callID><deviceID>sip:202@pbx.example</deviceID></droppedConnection>
  <releasingDevice><deviceIdentifier>sip:202@pbx.example</deviceIdentifier></releasingDevice>
  <localConnectionInfo>connected</localConnectionInfo>
  <cause>normalClearing</cause>
</ConnectionClearedEvent>"#,
    );
    assert!(change.removed().is_empty());
    assert_eq!(updated(&change), ["C1"]);
    assert_call(
        &view,
        "C1",
        ConnectionState::Connected,
        TapiCallState::Disconnected,
        Some("sip:202@pbx.example"),
    );
    assert_eq!(
        view.call("C1").unwrap().disconnect_mode(),
        Some(DisconnectMode::Normal)
    );
    // The device hangs up too.
    let change = feed(&mut view, CLEARED_C1_OWN);
    assert_eq!(
        removed(&change),
        [("C1".to_owned(), Some(DisconnectMode::Normal))]
    );
}

#[test]
fn far_end_hold_keeps_own_connection_connected() {
    let mut view = outgoing_connected();
    let change = feed(
        &mut view,
        r#"<HeldEvent>
  <heldConnection><callID>C1</callID><deviceID>sip:202@pbx.example</deviceID></heldConnection>
  <holdingDevice><deviceIdentifier>sip:202@pbx.example</deviceIdentifier></holdingDevice>
  <cause>normal</cause>
</HeldEvent>"#,
    );
    assert_eq!(updated(&change), ["C1"]);
    assert_call(
        &view,
        "C1",
        ConnectionState::Connected,
        TapiCallState::Connected,
        Some("sip:202@pbx.example"),
    );
}

#[test]
fn network_reached_is_proceeding() {
    let mut view = DeviceView::<4>::new(ME).unwrap();
    feed(&mut view, SI_C1);
    let change = feed(
        &mut view,
        r#"<NetworkReachedEvent>
  <outboundConnection><callID>C1</callID><deviceID>trunk-1</deviceID></outboundConnection>
  <networkInterfaceUsed><deviceIdentifier>trunk-1</deviceIdentifier></networkInterfaceUsed>
  <callingDevice><deviceIdentifier>201</deviceIdentifier></callingDevice>
  <calledDevice><deviceIdentifier>+49891234</deviceIdentifier></calledDevice>
  <cause>networkSignal</cause>
</NetworkReachedEvent>"#,
    );
    assert_eq!(updated(&change), ["C1"]);
    assert_call(
        &view,
        "C1",
        ConnectionState::Connected,
        TapiCallState::Proceeding,
        Some("+49891234"),
    );
}

#[test]
fn digits_while_initiated_are_dialing() {
    let mut view = DeviceView::<4>::new(ME).unwrap();
    feed(&mut view, SI_C1);
    let change = feed(
        &mut view,
        r#"<DigitsGeneratedEvent><connection><callID>C1</callID><deviceID>201</deviceID></connection><digitGeneratedList>20</digitGeneratedList></DigitsGeneratedEvent>"#,
    );
    assert_eq!(updated(&change), ["C1"]);
    assert_call(
        &view,
        "C1",
        ConnectionState::Initiated,
        TapiCallState::Dialing,
        None,
    );
}

#[test]
fn full_table_refuses_new_call_without_corrupting_state() {
    let mut view = DeviceView::<2>::new(ME).unwrap();
    feed(&mut view, DELIVERED_C5_OWN);
    feed(&mut view, SI_C1);
    let before: Vec<_> = view.calls().cloned().collect();
    let err = try_feed(&mut view, SI_C2).unwrap_err();
    assert_eq!(err, ViewError::TableFull);
    let after: Vec<_> = view.calls().cloned().collect();
    assert_eq!(before, after);
    // Events for known calls still work.
    feed(&mut view, ORIGINATED_C1);
    assert_eq!(
        view.call("C1").unwrap().tapi_state(),
        TapiCallState::Proceeding
    );
}

#[test]
fn full_table_evicts_a_stale_failed_call() {
    let mut view = DeviceView::<2>::new(ME).unwrap();
    feed(&mut view, DELIVERED_C5_OWN);
    feed(&mut view, SI_C1);
    // C1 fails and the phone never sends its ConnectionCleared.
    feed(
        &mut view,
        r#"<FailedEvent>
  <failedConnection><callID>C1</callID><deviceID>202</deviceID></failedConnection>
  <failingDevice><deviceIdentifier>202</deviceIdentifier></failingDevice>
  <callingDevice><deviceIdentifier>201</deviceIdentifier></callingDevice>
  <calledDevice><deviceIdentifier>202</deviceIdentifier></calledDevice>
  <cause>numberUnallocated</cause>
</FailedEvent>"#,
    );
    let change = feed(&mut view, SI_C2);
    assert_eq!(
        removed(&change),
        [("C1".to_owned(), Some(DisconnectMode::BadAddress))]
    );
    assert_eq!(updated(&change), ["C2"]);
    assert_eq!(ids(&view), ["C5", "C2"]);
}

#[test]
fn cleared_calls_do_not_leak_slots() {
    let mut view = DeviceView::<1>::new(ME).unwrap();
    for _ in 0..20 {
        feed(&mut view, DELIVERED_C5_OWN);
        feed(&mut view, ESTABLISHED_C5_OWN);
        feed(&mut view, CLEARED_C5_FAR);
        feed(&mut view, SI_C1);
        feed(&mut view, ORIGINATED_C1);
        feed(&mut view, CLEARED_C1_OWN);
        assert_eq!(view.calls().count(), 0);
    }
}

#[test]
fn irrelevant_messages_are_ignored() {
    let mut view = DeviceView::<2>::new(ME).unwrap();
    for xml in [
        r#"<RequestSystemStatusResponse><systemStatus>normal</systemStatus></RequestSystemStatusResponse>"#,
        r#"<MessageWaitingEvent><targetDevice><deviceIdentifier>201</deviceIdentifier></targetDevice><messageWaitingOn>true</messageWaitingOn></MessageWaitingEvent>"#,
        r#"<AnswerCallResponse/>"#,
    ] {
        assert!(feed(&mut view, xml).is_empty(), "{xml}");
    }
    feed(&mut view, DELIVERED_C5_OWN);
    assert!(
        feed(
            &mut view,
            r#"<CallInformationEvent><connection><callID>C5</callID><deviceID>201</deviceID></connection><accountInfo>77</accountInfo></CallInformationEvent>"#,
        )
        .is_empty()
    );
}

// --- Vendor replays -----------------------------------------------------------------

fn vector(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/csta")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Fills `{name}` placeholders from `values`; every placeholder must have a value.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (key, value) in values {
        out = out.replace(&format!("{{{key}}}"), value);
    }
    assert!(!out.contains("{"), "unfilled placeholder in {out}");
    out
}

#[test]
fn osv_literal_service_initiated_then_originated() {
    let mut view = DeviceView::<4>::new("N<302118840100>;noa=nk").unwrap();
    feed(&mut view, &vector("osv-ServiceInitiatedEvent.xml"));
    let call = "FF000100000000002D65C85C1C750000";
    assert_call(
        &view,
        call,
        ConnectionState::Initiated,
        TapiCallState::Dialtone,
        None,
    );
    feed(&mut view, &vector("osv-OriginatedEvent.xml"));
    assert_call(
        &view,
        call,
        ConnectionState::Connected,
        TapiCallState::Proceeding,
        Some("N<302118840101>;displayNumber=302118840101;noa=nk"),
    );
    assert_eq!(view.call(call).unwrap().direction(), Direction::Outgoing);
}

#[test]
fn osv_literal_acd_delivery_then_empty_snapshot() {
    let mut view = DeviceView::<4>::new("3021061290002").unwrap();
    feed(&mut view, &vector("osv-MonitorStartResponse.xml"));
    assert_eq!(view.monitor_cross_ref_id(), Some("1136370025"));
    feed(&mut view, &vector("osv-DeliveredEvent.xml"));
    let call = "FF00010000000000EC6114647E570000";
    assert_call(
        &view,
        call,
        ConnectionState::Alerting,
        TapiCallState::Offering,
        Some(
            "N<7868772298>Line71001;displayNumber=7868772298;uid=FF00010000000000EC6114647E570000",
        ),
    );
    assert_eq!(
        view.call(call).unwrap().cause(),
        Some(EventCause::EnteringDistribution)
    );
    let change = feed(&mut view, &vector("osv-pool-SnapshotDeviceResponse.xml"));
    assert!(change.resynchronised());
    assert_eq!(view.calls().count(), 0);
}

#[test]
fn osv_pool_templates_replay_an_outgoing_call() {
    // The pool's connections carry no callID: the call is the one with the empty ID.
    let common = [
        ("CSTA_USE_MONITOR_CROSS_REF_ID", "1169730059"),
        ("networkCallingDevice", "302118840100"),
        ("networkCalledDevice", "302118840101"),
    ];
    let with = |extra: &[(&str, &str)]| -> Vec<(String, String)> {
        common
            .iter()
            .chain(extra)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let fill_with = |name: &str, extra: &[(&str, &str)]| {
        let values = with(extra);
        let refs: Vec<(&str, &str)> = values
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        fill(&vector(name), &refs)
    };
    let mut view = DeviceView::<4>::new("302118840100").unwrap();
    feed(
        &mut view,
        &fill_with(
            "osv-pool-template-ServiceInitiatedEvent.xml",
            &[
                ("deviceID", "302118840100"),
                ("initiatingDevice", "302118840100"),
                ("localConnectionInfo", "initiated"),
                ("cause", "makeCall"),
            ],
        ),
    );
    assert_call(
        &view,
        "",
        ConnectionState::Initiated,
        TapiCallState::Dialtone,
        None,
    );
    feed(
        &mut view,
        &fill_with(
            "osv-pool-template-OriginatedEvent.xml",
            &[
                ("deviceID", "302118840100"),
                ("callingDevice", "302118840100"),
                ("calledDevice", "302118840101"),
                ("localConnectionInfo", "connected"),
                ("cause", "newCall"),
            ],
        ),
    );
    assert_call(
        &view,
        "",
        ConnectionState::Connected,
        TapiCallState::Proceeding,
        Some("302118840101"),
    );
    feed(
        &mut view,
        &fill_with(
            "osv-pool-template-DeliveredEvent.xml",
            &[
                ("deviceID", "302118840101"),
                ("alertingDevice", "302118840101"),
                ("callingDevice", "302118840100"),
                ("deviceIdentifier", "302118840101"),
                ("numberDialed", "302118840101"),
                ("localConnectionInfo", "connected"),
                ("cause", "newCall"),
            ],
        ),
    );
    assert_call(
        &view,
        "",
        ConnectionState::Connected,
        TapiCallState::Ringback,
        Some("302118840101"),
    );
    feed(
        &mut view,
        &fill_with(
            "osv-pool-template-EstablishedEvent.xml",
            &[
                ("deviceID", "302118840101"),
                ("answeringDevice", "302118840101"),
                ("callingDevice", "302118840100"),
                ("calledDevice", "302118840101"),
                ("numberDialed", "302118840101"),
                ("localConnectionInfo", "connected"),
                ("cause", "newCall"),
            ],
        ),
    );
    assert_call(
        &view,
        "",
        ConnectionState::Connected,
        TapiCallState::Connected,
        Some("302118840101"),
    );
    let change = feed(
        &mut view,
        &fill_with(
            "osv-pool-template-ConnectionClearedEvent.xml",
            &[
                ("deviceID", "302118840101"),
                ("releasingDevice", "302118840101"),
                ("localConnectionInfo", "null"),
                ("cause", "normalClearing"),
            ],
        ),
    );
    assert_eq!(
        removed(&change),
        [(String::new(), Some(DisconnectMode::Normal))]
    );
    assert_eq!(view.calls().count(), 0);
}

#[test]
fn unitel_outgoing_call_from_200_rings_connects_and_clears() {
    let mut view = DeviceView::<4>::new("200").unwrap();
    let call = "SIP/hpbx-00000233";
    feed(&mut view, &vector("unitel-DeliveredEvent.xml"));
    assert_call(
        &view,
        call,
        ConnectionState::Connected,
        TapiCallState::Ringback,
        Some("22334455"),
    );
    assert_eq!(view.call(call).unwrap().direction(), Direction::Outgoing);
    feed(&mut view, &vector("unitel-EstablishedEvent.xml"));
    assert_call(
        &view,
        call,
        ConnectionState::Connected,
        TapiCallState::Connected,
        Some("22334455"),
    );
    let change = feed(&mut view, &vector("unitel-ConnectionClearedEvent.xml"));
    // `Normal Clearing` is read as normalClearing.
    assert_eq!(
        removed(&change),
        [(call.to_owned(), Some(DisconnectMode::Normal))]
    );
}

#[test]
fn unitel_make_call_case_seen_from_the_called_line() {
    let mut view = DeviceView::<4>::new("22334455").unwrap();
    assert!(
        feed(
            &mut view,
            &vector("unitel-case_makecall-MakeCallResponse.xml")
        )
        .is_empty()
    );
    let call = "SIP/hpbx-00000234";
    feed(
        &mut view,
        &vector("unitel-case_makecall-DeliveredEvent.xml"),
    );
    assert_call(
        &view,
        call,
        ConnectionState::Alerting,
        TapiCallState::Offering,
        Some("200"),
    );
    feed(
        &mut view,
        &vector("unitel-case_makecall-EstablishedEvent.xml"),
    );
    assert_call(
        &view,
        call,
        ConnectionState::Connected,
        TapiCallState::Connected,
        Some("200"),
    );
    assert_eq!(view.call(call).unwrap().direction(), Direction::Incoming);
    let change = feed(
        &mut view,
        &vector("unitel-case_makecall-ConnectionClearedEvent.xml"),
    );
    assert_eq!(
        removed(&change),
        [(call.to_owned(), Some(DisconnectMode::Normal))]
    );
}

#[test]
fn unitel_held_transfered_and_diverted_events() {
    // Held with `held` (read as hold) at 203 for an unknown call creates it.
    let mut view = DeviceView::<4>::new("203").unwrap();
    feed(&mut view, &vector("unitel-HeldEvent.xml"));
    assert_call(
        &view,
        "SIP/hpbx-0000af1c",
        ConnectionState::Hold,
        TapiCallState::OnHold,
        None,
    );

    // Single-step transfer at 200 without localConnectionInfo: the call goes.
    let mut view = DeviceView::<4>::new("200").unwrap();
    feed(
        &mut view,
        r#"<EstablishedEvent>
  <establishedConnection><callID>SIP/hpbx-0000af19</callID><deviceID>200</deviceID></establishedConnection>
  <answeringDevice><deviceIdentifier>200</deviceIdentifier></answeringDevice>
  <callingDevice><deviceIdentifier>201</deviceIdentifier></callingDevice>
  <calledDevice><deviceIdentifier>200</deviceIdentifier></calledDevice>
  <localConnectionInfo>connected</localConnectionInfo>
</EstablishedEvent>"#,
    );
    let change = feed(&mut view, &vector("unitel-TransferedEvent.xml"));
    assert_eq!(removed(&change), [("SIP/hpbx-0000af19".to_owned(), None)]);
    assert_eq!(view.calls().count(), 0);

    // A ringing call answered elsewhere is diverted away.
    feed(
        &mut view,
        r#"<DeliveredEvent>
  <connection><callID>SIP/hpbx-0000af21</callID><deviceID>200</deviceID></connection>
  <alertingDevice><deviceIdentifier>200</deviceIdentifier></alertingDevice>
  <callingDevice><deviceIdentifier>201</deviceIdentifier></callingDevice>
  <calledDevice><deviceIdentifier>202</deviceIdentifier></calledDevice>
  <localConnectionInfo>alerting</localConnectionInfo>
</DeliveredEvent>"#,
    );
    let change = feed(&mut view, &vector("unitel-DivertedEvent.xml"));
    assert_eq!(removed(&change), [("SIP/hpbx-0000af21".to_owned(), None)]);
    assert_eq!(view.calls().count(), 0);
}

#[test]
fn unitel_device_settings_and_deferred_snapshot() {
    let mut view = DeviceView::<4>::new("200").unwrap();
    feed(&mut view, &vector("unitel-GetDoNotDisturbResponse.xml"));
    assert_eq!(view.dnd(), Some(false));
    feed(&mut view, &vector("unitel-case_dnd-DoNotDisturbEvent.xml"));
    assert_eq!(view.dnd(), Some(true));
    feed(&mut view, &vector("unitel-GetForwardingResponse.xml"));
    assert_eq!(view.forwarding().len(), 1);
    assert_eq!(
        view.forwarding()[0].forwarding_type(),
        ForwardingType::ForwardNoAns
    );
    assert!(!view.forwarding()[0].is_on());
    assert_eq!(view.forwarding()[0].destination(), Some("busy"));
    feed(&mut view, &vector("unitel-ForwardingEvent.xml"));
    assert_eq!(view.forwarding().len(), 2);
    assert!(view.forwarding()[1].is_on());
    assert_eq!(view.forwarding()[1].destination(), Some("200"));

    // The snapshot is announced under a serviceCrossRefID: the calls stay.
    feed(&mut view, DELIVERED_C5_OWN);
    assert!(
        feed(
            &mut view,
            &vector("unitel-snapShotDevice-SnapShotDeviceResponse.xml")
        )
        .is_empty()
    );
    assert_eq!(ids(&view), ["C5"]);
}

#[test]
fn as_feature_events_from_asterisk_freeswitch_and_sipr() {
    let mut view = DeviceView::<4>::new("7659366").unwrap();
    feed(
        &mut view,
        &vector("asfeature-fs-mod_csta-DoNotDisturbEvent.xml"),
    );
    assert_eq!(view.dnd(), Some(true));
    feed(
        &mut view,
        &vector("asfeature-fs-mod_csta-ForwardingEvent.xml"),
    );
    let fwd = &view.forwarding()[0];
    assert_eq!(fwd.forwarding_type(), ForwardingType::ForwardNoAns);
    assert!(fwd.is_on());
    assert_eq!(fwd.destination(), Some("1001"));
    assert_eq!(fwd.ring_count(), Some(4));

    let mut view = DeviceView::<4>::new("5559430902").unwrap();
    feed(
        &mut view,
        &vector("asfeature-asterisk-comment-DoNotDisturbEvent.xml"),
    );
    feed(
        &mut view,
        &vector("asfeature-asterisk-comment-ForwardingEvent-forwardImmediate-typo-ns.xml"),
    );
    feed(
        &mut view,
        &vector("asfeature-asterisk-comment-ForwardingEvent-forwardNoAns-typo-ns.xml"),
    );
    assert_eq!(view.dnd(), Some(true));
    let kinds: Vec<_> = view
        .forwarding()
        .iter()
        .map(|f| (f.forwarding_type(), f.is_on(), f.destination()))
        .collect();
    assert_eq!(
        kinds,
        [
            (ForwardingType::ForwardImmediate, false, None),
            (ForwardingType::ForwardNoAns, false, None)
        ]
    );

    let mut view = DeviceView::<4>::new("sip:dizzy@example").unwrap();
    feed(
        &mut view,
        &vector("asfeature-sipr-test-ForwardingEvent.xml"),
    );
    assert_eq!(view.forwarding()[0].destination(), Some("111"));
    assert_eq!(view.forwarding()[0].ring_count(), Some(0));
}

#[test]
fn zultys_simulator_delivery_without_alerting_device_then_answer() {
    let mut view = DeviceView::<4>::new("210").unwrap();
    assert!(
        feed(
            &mut view,
            &vector("zultys-sim-test-MakeCallResponse-nonamespace.xml")
        )
        .is_empty()
    );
    feed(
        &mut view,
        &vector("zultys-sim-test-DeliveredEvent-nonamespace.xml"),
    );
    assert_call(
        &view,
        "16",
        ConnectionState::Alerting,
        TapiCallState::Offering,
        Some("0412345678"),
    );
    feed(
        &mut view,
        &vector("zultys-sim-test-EstablishedEvent-nonamespace.xml"),
    );
    assert_call(
        &view,
        "16",
        ConnectionState::Connected,
        TapiCallState::Connected,
        Some("0412345678"),
    );
    assert_eq!(view.call("16").unwrap().direction(), Direction::Incoming);
}

#[test]
fn snom_monitor_start_and_snapshot_resynchronise() {
    let mut view = DeviceView::<4>::new("sip:455455@ser.intern.snom.de").unwrap();
    feed(&mut view, &vector("snom-MonitorStartResponse.xml"));
    assert_eq!(view.monitor_cross_ref_id(), Some("43"));
    assert_eq!(view.monitor_existing_calls(), Some(true));
    let change = feed(&mut view, &vector("snom-http-SnapshotDeviceResponse.xml"));
    assert!(change.resynchronised());
    assert_call(
        &view,
        "-12",
        ConnectionState::Alerting,
        TapiCallState::Offering,
        None,
    );
}
