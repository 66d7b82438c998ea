//! A phone made `const` ([`Phone::unconfigured`]) and set up in place
//! ([`Phone::configure`]), as firmware does with a `static`: before it is configured it
//! does nothing; configured, it is the phone [`Phone::new`] makes; configured again, it
//! starts over. Configuring allocates nothing.

use std::sync::Mutex;

use alloc_counter::CountingAllocator;
use sip_lite::time::Instant;
use sip_lite::wire::{HeaderIndex, Message, Method, SliceSink, StatusCode, Writer};
use ucsta_phone::{Action, CallState, Config, Phone, PhoneError, Report};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

const BUF: usize = 2048;
/// Address 2 is the proxy (and registrar), 1 the phone.
type Line = Phone<u8, 2, 8, { 8 * BUF }, BUF, 4>;

fn config(user: &str, seed: u8) -> Config<'_, u8> {
    Config::new(
        user,
        "secret",
        "pbx.example",
        2,
        "192.0.2.1",
        5060,
        [seed; 32],
    )
}

fn allocations<T>(f: impl FnOnce() -> T) -> (T, usize) {
    assert!(alloc_counter::is_installed());
    alloc_counter::allocations(f)
}

/// Everything the phone sends now, as text.
fn sent(phone: &mut Line) -> Vec<String> {
    let mut buf = [0u8; BUF];
    let mut out = Vec::new();
    while let Some((to, n)) = phone.poll_transmit(&mut buf) {
        assert_eq!(to, 2, "everything goes to the proxy");
        out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    out
}

fn reports(phone: &mut Line) -> Vec<Report> {
    std::iter::from_fn(|| phone.poll_report()).collect()
}

/// The registrar's 200 to `register`.
fn registered(register: &str) -> Vec<u8> {
    let mut hs = [HeaderIndex::EMPTY; 32];
    let msg = Message::parse(register.as_bytes(), &mut hs).unwrap();
    assert_eq!(msg.method(), Some(Method::Register));
    let contact = msg.header(sip_lite::wire::HeaderName::Contact).unwrap();
    let mut out = [0u8; BUF];
    let mut w = Writer::response_to(
        SliceSink::new(&mut out),
        &msg,
        StatusCode(200),
        "OK",
        Some("r"),
    )
    .unwrap();
    w.header("Contact", &format!("{contact};expires=3600"))
        .unwrap();
    let n = w.finish(b"").unwrap().len();
    out[..n].to_vec()
}

fn not_configured() -> Report {
    Report::Warning {
        what: "phone",
        why: heapless::String::try_from("not configured").unwrap(),
    }
}

/// Before `configure` the phone does nothing: every action is answered with a warning,
/// every input is dropped, nothing is sent, no timer runs; nothing panics.
#[test]
fn an_unconfigured_phone_does_nothing() {
    static PHONE: Mutex<Line> = Mutex::new(Line::unconfigured());
    let mut phone = PHONE.lock().unwrap();
    let now = Instant::from_secs(1);
    let invite =
        b"INVITE sip:201@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.2;branch=z9hG4bK1\r\n\
From: <sip:202@pbx.example>;tag=a\r\nTo: <sip:201@pbx.example>\r\nCall-ID: c1\r\n\
CSeq: 1 INVITE\r\nContact: <sip:202@192.0.2.2>\r\nContent-Length: 0\r\n\r\n";
    let ((), n) = allocations(|| {
        assert!(!phone.is_configured());
        assert_eq!(phone.user(), "");
        for a in [
            Action::Register,
            Action::Call("202"),
            Action::OffHook,
            Action::DoNotDisturb(true),
        ] {
            phone.handle_action(now, a);
        }
        phone.handle_datagram(now, 2, invite);
        assert_eq!(phone.handle_stream(now, 2, invite), Ok(invite.len()));
        phone.handle_timeout(now);
        phone.handle_connection_lost(now);
        assert_eq!(phone.poll_timeout(), None);
        assert_eq!(phone.poll_transmit(&mut [0u8; BUF]), None);
        assert!(!phone.is_registered() && !phone.csta_open());
        assert_eq!(phone.call_states().count(), 0);
        assert!(!phone.do_not_disturb());
    });
    assert_eq!(n, 0, "the phone allocated");
    assert_eq!(reports(&mut phone), vec![not_configured(); 4]);
}

/// Configured in place (without allocating), the phone registers; it is the phone
/// `Phone::new` makes with the same configuration, to the octet.
#[test]
fn configured_in_place_it_registers() {
    static PHONE: Mutex<Line> = Mutex::new(Line::unconfigured());
    let mut phone = PHONE.lock().unwrap();
    let cfg = config("201", 1);
    let (r, n) = allocations(|| phone.configure(&cfg));
    assert_eq!((r, n), (Ok(()), 0), "configure allocated");
    assert!(phone.is_configured());
    assert_eq!(phone.user(), "201");

    let now = Instant::from_secs(1);
    phone.handle_action(now, Action::Register);
    let out = sent(&mut phone);
    assert_eq!(out.len(), 1);
    assert!(out[0].starts_with("REGISTER sip:pbx.example SIP/2.0\r\n"));
    assert!(out[0].contains("\r\nCSeq: 1 REGISTER\r\n"));
    let mut fresh = Box::new(Line::new(&cfg).unwrap());
    fresh.handle_action(now, Action::Register);
    assert_eq!(sent(&mut fresh), out, "configure makes what new makes");

    phone.handle_datagram(now, 2, &registered(&out[0]));
    assert!(phone.is_registered());
    assert_eq!(reports(&mut phone), [Report::Registered { expires: 3600 }]);
}

/// Configured again while in use (registered, a call going out, do-not-disturb on),
/// the phone starts over as `Phone::new` makes it: nothing of the old configuration
/// is left to send, time out or report, and its first REGISTER is a new phone's.
#[test]
fn configured_again_it_starts_over() {
    static PHONE: Mutex<Line> = Mutex::new(Line::unconfigured());
    let mut phone = PHONE.lock().unwrap();
    let now = Instant::from_secs(1);
    phone.configure(&config("201", 1)).unwrap();
    phone.handle_action(now, Action::Register);
    let register = sent(&mut phone).remove(0);
    phone.handle_datagram(now, 2, &registered(&register));
    phone.handle_action(now, Action::DoNotDisturb(true));
    phone.handle_action(now, Action::Call("202"));
    let invite = sent(&mut phone).remove(0);
    assert!(invite.starts_with("INVITE sip:202@pbx.example SIP/2.0\r\n"));
    assert!(phone.is_registered() && phone.do_not_disturb());
    assert_eq!(
        phone.call_states().collect::<Vec<_>>(),
        [CallState::Calling]
    );
    assert!(
        phone.poll_timeout().is_some(),
        "the INVITE's retransmission"
    );

    let cfg = config("301", 3);
    phone.configure(&cfg).unwrap();
    assert_eq!(phone.user(), "301");
    assert!(!phone.is_registered() && !phone.do_not_disturb() && !phone.csta_open());
    assert_eq!(phone.call_states().count(), 0);
    assert_eq!(
        phone.poll_timeout(),
        None,
        "no timer of the old configuration"
    );
    assert!(sent(&mut phone).is_empty());
    assert!(reports(&mut phone).is_empty());
    // Days later, still nothing of the old INVITE or registration.
    let later = Instant::from_secs(100_000);
    phone.handle_timeout(later);
    assert!(sent(&mut phone).is_empty());

    phone.handle_action(later, Action::Register);
    let out = sent(&mut phone);
    let mut fresh = Box::new(Line::new(&cfg).unwrap());
    fresh.handle_action(later, Action::Register);
    assert_eq!(sent(&mut fresh), out, "as new");
    assert!(out[0].contains("\r\nFrom: <sip:301@pbx.example>;tag="));
    assert!(out[0].contains("\r\nCSeq: 1 REGISTER\r\n"));
    phone.handle_datagram(later, 2, &registered(&out[0]));
    assert_eq!(reports(&mut phone), [Report::Registered { expires: 3600 }]);
}

/// A configuration that does not fit leaves the phone unconfigured (doing nothing)
/// until one that fits.
#[test]
fn a_failed_configuration_leaves_it_unconfigured() {
    static PHONE: Mutex<Line> = Mutex::new(Line::unconfigured());
    let mut phone = PHONE.lock().unwrap();
    let now = Instant::from_secs(1);
    phone.configure(&config("201", 1)).unwrap();
    let long = "9".repeat(100);
    assert_eq!(
        phone.configure(&config(&long, 1)),
        Err(PhoneError::TooLong("user"))
    );
    assert!(!phone.is_configured());
    phone.handle_action(now, Action::Register);
    assert!(sent(&mut phone).is_empty());
    assert_eq!(reports(&mut phone), [not_configured()]);

    phone.configure(&config("201", 1)).unwrap();
    phone.handle_action(now, Action::Register);
    assert_eq!(sent(&mut phone).len(), 1);
}
