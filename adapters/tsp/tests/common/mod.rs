//! The test harness: a [`Provider`] driven on a virtual clock, with the test playing
//! the CSTA server (answering requests, pushing events) and TAPI (making requests,
//! receiving what the provider hands it, answering `LINE_NEWCALL`).
//!
//! Everything the provider puts out is written as compact lines the tests compare
//! exactly:
//!
//! - TAPI: `NEWCALL line0 call#1`, `CALLSTATE call#1 DISCONNECTED BADADDRESS`,
//!   `CALLINFO call#1 CALLERID|ORIGIN`, `COMPLETE req7 0`,
//!   `COMPLETE req8 LINEERR_INVALCALLSTATE`, `LINEDEVSTATE line0 INSERVICE`,
//!   `ADDRESSSTATE line0 FORWARD`, `GENERATE call#1 DONE e2e=5`, `CREATE temp3`,
//!   `REMOVE dev103`. `call#N` is TAPI's `htCall` N (the harness hands them out from 1
//!   in order, for requests and for `LINE_NEWCALL` alike).
//! - CSTA: every element and value of a message in one line,
//!   `MakeCall{callingDevice=sip:201@pbx.example calledDirectoryNumber=202 autoOriginate=doNotPrompt}`.

#![allow(dead_code, unreachable_pub)]

pub mod names;

/// Asserts that `$actual` (a `Vec<String>`) is exactly the listed lines. With `BLESS`
/// set in the environment it prints the actual lines instead (to review new tests).
#[macro_export]
macro_rules! expect {
    ($actual:expr, [$($e:expr),* $(,)?]) => {{
        let actual: Vec<String> = $actual;
        let expected: Vec<&str> = vec![$($e),*];
        if std::env::var_os("BLESS").is_some() {
            eprintln!("BLESS {}:{}: {:?}", file!(), line!(), actual);
        } else {
            assert_eq!(actual, expected, "at {}:{}", file!(), line!());
        }
    }};
}

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use csta_core::decode;
use csta_core::framing::InvokeId;
use csta_core::message::Kind;
use csta_core::xml::{Event, Reader};
use ucsta_tsp::config::{ProviderConfig, Role};
use ucsta_tsp::provider::{
    CallHandle, ForwardEntry, LineError, LineId, LinkCommand, Provider, ProviderEvent, TapiOutput,
};
use ucsta_tsp::tapi;

/// The ECMA-323 ed3 namespace, as the tests' events carry it.
pub const NS: &str = "http://www.ecma-international.org/standards/ecma-323/csta/ed3";
/// The ECMA-354 namespace.
pub const NS354: &str = "http://www.ecma-international.org/standards/ecma-354/appl_session";

/// The first line's device.
pub const L0: &str = "sip:201@pbx.example";
/// The second line's device.
pub const L1: &str = "sip:202@pbx.example";

/// TAPI's device-ID base (`TSPI_providerInit`).
pub const BASE: u32 = 100;

/// The seed of the reconnect jitter.
pub const SEED: u64 = 7;

/// The monitorCrossRefID the harness gives line `index`.
pub fn xref_of(index: usize) -> String {
    (43 + index).to_string()
}

/// TAPI's `htLine` of line `index`.
pub fn ht_line(index: usize) -> usize {
    0x1000 + index
}

/// A remote-role configuration with these devices.
pub fn remote(devices: &[&str]) -> ProviderConfig {
    let mut c = ProviderConfig::new(Role::Remote, "cti.example", "tsp", "secret");
    c.devices = devices.iter().map(|d| (*d).to_owned()).collect();
    c
}

/// A client-role configuration for one device.
pub fn client(device: &str) -> ProviderConfig {
    let mut c = ProviderConfig::new(Role::Client, "cti.example", "alice", "pw");
    c.devices = vec![device.to_owned()];
    c
}

/// A multi-line configuration.
pub fn multi() -> ProviderConfig {
    ProviderConfig::new(Role::MultiLine, "cti.example", "tsp", "secret")
}

// ------------------------------------------------------------------ CSTA in a line

/// A CSTA body in one line, every element and value kept: `<a><b>1</b><c/></a>` is
/// `a{b=1 c}`. Namespaces, prefixes and the declaration are left out.
pub fn compact(body: &[u8]) -> String {
    struct Node {
        name: String,
        text: String,
        children: Vec<String>,
    }
    let mut reader = Reader::new(body).expect("a CSTA body");
    let mut stack: Vec<Node> = Vec::new();
    loop {
        match reader.next_event().expect("well-formed XML") {
            Event::Start(e) => stack.push(Node {
                name: e.local_name().into(),
                text: String::new(),
                children: Vec::new(),
            }),
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(t.to_string().trim());
                }
            }
            Event::End(_) => {
                let node = stack.pop().expect("balanced");
                let written = match (node.children.is_empty(), node.text.is_empty()) {
                    (true, true) => node.name,
                    (true, false) => format!("{}={}", node.name, node.text),
                    _ => format!("{}{{{}}}", node.name, node.children.join(" ")),
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(written),
                    None => return written,
                }
            }
            Event::Eof => panic!("no root element"),
            _ => {}
        }
    }
}

// ------------------------------------------------------------------ TAPI in a line

/// The name of `value` in `table` without its prefix (`LINEDEVSTATE_INSERVICE` →
/// `INSERVICE`), or its hex value.
pub fn name_of(table: &[(&str, u32)], value: u32) -> String {
    table
        .iter()
        .find(|(_, v)| *v == value)
        .map(|(n, _)| n.split_once('_').map_or(*n, |(_, r)| r).to_owned())
        .unwrap_or_else(|| format!("0x{value:X}"))
}

/// The names of the bits of `value` in `table`, `|`-separated, in bit order (`0` for
/// none).
pub fn bits(table: &[(&str, u32)], value: u32) -> String {
    if value == 0 {
        return "0".to_owned();
    }
    let mut names = Vec::new();
    for bit in 0..32 {
        let b = 1u32 << bit;
        if value & b != 0 {
            names.push(name_of(table, b));
        }
    }
    names.join("|")
}

