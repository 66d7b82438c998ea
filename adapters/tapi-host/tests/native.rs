//! The scenarios natively: the Linux `tapi-host` binary with the provider linked in,
//! its configuration in `UCSTA_TSP_CONFIG_DIR`, against the real `csta-server` and
//! `phone-sim` processes (see `common/scenarios.rs` for what each asserts).

mod common;

use common::HostKind;
use common::scenarios;

#[test]
fn make_call() {
    scenarios::make_call(&HostKind::Native);
}

#[test]
fn hold_unhold() {
    scenarios::hold_unhold(&HostKind::Native);
}

#[test]
fn blind_transfer() {
    scenarios::blind_transfer(&HostKind::Native);
}

#[test]
fn consultation_transfer() {
    scenarios::consultation_transfer(&HostKind::Native);
}

#[test]
fn conference() {
    scenarios::conference(&HostKind::Native);
}

#[test]
fn redirect() {
    scenarios::redirect(&HostKind::Native);
}

#[test]
fn forward_and_dnd() {
    scenarios::forward_and_dnd(&HostKind::Native);
}

#[test]
fn digits() {
    scenarios::digits(&HostKind::Native);
}

#[test]
fn handset_call() {
    scenarios::handset_call(&HostKind::Native);
}

#[test]
fn client_role() {
    scenarios::client_role(&HostKind::Native);
}

#[test]
fn client_makecall_at_open() {
    scenarios::client_makecall_at_open(&HostKind::Native);
}

#[test]
fn multi_line() {
    scenarios::multi_line(&HostKind::Native);
}

#[test]
fn server_restart() {
    scenarios::server_restart(&HostKind::Native);
}

#[test]
fn pickup() {
    scenarios::pickup(&HostKind::Native);
}

#[test]
fn phone_offline_at_start() {
    scenarios::phone_offline_at_start(&HostKind::Native);
}