/// `LINEERR_INVALCALLSTATE` for a (negative) result; `0` for success.
pub fn result_name(result: i32) -> String {
    if result == 0 {
        return "0".to_owned();
    }
    let code = result as u32;
    names::LINEERR
        .iter()
        .find(|(_, v)| *v == code)
        .map_or_else(|| format!("0x{code:X}"), |(n, _)| (*n).to_owned())
}

/// The `LINEERR_*` name of an error.
pub fn err(e: LineError) -> String {
    result_name(e.result())
}

// ------------------------------------------------------------------ the harness

/// A CSTA request the provider sent that the test has not answered yet.
#[derive(Debug, Clone)]
pub struct Outstanding {
    /// Its invokeID.
    pub invoke: u16,
    /// The root element's name.
    pub name: String,
    /// The whole message, compacted.
    pub text: String,
}

/// The provider, the virtual clock, and the test's view of the server and of TAPI.
pub struct Harness {
    pub p: Provider,
    pub t0: Instant,
    pub now: Instant,
    /// TAPI's messages not yet taken by the test.
    tapi: Vec<String>,
    /// CSTA messages the provider sent, not yet taken by the test, with invokeIDs.
    sent: Vec<(u16, String)>,
    /// Requests the provider sent, not yet answered, oldest first.
    pub outstanding: VecDeque<Outstanding>,
    /// Link commands not yet taken.
    link: Vec<LinkCommand>,
    /// Provider events not yet taken.
    events: Vec<ProviderEvent>,
    /// TAPI's call handles: htCall → the provider's handle.
    calls: BTreeMap<usize, CallHandle>,
    next_ht: usize,
    next_req: u32,
    /// How TAPI answers the next `LINE_NEWCALL`s: `false` declines (htCall 0).
    pub accept_new_calls: bool,
    /// The monitorCrossRefID each line got, by index.
    pub xrefs: BTreeMap<usize, String>,
    /// Every completion seen, by request ID (to check "exactly once").
    pub completions: BTreeMap<u32, Vec<i32>>,
}

impl Harness {
    /// A provider initialised at `t0`, its link connecting and up, with
    /// `StartApplicationSession` outstanding.
    pub fn boot(config: ProviderConfig, devices: &[String]) -> Harness {
        let t0 = Instant::now();
        let mut h = Harness {
            p: Provider::new(config, devices, SEED),
            t0,
            now: t0,
            tapi: Vec::new(),
            sent: Vec::new(),
            outstanding: VecDeque::new(),
            link: Vec::new(),
            events: Vec::new(),
            calls: BTreeMap::new(),
            next_ht: 1,
            next_req: 1,
            accept_new_calls: true,
            xrefs: BTreeMap::new(),
            completions: BTreeMap::new(),
        };
        h.p.init(t0, BASE);
        h.p.handle_timeout(t0);
        h.drain();
        assert_eq!(h.take_link(), [LinkCommand::Connect], "connect at once");
        h.link_up();
        h
    }

    /// A provider whose session is up and whose lines are synchronised (default
    /// answers) and open; every log is empty.
    pub fn new(config: ProviderConfig) -> Harness {
        let mut h = Harness::boot(config, &[]);
        h.answer_start(120);
        h.sync_all();
        for i in 0..h.p.line_count() as usize {
            h.open(i);
        }
        h.clear();
        h
    }

    /// Two remote lines, 201 and 202.
    pub fn remote() -> Harness {
        Harness::new(remote(&[L0, L1]))
    }

    /// One client line, 201.
    pub fn client() -> Harness {
        Harness::new(client(L0))
    }

    /// Forgets every log.
    pub fn clear(&mut self) {
        self.tapi.clear();
        self.sent.clear();
        self.link.clear();
        self.events.clear();
    }

    // -------------------------------------------------------------- draining

    /// Polls the provider until nothing is left, playing TAPI's part for
    /// `LINE_NEWCALL` as the TSPI layer does.
    pub fn drain(&mut self) {
        loop {
            let mut any = false;
            while let Some(out) = self.p.poll_tapi() {
                any = true;
                let line = self.tapi_line(out);
                self.tapi.push(line);
            }
            while let Some(t) = self.p.poll_transmit() {
                any = true;
                let decoded = decode(&t.body)
                    .unwrap_or_else(|e| panic!("the provider sent undecodable CSTA: {e:?}"));
                let text = compact(&t.body);
                assert!(
                    !t.invoke_id.is_event(),
                    "the provider sent invokeID 9999: {text}"
                );
                if decoded.message.kind() == Kind::Request {
                    assert!(
                        !self
                            .outstanding
                            .iter()
                            .any(|o| o.invoke == t.invoke_id.get()),
                        "invokeID {} reused while outstanding: {text}",
                        t.invoke_id.get()
                    );
                    self.outstanding.push_back(Outstanding {
                        invoke: t.invoke_id.get(),
                        name: decoded.message.name().to_owned(),
                        text: text.clone(),
                    });
                }
                self.sent.push((t.invoke_id.get(), text));
            }
            while let Some(c) = self.p.poll_link() {
                any = true;
                if c == LinkCommand::Close {
                    // The provider counts the link as down already: the link driver
                    // forgets what was in flight.
                    self.outstanding.clear();
                }
                self.link.push(c);
            }
            while let Some(e) = self.p.poll_event() {
                any = true;
                self.events.push(e);
            }
            if !any {
                break;
            }
        }
    }

    fn tapi_line(&mut self, out: TapiOutput) -> String {
        match out {
            TapiOutput::Event {
                line,
                ht_line: ht,
                ht_call,
                msg,
                params: [p1, p2, p3],
            } => {
                assert_eq!(ht, ht_line(line.index()), "htLine of line{}", line.index());
                let call = || {
                    assert_ne!(ht_call, 0, "a call message without htCall");
                    assert!(
                        self.calls.contains_key(&ht_call),
                        "a message for htCall {ht_call}, which TAPI never had"
                    );
                    format!("call#{ht_call}")
                };
                match msg {
                    tapi::msg::CALLSTATE => {
                        let state = p1 as u32;
                        let detail = match state {
                            tapi::LINECALLSTATE_DISCONNECTED => {
                                format!(" {}", name_of(names::LINEDISCONNECTMODE, p2 as u32))
                            }
                            tapi::LINECALLSTATE_BUSY => {
                                format!(" {}", name_of(names::LINEBUSYMODE, p2 as u32))
                            }
                            tapi::LINECALLSTATE_DIALTONE => {
                                format!(" {}", name_of(names::LINEDIALTONEMODE, p2 as u32))
                            }
                            tapi::LINECALLSTATE_CONNECTED if p2 != 0 => {
                                format!(" {}", name_of(names::LINECONNECTEDMODE, p2 as u32))
                            }
                            tapi::LINECALLSTATE_OFFERING if p2 != 0 => {
                                format!(" {}", name_of(names::LINEOFFERINGMODE, p2 as u32))
                            }
                            tapi::LINECALLSTATE_CONFERENCED => format!(" conf=call#{p2}"),
                            _ if p2 != 0 => format!(" mode=0x{p2:X}"),
                            _ => String::new(),
                        };
                        let media = if p3 as u32 == tapi::LINEMEDIAMODE_INTERACTIVEVOICE {
                            String::new()
                        } else {
                            format!(" media=0x{p3:X}")
                        };
                        format!(
                            "CALLSTATE {} {}{detail}{media}",
                            call(),
                            tapi::call_state_name(state)
                        )
                    }
                    tapi::msg::CALLINFO => {
                        assert_eq!((p2, p3), (0, 0));
                        format!(
                            "CALLINFO {} {}",
                            call(),
                            bits(names::LINECALLINFOSTATE, p1 as u32)
                        )
                    }
                    tapi::msg::GENERATE => {
                        assert_eq!(p3, 0, "LINE_GENERATE's tick count is the TSPI layer's");
                        format!(
                            "GENERATE {} {} e2e={p2}",
                            call(),
                            name_of(names::LINEGENERATETERM, p1 as u32)
                        )
                    }
                    tapi::msg::LINEDEVSTATE => {
                        assert_eq!(ht_call, 0);
                        assert_eq!((p2, p3), (0, 0));
                        format!(
                            "LINEDEVSTATE line{} {}",
                            line.index(),
                            bits(names::LINEDEVSTATE, p1 as u32)
                        )
                    }
                    tapi::msg::ADDRESSSTATE => {
                        assert_eq!(ht_call, 0);
                        assert_eq!((p1, p3), (0, 0), "address 0");
                        format!(
                            "ADDRESSSTATE line{} {}",
                            line.index(),
                            bits(names::LINEADDRESSSTATE, p2 as u32)
                        )
                    }
                    other => format!(
                        "{} line{} ht={ht_call} {p1:X} {p2:X} {p3:X}",
                        tapi::msg::name(other),
                        line.index()
                    ),
                }
            }
            TapiOutput::NewCall {
                line,
                ht_line: ht,
                call,
            } => {
                assert_eq!(ht, ht_line(line.index()), "htLine of line{}", line.index());
                assert_ne!(call.to_raw(), 0);
                if self.accept_new_calls {
                    let ht = self.next_ht;
                    self.next_ht += 1;
                    self.calls.insert(ht, call);
                    self.p.new_call_delivered(call, ht);
                    format!("NEWCALL line{} call#{ht}", line.index())
                } else {
                    self.p.new_call_delivered(call, 0);
                    format!("NEWCALL line{} declined", line.index())
                }
            }
            TapiOutput::CreateLine { temp_id } => format!("CREATE temp{temp_id}"),
            TapiOutput::RemoveLine { device_id } => format!("REMOVE dev{device_id}"),
            TapiOutput::Completion { request_id, result } => {
                self.completions.entry(request_id).or_default().push(result);
                format!("COMPLETE req{request_id} {}", result_name(result))
            }
        }
    }

    // -------------------------------------------------------------- what came out

    /// TAPI's messages since the last call.
    pub fn tapi(&mut self) -> Vec<String> {
        std::mem::take(&mut self.tapi)
    }

    /// The CSTA messages sent since the last call, compacted.
    pub fn sent(&mut self) -> Vec<String> {
        std::mem::take(&mut self.sent)
            .into_iter()
            .map(|(_, t)| t)
            .collect()
    }

    /// The CSTA messages sent since the last call, with their invokeIDs.
    pub fn sent_with_ids(&mut self) -> Vec<(u16, String)> {
        std::mem::take(&mut self.sent)
    }

    /// The link commands since the last call.
    pub fn take_link(&mut self) -> Vec<LinkCommand> {
        std::mem::take(&mut self.link)
    }

    /// The provider events since the last call.
    pub fn take_events(&mut self) -> Vec<ProviderEvent> {
        std::mem::take(&mut self.events)
    }

    /// The names of the outstanding requests, oldest first.
    pub fn outstanding_names(&self) -> Vec<String> {
        self.outstanding.iter().map(|o| o.name.clone()).collect()
    }

    /// Asserts that nothing came out since the last take.
    #[track_caller]
    pub fn assert_quiet(&mut self) {
        assert_eq!(self.tapi(), Vec::<String>::new(), "TAPI messages");
        assert_eq!(self.sent(), Vec::<String>::new(), "CSTA messages");
        assert_eq!(self.take_link(), Vec::<LinkCommand>::new(), "link commands");
    }

    // -------------------------------------------------------------- the clock

    /// Moves the clock forward by `d`, running the provider's timers on the way (at
    /// the instants it asked for).
    pub fn advance(&mut self, d: Duration) {
        let target = self.now + d;
        while let Some(t) = self.p.poll_timeout() {
            if t > target {
                break;
            }
            self.now = self.now.max(t);
            self.p.handle_timeout(self.now);
            self.drain();
        }
        self.now = target;
        self.p.handle_timeout(self.now);
        self.drain();
    }

    /// The time since `t0`.
    pub fn elapsed(&self) -> Duration {
        self.now - self.t0
    }

    /// When the provider next wants its timer, from now.
    pub fn next_timeout(&self) -> Option<Duration> {
        self.p
            .poll_timeout()
            .map(|t| t.saturating_duration_since(self.now))
    }

    // -------------------------------------------------------------- the link

    pub fn link_up(&mut self) {
        self.p.handle_link_up(self.now);
        self.drain();
    }

    pub fn link_down(&mut self) {
        self.outstanding.clear();
        self.p.handle_link_down(self.now);
        self.drain();
    }

    // -------------------------------------------------------------- the server

    /// Takes the oldest outstanding request named `name` (panics if there is none).
    #[track_caller]
    pub fn take_outstanding(&mut self, name: &str) -> Outstanding {
        let i = self
            .outstanding
            .iter()
            .position(|o| o.name == name)
            .unwrap_or_else(|| {
                panic!(
                    "no outstanding {name}; outstanding: {:?}",
                    self.outstanding_names()
                )
            });
        self.outstanding.remove(i).expect("present")
    }

    /// Answers the oldest outstanding `name` request with `xml`; returns the request.
    #[track_caller]
    pub fn answer(&mut self, name: &str, xml: &str) -> Outstanding {
        let o = self.take_outstanding(name);
        self.frame(o.invoke, xml);
        o
    }

    /// The server sends `xml` with `invoke`.
    pub fn frame(&mut self, invoke: u16, xml: &str) {
        let id = InvokeId::new(invoke).expect("an invokeID");
        self.p.handle_frame(self.now, id, xml.as_bytes());
        self.drain();
    }

    /// An event on line `line`'s monitor: `{X}` in `xml` is its monitorCrossRefID.
    #[track_caller]
    pub fn event(&mut self, line: usize, xml: &str) {
        let x = self
            .xrefs
            .get(&line)
            .unwrap_or_else(|| panic!("line{line} has no monitor"))
            .clone();
        assert!(xml.contains("{X}"), "an event without {{X}}: {xml}");
        let xml = xml.replace("{X}", &x);
        self.frame(9999, &xml);
    }

    /// Answers `StartApplicationSession` (session `S1`, ed3, `duration` seconds).
    #[track_caller]
    pub fn answer_start(&mut self, duration: u32) {
        let o = self.answer(
            "StartApplicationSession",
            &format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><StartApplicationSessionPosResponse xmlns="{NS354}"><sessionID>S1</sessionID><actualProtocolVersion>{NS}</actualProtocolVersion><actualSessionDuration>{duration}</actualSessionDuration></StartApplicationSessionPosResponse>"#
            ),
        );
        assert!(
            o.text.contains("userName") || o.text.contains("user"),
            "{}",
            o.text
        );
    }

    /// The line a sync request is for: the index of its device.
    fn line_of_request(&self, text: &str) -> usize {
        let devices: Vec<String> = self
            .p
            .lines()
            .map(|(l, d, _)| format!("{}:{d}", l.index()))
            .collect();
        for entry in devices.iter().rev() {
            let (i, d) = entry.split_once(':').expect("index:device");
            if text.contains(&format!("={d}}}")) || text.ends_with(&format!("={d}")) {
                return i.parse().expect("index");
            }
        }
        panic!("no line for {text}")
    }

    /// Answers one outstanding line-synchronisation request (MonitorStart,
    /// SnapshotDevice, GetDoNotDisturb, GetForwarding) with the default answer;
    /// `false` when there is none.
    pub fn sync_one(&mut self) -> bool {
        let Some(i) = self.outstanding.iter().position(|o| {
            matches!(
                o.name.as_str(),
                "MonitorStart" | "SnapshotDevice" | "GetDoNotDisturb" | "GetForwarding"
            )
        }) else {
            return false;
        };
        let o = self.outstanding[i].clone();
        let xml = match o.name.as_str() {
            "MonitorStart" => {
                let line = self.line_of_request(&o.text);
                let x = xref_of(line);
                self.xrefs.insert(line, x.clone());
                monitor_start_response(&x)
            }
            "SnapshotDevice" => snapshot(&[]),
            "GetDoNotDisturb" => dnd_response(false),
            _ => forwarding_response(&[]),
        };
        self.outstanding.remove(i);
        self.frame(o.invoke, &xml);
        true
    }

    /// Answers line-synchronisation requests with the defaults until none is left.
    pub fn sync_all(&mut self) {
        while self.sync_one() {}
    }

    /// Answers a line's MonitorStart with its monitorCrossRefID.
    #[track_caller]
    pub fn answer_monitor(&mut self, line: usize) {
        let x = xref_of(line);
        self.xrefs.insert(line, x.clone());
        let o = self.answer("MonitorStart", &monitor_start_response(&x));
        assert_eq!(self.line_of_request(&o.text), line, "{}", o.text);
    }

    // -------------------------------------------------------------- TAPI

    /// The provider's handle of TAPI's call `ht`.
    #[track_caller]
    pub fn call(&self, ht: usize) -> CallHandle {
        *self
            .calls
            .get(&ht)
            .unwrap_or_else(|| panic!("TAPI has no call#{ht}"))
    }

    /// TAPI's handles of its calls.
    pub fn hts(&self) -> Vec<usize> {
        self.calls.keys().copied().collect()
    }

    /// The next request ID.
    pub fn req(&mut self) -> u32 {
        let r = self.next_req;
        self.next_req += 1;
        r
    }

    /// The next htCall.
    pub fn ht(&mut self) -> usize {
        let h = self.next_ht;
        self.next_ht += 1;
        h
    }

    /// Runs `f` on the provider at the current time, then drains.
    pub fn run<T>(&mut self, f: impl FnOnce(&mut Provider, Instant) -> T) -> T {
        let now = self.now;
        let t = f(&mut self.p, now);
        self.drain();
        t
    }

    /// Runs `f` without draining: for functions that create calls, whose handles TAPI
    /// has once they return (the caller registers them, then drains).
    fn run_quiet<T>(&mut self, f: impl FnOnce(&mut Provider, Instant) -> T) -> T {
        let now = self.now;
        f(&mut self.p, now)
    }

    /// Registers TAPI's handle `ht` for a call a request created, then drains.
    fn registered(
        &mut self,
        ht: usize,
        h: Result<CallHandle, LineError>,
    ) -> Result<CallHandle, LineError> {
        if let Ok(h) = h {
            self.calls.insert(ht, h);
        }
        self.drain();
        h
    }

    /// `TSPI_lineOpen` of line `index` (htLine [`ht_line`]).
    #[track_caller]
    pub fn open(&mut self, index: usize) {
        let line = LineId::new(index as u32);
        self.run(|p, _| p.open(line, ht_line(index)))
            .unwrap_or_else(|e| panic!("lineOpen line{index}: {e}"));
    }

    /// `TSPI_lineSetStatusMessages`: every line state and address state the provider
    /// reports.
    #[track_caller]
    pub fn status_messages(&mut self, index: usize) {
        let line = LineId::new(index as u32);
        self.run(|p, _| {
            p.set_status_messages(
                line,
                tapi::LINEDEVSTATE_INSERVICE | tapi::LINEDEVSTATE_OUTOFSERVICE,
                tapi::LINEADDRESSSTATE_FORWARD,
            )
        })
        .expect("lineSetStatusMessages");
    }

    /// `TSPI_lineMakeCall`: (request, htCall).
    pub fn make_call(
        &mut self,
        line: usize,
        dest: Option<&str>,
    ) -> Result<(u32, usize), LineError> {
        let (req, ht) = (self.req(), self.ht());
        let h = self.run_quiet(|p, now| p.make_call(now, req, LineId::new(line as u32), ht, dest));
        let h = self.registered(ht, h)?;
        let _ = h;
        Ok((req, ht))
    }

    /// `TSPI_lineDial`.
    pub fn dial(&mut self, ht: usize, dest: &str) -> Result<u32, LineError> {
        let (req, c) = (self.req(), self.call(ht));
        self.run(|p, now| p.dial(now, req, c, dest)).map(|()| req)
    }

    /// `TSPI_lineAnswer`.
    pub fn answer_call(&mut self, ht: usize) -> Result<u32, LineError> {
        let (req, c) = (self.req(), self.call(ht));
        self.run(|p, now| p.answer(now, req, c)).map(|()| req)
    }

    /// `TSPI_lineDrop`.
    pub fn drop_call(&mut self, ht: usize) -> Result<u32, LineError> {
        let (req, c) = (self.req(), self.call(ht));
        self.run(|p, now| p.drop_call(now, req, c)).map(|()| req)
    }

    /// `TSPI_lineHold`.
    pub fn hold(&mut self, ht: usize) -> Result<u32, LineError> {
        let (req, c) = (self.req(), self.call(ht));
        self.run(|p, now| p.hold(now, req, c)).map(|()| req)
    }

    /// `TSPI_lineUnhold`.
    pub fn unhold(&mut self, ht: usize) -> Result<u32, LineError> {
        let (req, c) = (self.req(), self.call(ht));
        self.run(|p, now| p.unhold(now, req, c)).map(|()| req)
    }

    /// `TSPI_lineSwapHold`.
    pub fn swap_hold(&mut self, active: usize, held: usize) -> Result<u32, LineError> {
        let (req, a, b) = (self.req(), self.call(active), self.call(held));
        self.run(|p, now| p.swap_hold(now, req, a, b)).map(|()| req)
    }

    /// `TSPI_lineBlindTransfer`.
    pub fn blind_transfer(&mut self, ht: usize, dest: &str) -> Result<u32, LineError> {
        let (req, c) = (self.req(), self.call(ht));
        self.run(|p, now| p.blind_transfer(now, req, c, dest))
            .map(|()| req)
    }

    /// `TSPI_lineRedirect`.
    pub fn redirect(&mut self, ht: usize, dest: &str) -> Result<u32, LineError> {
        let (req, c) = (self.req(), self.call(ht));
        self.run(|p, now| p.redirect(now, req, c, dest))
            .map(|()| req)
    }

    /// `TSPI_lineSetupTransfer`: (request, htConsultCall).
    pub fn setup_transfer(&mut self, ht: usize) -> Result<(u32, usize), LineError> {
        let (req, c, consult) = (self.req(), self.call(ht), self.ht());
        let h = self.run_quiet(|p, now| p.setup_transfer(now, req, c, consult));
        self.registered(consult, h)?;
        Ok((req, consult))
    }

    /// `TSPI_lineCompleteTransfer`: (request, htConfCall in conference mode).
    pub fn complete_transfer(
        &mut self,
        ht: usize,
        consult: usize,
        mode: u32,
    ) -> Result<(u32, Option<usize>), LineError> {
        let (req, a, b) = (self.req(), self.call(ht), self.call(consult));
        let conf_ht = if mode == tapi::LINETRANSFERMODE_CONFERENCE {
            self.ht()
        } else {
            0
        };
        let conf = self.run_quiet(|p, now| p.complete_transfer(now, req, a, b, conf_ht, mode));
        let conf = match conf {
            Ok(Some(h)) => {
                self.registered(conf_ht, Ok(h))?;
                Some(conf_ht)
            }
            Ok(None) => {
                self.drain();
                None
            }
            Err(e) => {
                self.drain();
                return Err(e);
            }
        };
        Ok((req, conf))
    }

    /// `TSPI_lineSetupConference`: (request, htConfCall, htConsultCall).
    pub fn setup_conference(&mut self, ht: usize) -> Result<(u32, usize, usize), LineError> {
        let (req, c) = (self.req(), self.call(ht));
        let (conf_ht, consult_ht) = (self.ht(), self.ht());
        let made = self.run_quiet(|p, now| p.setup_conference(now, req, c, conf_ht, consult_ht, 3));
        if let Ok((conf, consult)) = made {
            self.calls.insert(conf_ht, conf);
            self.calls.insert(consult_ht, consult);
        }
        self.drain();
        made?;
        Ok((req, conf_ht, consult_ht))
    }

    /// `TSPI_linePrepareAddToConference`: (request, htConsultCall).
    pub fn prepare_add(&mut self, conf: usize) -> Result<(u32, usize), LineError> {
        let (req, c, consult) = (self.req(), self.call(conf), self.ht());
        let h = self.run_quiet(|p, now| p.prepare_add_to_conference(now, req, c, consult));
        self.registered(consult, h)?;
        Ok((req, consult))
    }

    /// `TSPI_lineAddToConference`.
    pub fn add_to_conference(&mut self, conf: usize, consult: usize) -> Result<u32, LineError> {
        let (req, a, b) = (self.req(), self.call(conf), self.call(consult));
        self.run(|p, now| p.add_to_conference(now, req, a, b))
            .map(|()| req)
    }

    /// `TSPI_lineRemoveFromConference`.
    pub fn remove_from_conference(&mut self, ht: usize) -> Result<u32, LineError> {
        let (req, c) = (self.req(), self.call(ht));
        self.run(|p, now| p.remove_from_conference(now, req, c))
            .map(|()| req)
    }

    /// `TSPI_linePickup`: (request, htCall).
    pub fn pickup(
        &mut self,
        line: usize,
        dest: Option<&str>,
        group: Option<&str>,
    ) -> Result<(u32, usize), LineError> {
        let (req, ht) = (self.req(), self.ht());
        let h =
            self.run_quiet(|p, now| p.pickup(now, req, LineId::new(line as u32), ht, dest, group));
        self.registered(ht, h)?;
        Ok((req, ht))
    }

    /// `TSPI_lineForward`.
    pub fn forward(
        &mut self,
        line: usize,
        list: Option<&[ForwardEntry]>,
        rings: u32,
    ) -> Result<u32, LineError> {
        let req = self.req();
        self.run(|p, now| p.forward(now, req, LineId::new(line as u32), Some(0), list, rings))
            .map(|()| req)
    }

    /// `TSPI_lineGenerateDigits` (DTMF).
    pub fn generate(&mut self, ht: usize, e2e: u32, digits: &str) -> Result<(), LineError> {
        let c = self.call(ht);
        self.run(|p, now| p.generate_digits(now, c, e2e, tapi::LINEDIGITMODE_DTMF, Some(digits)))
    }

    /// `TSPI_lineCloseCall`: TAPI forgets `ht`.
    pub fn close_call(&mut self, ht: usize) {
        let c = self.call(ht);
        self.run(|p, _| p.close_call(c));
        self.calls.remove(&ht);
    }

    /// The TAPI state of a call (`TSPI_lineGetCallStatus`), by name.
    #[track_caller]
    pub fn state(&self, ht: usize) -> String {
        let s = self
            .p
            .call_status(self.call(ht))
            .expect("lineGetCallStatus");
        tapi::call_state_name(s.state).to_owned()
    }

    /// The call features of a call, by name.
    #[track_caller]
    pub fn features(&self, ht: usize) -> String {
        let s = self
            .p
            .call_status(self.call(ht))
            .expect("lineGetCallStatus");
        bits(names::LINECALLFEATURE, s.features)
    }

    /// Every call TAPI holds that is not IDLE, with its state: `call#1 CONNECTED`.
    pub fn live(&self) -> Vec<String> {
        self.calls
            .iter()
            .filter_map(|(ht, c)| {
                let s = self.p.call_status(*c).ok()?;
                (s.state != tapi::LINECALLSTATE_IDLE)
                    .then(|| format!("call#{ht} {}", tapi::call_state_name(s.state)))
            })
            .collect()
    }

    /// Every request completed exactly once.
    #[track_caller]
    pub fn assert_completed_once(&self) {
        for (req, results) in &self.completions {
            assert_eq!(results.len(), 1, "req{req} completed {results:?}");
        }
    }
}

/// A forwarding entry.
pub fn fwd(mode: u32, dest: Option<&str>) -> ForwardEntry {
    ForwardEntry {
        mode,
        caller: None,
        dest: dest.map(str::to_owned),
    }
}

// ------------------------------------------------------------------ answers

pub fn monitor_start_response(xref: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><MonitorStartResponse xmlns="{NS}"><monitorCrossRefID>{xref}</monitorCrossRefID><actualMonitorFilter><callcontrol/></actualMonitorFilter><monitorExistingCalls>true</monitorExistingCalls></MonitorStartResponse>"#
    )
}

/// A snapshot: (callID, device, localConnectionState).
pub fn snapshot(calls: &[(&str, &str, &str)]) -> String {
    let items: String = calls
        .iter()
        .map(|(id, dev, state)| {
            format!(
                "<snapshotDeviceResponseInfo><connectionIdentifier><callID>{id}</callID><deviceID>{dev}</deviceID></connectionIdentifier><localCallState><compoundCallState><localConnectionState>{state}</localConnectionState></compoundCallState></localCallState></snapshotDeviceResponseInfo>"
            )
        })
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><SnapshotDeviceResponse xmlns="{NS}"><crossRefIDorSnapshotData><snapshotData>{items}</snapshotData></crossRefIDorSnapshotData></SnapshotDeviceResponse>"#
    )
}

pub fn dnd_response(on: bool) -> String {
    format!(
        r#"<GetDoNotDisturbResponse xmlns="{NS}"><doNotDisturbOn>{on}</doNotDisturbOn></GetDoNotDisturbResponse>"#
    )
}

/// A forwarding list: (type, on, destination).
pub fn forwarding_response(items: &[(&str, bool, Option<&str>)]) -> String {
    if items.is_empty() {
        return format!(r#"<GetForwardingResponse xmlns="{NS}"/>"#);
    }
    let list: String = items
        .iter()
        .map(|(t, on, dest)| {
            let dn = dest.map_or(String::new(), |d| format!("<forwardDN>{d}</forwardDN>"));
            format!(
                "<forwardListItem><forwardingType>{t}</forwardingType><forwardStatus>{on}</forwardStatus>{dn}</forwardListItem>"
            )
        })
        .collect();
    format!(
        r#"<GetForwardingResponse xmlns="{NS}"><forwardingList>{list}</forwardingList></GetForwardingResponse>"#
    )
}

/// A positive response with no content (`HoldCallResponse`).
pub fn ok(name: &str) -> String {
    format!(r#"<{name}Response xmlns="{NS}"/>"#)
}

/// `CSTAErrorCode` with one category and value.
pub fn csta_error(category: &str, value: &str) -> String {
    format!(r#"<CSTAErrorCode xmlns="{NS}"><{category}>{value}</{category}></CSTAErrorCode>"#)
}

/// `MakeCallResponse` naming `call` at `device`.
pub fn make_call_response(call: &str, device: &str) -> String {
    format!(
        r#"<MakeCallResponse xmlns="{NS}"><callingDevice><callID>{call}</callID><deviceID>{device}</deviceID></callingDevice></MakeCallResponse>"#
    )
}

/// A response whose one ConnectionID element `element` names `call` at `device`
/// (`ConsultationCallResponse`/`initiatedCall`, `ConferenceCallResponse`/`conferenceCall`).
pub fn connection_response(name: &str, element: &str, call: &str, device: &str) -> String {
    format!(
        r#"<{name} xmlns="{NS}"><{element}><callID>{call}</callID><deviceID>{device}</deviceID></{element}></{name}>"#
    )
}

// ------------------------------------------------------------------ events

/// Events in the shapes a uaCSTA phone emits (csta-core's phone model and the
/// vendors' captures), ECMA-323 ed3. `{X}` stands for the monitorCrossRefID.
pub mod ev {
    use super::NS;

    fn dev(tag: &str, id: &str) -> String {
        match id {
            "notKnown" | "restricted" => format!("<{tag}><{id}/></{tag}>"),
            _ => format!("<{tag}><deviceIdentifier>{id}</deviceIdentifier></{tag}>"),
        }
    }

    fn conn(tag: &str, call: &str, device: &str) -> String {
        format!("<{tag}><callID>{call}</callID><deviceID>{device}</deviceID></{tag}>")
    }

    fn wrap(name: &str, body: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><{name} xmlns="{NS}"><monitorCrossRefID>{{X}}</monitorCrossRefID>{body}</{name}>"#
        )
    }

    fn tail(local: Option<&str>, cause: Option<&str>) -> String {
        let mut s = String::new();
        if let Some(l) = local {
            s += &format!("<localConnectionInfo>{l}</localConnectionInfo>");
        }
        if let Some(c) = cause {
            s += &format!("<cause>{c}</cause>");
        }
        s
    }

    /// The phone goes off hook for a call (`initiated`).
    pub fn service_initiated(call: &str, me: &str, cause: &str) -> String {
        wrap(
            "ServiceInitiatedEvent",
            &format!(
                "{}{}{}",
                conn("initiatedConnection", call, me),
                dev("initiatingDevice", me),
                tail(Some("initiated"), Some(cause))
            ),
        )
    }

    /// The phone dialled `called` (local `connected`).
    pub fn originated(call: &str, me: &str, called: &str, cause: &str) -> String {
        wrap(
            "OriginatedEvent",
            &format!(
                "{}{}{}{}",
                conn("originatedConnection", call, me),
                dev("callingDevice", me),
                dev("calledDevice", called),
                tail(Some("connected"), Some(cause))
            ),
        )
    }

    /// The far end `far` rings (the phone's own connection stays `connected`).
    pub fn delivered_far(call: &str, me: &str, far: &str) -> String {
        wrap(
            "DeliveredEvent",
            &format!(
                "{}{}{}{}{}",
                conn("connection", call, far),
                dev("alertingDevice", far),
                dev("callingDevice", me),
                dev("calledDevice", far),
                tail(Some("connected"), None)
            ),
        )
    }

    /// A call from `caller` rings at the phone.
    pub fn delivered_in(call: &str, me: &str, caller: &str, cause: &str) -> String {
        wrap(
            "DeliveredEvent",
            &format!(
                "{}{}{}{}{}",
                conn("connection", call, me),
                dev("alertingDevice", me),
                dev("callingDevice", caller),
                dev("calledDevice", me),
                tail(Some("alerting"), Some(cause))
            ),
        )
    }

    /// An incoming call forwarded to the phone by `redirecting`.
    pub fn delivered_forwarded(
        call: &str,
        me: &str,
        caller: &str,
        redirecting: &str,
        cause: &str,
    ) -> String {
        wrap(
            "DeliveredEvent",
            &format!(
                "{}{}{}{}{}{}",
                conn("connection", call, me),
                dev("alertingDevice", me),
                dev("callingDevice", caller),
                dev("calledDevice", redirecting),
                dev("lastRedirectionDevice", redirecting),
                tail(Some("alerting"), Some(cause))
            ),
        )
    }

    /// The far end `far` answered the phone's call.
    pub fn established_far(call: &str, me: &str, far: &str) -> String {
        wrap(
            "EstablishedEvent",
            &format!(
                "{}{}{}{}{}",
                conn("establishedConnection", call, far),
                dev("answeringDevice", far),
                dev("callingDevice", me),
                dev("calledDevice", far),
                tail(Some("connected"), None)
            ),
        )
    }

    /// The phone answered `caller`'s call.
    pub fn established_in(call: &str, me: &str, caller: &str) -> String {
        wrap(
            "EstablishedEvent",
            &format!(
                "{}{}{}{}{}",
                conn("establishedConnection", call, me),
                dev("answeringDevice", me),
                dev("callingDevice", caller),
                dev("calledDevice", me),
                tail(Some("connected"), None)
            ),
        )
    }

    /// `dropped` left the call (the phone's own connection goes `null`).
    pub fn cleared(call: &str, dropped: &str, cause: &str) -> String {
        wrap(
            "ConnectionClearedEvent",
            &format!(
                "{}{}{}",
                conn("droppedConnection", call, dropped),
                dev("releasingDevice", dropped),
                tail(Some("null"), Some(cause))
            ),
        )
    }

    /// `dropped` left a conference the phone stays in (no localConnectionInfo).
    pub fn party_left(call: &str, dropped: &str) -> String {
        wrap(
            "ConnectionClearedEvent",
            &format!(
                "{}{}{}",
                conn("droppedConnection", call, dropped),
                dev("releasingDevice", dropped),
                tail(None, Some("normalClearing"))
            ),
        )
    }

    /// The phone held the call.
    pub fn held(call: &str, me: &str, cause: Option<&str>) -> String {
        wrap(
            "HeldEvent",
            &format!(
                "{}{}{}",
                conn("heldConnection", call, me),
                dev("holdingDevice", me),
                tail(Some("hold"), cause)
            ),
        )
    }

    /// The phone retrieved the call.
    pub fn retrieved(call: &str, me: &str) -> String {
        wrap(
            "RetrievedEvent",
            &format!(
                "{}{}{}",
                conn("retrievedConnection", call, me),
                dev("retrievingDevice", me),
                tail(Some("connected"), None)
            ),
        )
    }

    /// The phone's call to `far` failed.
    pub fn failed(call: &str, me: &str, far: &str, cause: &str) -> String {
        wrap(
            "FailedEvent",
            &format!(
                "{}{}{}{}{}",
                conn("failedConnection", call, me),
                dev("failingDevice", far),
                dev("callingDevice", me),
                dev("calledDevice", far),
                tail(Some("fail"), Some(cause))
            ),
        )
    }

    /// The phone transferred `primary` (and `secondary`) to `to`; it leaves.
    pub fn transfered(
        primary: &str,
        secondary: Option<&str>,
        me: &str,
        to: &str,
        cause: &str,
    ) -> String {
        let secondary = secondary.map_or(String::new(), |s| conn("secondaryOldCall", s, me));
        wrap(
            "TransferedEvent",
            &format!(
                "{}{secondary}{}{}<transferredConnections><connectionListItem><newConnection><callID>{primary}</callID><deviceID>{to}</deviceID></newConnection><endpoint><deviceIdentifier>{to}</deviceIdentifier></endpoint></connectionListItem></transferredConnections>{}",
                conn("primaryOldCall", primary, me),
                dev("transferringDevice", me),
                dev("transferredToDevice", to),
                tail(Some("null"), Some(cause))
            ),
        )
    }

    /// The phone conferenced `primary` and `secondary` (whose party is `added`): the
    /// conference goes on as `primary`, with `parties` (every party but the phone).
    pub fn conferenced(
        primary: &str,
        secondary: &str,
        me: &str,
        parties: &[&str],
        added: &str,
    ) -> String {
        let items: String = parties
            .iter()
            .map(|p| format!("<connectionListItem><newConnection><callID>{primary}</callID><deviceID>{p}</deviceID></newConnection><endpoint><deviceIdentifier>{p}</deviceIdentifier></endpoint></connectionListItem>"))
            .collect();
        wrap(
            "ConferencedEvent",
            &format!(
                "{}{}{}{}<conferenceConnections>{items}</conferenceConnections>{}",
                conn("primaryOldCall", primary, me),
                conn("secondaryOldCall", secondary, me),
                dev("conferencingDevice", me),
                dev("addedParty", added),
                tail(Some("connected"), Some("conference"))
            ),
        )
    }

    /// The phone's ringing call from `caller` went to `to`.
    pub fn diverted(call: &str, me: &str, caller: &str, to: &str, cause: &str) -> String {
        wrap(
            "DivertedEvent",
            &format!(
                "{}{}{}{}{}{}",
                conn("connection", call, me),
                dev("divertingDevice", me),
                dev("newDestination", to),
                dev("callingDevice", caller),
                dev("calledDevice", me),
                tail(Some("null"), Some(cause))
            ),
        )
    }

    pub fn dnd(me: &str, on: bool) -> String {
        wrap(
            "DoNotDisturbEvent",
            &format!(
                "<device><deviceIdentifier>{me}</deviceIdentifier></device><doNotDisturbOn>{on}</doNotDisturbOn>"
            ),
        )
    }

    pub fn forwarding(me: &str, kind: &str, on: bool, to: Option<&str>) -> String {
        let to = to.map_or(String::new(), |t| format!("<forwardTo>{t}</forwardTo>"));
        wrap(
            "ForwardingEvent",
            &format!(
                "<device><deviceIdentifier>{me}</deviceIdentifier></device><forwardingType>{kind}</forwardingType><forwardStatus>{on}</forwardStatus>{to}"
            ),
        )
    }

    pub fn out_of_service(me: &str) -> String {
        wrap(
            "OutOfServiceEvent",
            &format!("<device><deviceIdentifier>{me}</deviceIdentifier></device>"),
        )
    }

    pub fn back_in_service(me: &str) -> String {
        wrap(
            "BackInServiceEvent",
            &format!("<device><deviceIdentifier>{me}</deviceIdentifier></device>"),
        )
    }
}
