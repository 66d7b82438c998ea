//! The Telephony service's side of the TSPI, played against one provider instance.
//!
//! [`Host::start`] calls the provider in TAPISRV's order:
//!
//! 1. `TSPI_lineNegotiateTSPIVersion(INITIALIZE_NEGOTIATION, 0x00010004, 0x00020002)`;
//! 2. `TSPI_providerEnumDevices(permanentProviderID, .., hProvider, lineCreateProc,
//!    phoneCreateProc)`;
//! 3. `TSPI_providerInit(version, id, lineDeviceIDBase, 0, lines, phones,
//!    completionProc, &options)`;
//! 4. per line: `TSPI_lineNegotiateTSPIVersion(deviceID)`, `TSPI_lineGetDevCaps` and
//!    `TSPI_lineGetAddressCaps` (first with only the fixed size, then again with
//!    `dwNeededSize`), `TSPI_lineOpen`, `TSPI_lineSetStatusMessages` (every line and
//!    address state), `TSPI_lineSetDefaultMediaDetection(INTERACTIVEVOICE)`.
//!
//! Then [`Host::pump`] takes what the callbacks recorded (see
//! [`crate::callbacks`]), prints it and does what TAPISRV does in reply, from the
//! host's thread, never inside a callback:
//!
//! - `LINE_NEWCALL`: the call is known by the `HTAPICALL` the callback wrote;
//! - `LINE_CALLSTATE` `IDLE`: `TSPI_lineCloseCall` (as `lineDeallocateCall` would);
//! - `LINE_CREATE`: `TSPI_providerCreateLineDevice(tempID, nextDeviceID)`, then the
//!   new line is negotiated, read and opened like the others;
//! - `LINE_REMOVE`: the line's calls are closed, then the line (`TSPI_lineClose`);
//! - `LINE_CLOSE`: `TSPI_lineClose`.
//!
//! The requests a script makes (`lineMakeCall`, `lineAnswer`, ...) are methods
//! of the host; each prints a `REQUEST` line with its request ID and what the function
//! returned, and the completion comes later as a `COMPLETION` line.
//! [`Host::shutdown`] closes every call and line, calls `TSPI_providerShutdown` and
//! measures it.
//!
//! The host also checks the provider's side of the contract and prints a `VIOLATION`
//! line for each breach: a completion for an unknown request or a second one, an
//! asynchronous function that returns neither its request ID nor an error, an event
//! for a call before the request that created it completed, an event for a line
//! after `TSPI_lineClose` returned, a callback inside a callback or after
//! `TSPI_providerShutdown`, a request never completed.
#![allow(unsafe_code)]

use std::collections::{BTreeMap, HashMap};
use std::mem::size_of;
use std::ptr::{null, null_mut};
use std::time::{Duration, Instant};

use serde_json::Value;
use ucsta_tsp::tapi::{
    self, HDRVCALL, HDRVLINE, HTAPICALL, LINEADDRESSCAPS, LINEADDRESSSTATUS, LINECALLINFO,
    LINECALLSTATUS, LINEDEVCAPS, LINEDEVSTATUS, LINEFORWARDLIST,
};

use crate::callbacks::{self, Raw, Record};
use crate::names::{self, bit_names, name_of, result_name};
use crate::out::{Fields, Output};
use crate::structs::{self, LineCaps};
use crate::table::Tspi;

/// The lowest TSPI version the host offers.
pub const VERSION_LOW: u32 = 0x0001_0004;
/// The highest TSPI version the host offers (TAPI 2.2: the `windows-sys` layouts).
pub const VERSION_HIGH: u32 = 0x0002_0002;
/// The `hProvider` the host passes to `TSPI_providerEnumDevices`.
pub const H_PROVIDER: usize = 0x7A51;

/// How the host starts the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// `dwPermanentProviderID`.
    pub provider_id: u32,
    /// `dwLineDeviceIDBase`.
    pub device_id_base: u32,
}

/// Why the provider could not be started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartError {
    /// The function that failed.
    pub function: &'static str,
    /// What it returned.
    pub result: i32,
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} failed: {}", self.function, result_name(self.result))
    }
}

impl std::error::Error for StartError {}

/// One line the host knows.
#[derive(Debug, Clone)]
pub struct Line {
    /// The TAPI device ID.
    pub dev: u32,
    /// The host's `HTAPILINE`.
    pub ht: usize,
    /// The provider's `HDRVLINE` (0 until open).
    pub hd: usize,
    /// The negotiated TSPI version.
    pub version: u32,
    /// The capabilities read before opening it.
    pub caps: LineCaps,
    /// Open (and not closed since).
    pub open: bool,
    /// The callback sequence number when `TSPI_lineClose` returned.
    pub closed_at: Option<u64>,
    /// The last `LINE_LINEDEVSTATE` said `INSERVICE` (not `OUTOFSERVICE`).
    pub in_service: bool,
}

/// One call the host knows.
#[derive(Debug, Clone)]
pub struct Call {
    /// The host's `HTAPICALL`.
    pub ht: usize,
    /// The provider's `HDRVCALL`.
    pub hd: usize,
    /// Its line's device ID.
    pub dev: u32,
    /// The last `LINE_CALLSTATE` (0 before the first).
    pub state: u32,
    /// `TSPI_lineCloseCall` was called.
    pub closed: bool,
    /// The request that created it, while not completed.
    pub pending: Option<u32>,
}

/// An asynchronous request the host made.
#[derive(Debug, Clone)]
pub struct Request {
    /// The TSPI function, without `TSPI_`.
    pub function: &'static str,
    /// Its line.
    pub dev: Option<u32>,
    /// Its call.
    pub call: Option<usize>,
    /// What the function returned.
    pub returned: i32,
    /// The completion's result, once it came.
    pub completed: Option<i32>,
}

/// A consultation set up on a line (lineSetupTransfer, lineSetupConference,
/// linePrepareAddToConference), for the commands that finish it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setup {
    /// The call that was consulted from (held while consulting).
    pub primary: usize,
    /// The consultation call.
    pub consult: usize,
    /// The conference call, for a conference.
    pub conf: Option<usize>,
}

/// Work TAPISRV does after a message, from its own thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deferred {
    CloseCall(usize),
    Create(usize),
    Remove(u32),
    CloseLine(u32),
}

/// The host (see the [module docs](self)).
#[derive(Debug)]
pub struct Host {
    tspi: Tspi,
    options: Options,
    version: u32,
    lines: Vec<Line>,
    calls: BTreeMap<usize, Call>,
    requests: BTreeMap<u32, Request>,
    next_request: u32,
    next_device_id: u32,
    next_ht_line: usize,
    setups: HashMap<u32, Setup>,
    deferred: Vec<Deferred>,
    /// The provider has been shut down.
    down: bool,
    /// The output.
    pub out: Output,
    /// Threads of the process before `TSPI_providerInit` (where the platform says).
    threads_before: Option<usize>,
}

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain([0]).collect()
}

/// The threads of this process, where the platform can tell.
pub fn thread_count() -> Option<usize> {
    #[cfg(target_os = "linux")]
    {
        std::fs::read_dir("/proc/self/task").ok().map(|d| d.count())
    }
    #[cfg(windows)]
    {
        crate::threads::count()
    }
    #[cfg(not(any(target_os = "linux", windows)))]
    {
        None
    }
}

/// The names of this process's threads (Linux: `/proc/self/task/*/comm`), for a
/// report of the threads a provider left behind.
pub fn thread_names() -> Vec<String> {
    #[cfg(target_os = "linux")]
    {
        let mut names: Vec<String> = std::fs::read_dir("/proc/self/task")
            .map(|d| {
                d.flatten()
                    .filter_map(|e| std::fs::read_to_string(e.path().join("comm")).ok())
                    .map(|n| n.trim().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
    #[cfg(not(target_os = "linux"))]
    {
        Vec::new()
    }
}

/// Calls a TSPI function that fills a variable-size structure, as TAPI does: first
/// with a buffer of only the fixed part, then, when `dwNeededSize` says more is
/// needed, again with a buffer of that size.
fn grow<T>(fixed: usize, mut f: impl FnMut(*mut T) -> i32) -> (i32, Vec<u8>) {
    let mut buf = vec![0u8; fixed];
    buf[..4].copy_from_slice(&(fixed as u32).to_le_bytes());
    let r = f(buf.as_mut_ptr().cast::<T>());
    let needed = structs::View(&buf).needed() as usize;
    if r != 0 || needed <= fixed {
        return (r, buf);
    }
    let mut big = vec![0u8; needed];
    big[..4].copy_from_slice(&(needed as u32).to_le_bytes());
    let r = f(big.as_mut_ptr().cast::<T>());
    (r, big)
}

impl Host {
    /// Starts the provider (steps 1 to 4 of the [module docs](self)) and opens its
    /// lines.
    ///
    /// # Errors
    ///
    /// [`StartError`] when negotiation, `TSPI_providerEnumDevices` or
    /// `TSPI_providerInit` fail (a line that fails to open is reported and left out).
    pub fn start(tspi: Tspi, options: Options, out: Output) -> Result<Host, StartError> {
        callbacks::start_clock();
        callbacks::set_shut_down(false);
        let mut host = Host {
            tspi,
            options,
            version: 0,
            lines: Vec::new(),
            calls: BTreeMap::new(),
            requests: BTreeMap::new(),
            next_request: 1,
            next_device_id: options.device_id_base,
            next_ht_line: 0x1000,
            setups: HashMap::new(),
            deferred: Vec::new(),
            down: false,
            out,
            threads_before: None,
        };
        let mut version = 0u32;
        // SAFETY: a DWORD to write; the TSPI export of this signature.
        let r = unsafe {
            (tspi.lineNegotiateTSPIVersion)(
                tapi::INITIALIZE_NEGOTIATION,
                VERSION_LOW,
                VERSION_HIGH,
                &mut version,
            )
        };
        if r != 0 {
            return Err(StartError {
                function: "TSPI_lineNegotiateTSPIVersion",
                result: r,
            });
        }
        host.version = version;
        let (mut lines, mut phones) = (0u32, 0u32);
        // SAFETY: two DWORDs to write and the host's callbacks, valid for the life of
        // the process.
        let r = unsafe {
            (tspi.providerEnumDevices)(
                options.provider_id,
                &mut lines,
                &mut phones,
                H_PROVIDER as tapi::HPROVIDER,
                Some(callbacks::provider_event),
                Some(callbacks::phone_event),
            )
        };
        if r != 0 {
            return Err(StartError {
                function: "TSPI_providerEnumDevices",
                result: r,
            });
        }
        host.threads_before = thread_count();
        let mut provider_options = 0u32;
        // SAFETY: the completion callback lives as long as the process; a DWORD to
        // write.
        let r = unsafe {
            (tspi.providerInit)(
                version,
                options.provider_id,
                options.device_id_base,
                0,
                lines as usize,
                phones as usize,
                Some(callbacks::completion),
                &mut provider_options,
            )
        };
        let t = callbacks::now_ms();
        host.out.emit(
            t,
            "PROVIDER_INIT",
            vec![
                ("provider_id", options.provider_id.into()),
                ("version", format!("0x{version:08X}").into()),
                ("lines", lines.into()),
                ("phones", phones.into()),
                ("device_id_base", options.device_id_base.into()),
                ("options", provider_options.into()),
                ("result", result_name(r).into()),
            ],
        );
        if r != 0 {
            return Err(StartError {
                function: "TSPI_providerInit",
                result: r,
            });
        }
        host.next_device_id = options.device_id_base + lines;
        for i in 0..lines {
            host.open_line(options.device_id_base + i);
        }
        Ok(host)
    }

    /// The TSPI version of `TSPI_providerInit`.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The lines (open or not).
    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    /// The calls the host knows (closed ones included).
    pub fn calls(&self) -> impl Iterator<Item = &Call> {
        self.calls.values()
    }

    /// A call by its `HTAPICALL`.
    pub fn call(&self, ht: usize) -> Option<&Call> {
        self.calls.get(&ht)
    }

    /// A request by its ID.
    pub fn request(&self, id: u32) -> Option<&Request> {
        self.requests.get(&id)
    }

    /// The last consultation set up on a line.
    pub fn setup(&self, dev: u32) -> Option<Setup> {
        self.setups.get(&dev).copied()
    }

    /// The open line whose number (address) or name is `addr`.
    pub fn line_by_address(&self, addr: &str) -> Option<&Line> {
        let user_part = |a: &str| -> String {
            let a = a
                .strip_prefix("sip:")
                .or(a.strip_prefix("tel:"))
                .unwrap_or(a);
            a.split(['@', ';']).next().unwrap_or(a).to_owned()
        };
        let matches = |l: &&Line| {
            l.caps.address == addr || l.caps.name == addr || user_part(&l.caps.address) == addr
        };
        self.lines
            .iter()
            .filter(|l| l.closed_at.is_none())
            .find(matches)
            .or_else(|| self.lines.iter().rev().find(matches))
    }

    fn line(&self, dev: u32) -> Option<&Line> {
        self.lines.iter().rev().find(|l| l.dev == dev)
    }

    fn line_mut(&mut self, dev: u32) -> Option<&mut Line> {
        self.lines.iter_mut().rev().find(|l| l.dev == dev)
    }

    /// `("dev", 100), ("addr", "201")` of a line.
    fn where_fields(&self, dev: Option<u32>) -> Fields {
        match dev {
            Some(dev) => vec![
                ("dev", dev.into()),
                (
                    "addr",
                    self.line(dev)
                        .map_or(Value::Null, |l| l.caps.address.clone().into()),
                ),
            ],
            None => Vec::new(),
        }
    }

    fn emit(&mut self, t: u64, msg: &str, fields: Fields) {
        self.out.emit(t, msg, fields);
    }

    fn violation(&mut self, t: u64, what: &str, mut fields: Fields) {
        fields.insert(0, ("what", what.into()));
        self.emit(t, "VIOLATION", fields);
    }

    // ------------------------------------------------------------------ lines

    /// Negotiates, reads and opens the line with this device ID (step 4).
    fn open_line(&mut self, dev: u32) {
        let tspi = self.tspi;
        let mut version = 0u32;
        // SAFETY: a DWORD to write.
        let r = unsafe {
            (tspi.lineNegotiateTSPIVersion)(dev, VERSION_LOW, VERSION_HIGH, &mut version)
        };
        let t = callbacks::now_ms();
        if r != 0 {
            self.emit(
                t,
                "OPEN",
                vec![
                    ("dev", dev.into()),
                    ("step", "TSPI_lineNegotiateTSPIVersion".into()),
                    ("result", result_name(r).into()),
                ],
            );
            return;
        }
        // SAFETY: `grow` passes a buffer of the dwTotalSize it wrote.
        let (r1, dev_caps) = grow::<LINEDEVCAPS>(size_of::<LINEDEVCAPS>(), |p| unsafe {
            (tspi.lineGetDevCaps)(dev, version, 0, p)
        });
        // SAFETY: as above.
        let (r2, addr_caps) = grow::<LINEADDRESSCAPS>(size_of::<LINEADDRESSCAPS>(), |p| unsafe {
            (tspi.lineGetAddressCaps)(dev, 0, version, 0, p)
        });
        let caps = LineCaps::read(&dev_caps, &addr_caps);
        let ht = self.next_ht_line;
        self.next_ht_line += 1;
        let mut hd: HDRVLINE = null_mut();
        // SAFETY: a handle to write; the line event callback lives as long as the
        // process.
        let r3 = unsafe {
            (tspi.lineOpen)(
                dev,
                ht as tapi::HTAPILINE,
                &mut hd,
                version,
                Some(callbacks::line_event),
            )
        };
        let mut line = Line {
            dev,
            ht,
            hd: hd as usize,
            version,
            caps,
            open: r3 == 0,
            closed_at: None,
            in_service: false,
        };
        let (mut r4, mut r5) = (0, 0);
        if r3 == 0 {
            let line_states = names::LINEDEVSTATE.iter().fold(0, |a, (_, v)| a | v);
            let address_states = names::LINEADDRESSSTATE.iter().fold(0, |a, (_, v)| a | v);
            // SAFETY: the handle lineOpen gave.
            r4 = unsafe { (tspi.lineSetStatusMessages)(hd, line_states, address_states) };
            // SAFETY: as above.
            r5 = unsafe {
                (tspi.lineSetDefaultMediaDetection)(hd, tapi::LINEMEDIAMODE_INTERACTIVEVOICE)
            };
        } else {
            line.closed_at = Some(callbacks::seq_now());
        }
        let t = callbacks::now_ms();
        let mut fields: Fields = vec![
            ("dev", dev.into()),
            ("addr", line.caps.address.clone().into()),
            ("name", line.caps.name.clone().into()),
            ("version", format!("0x{version:08X}").into()),
        ];
        fields.extend([
            ("devcaps_needed", line.caps.needed.0.into()),
            ("addresscaps_needed", line.caps.needed.1.into()),
            ("result", result_name(r3).into()),
        ]);
        for (name, r) in [
            ("devcaps_result", r1),
            ("addresscaps_result", r2),
            ("statusmessages_result", r4),
            ("mediadetection_result", r5),
        ] {
            if r != 0 {
                fields.push((name, result_name(r).into()));
            }
        }
        self.lines.push(line);
        self.emit(t, "OPEN", fields);
    }

    /// `TSPI_lineClose` of a line (its calls first, as TAPI does).
    fn close_line(&mut self, dev: u32, why: &'static str) {
        let calls: Vec<usize> = self
            .calls
            .values()
            .filter(|c| c.dev == dev && !c.closed)
            .map(|c| c.ht)
            .collect();
        for ht in calls {
            self.close_call(ht);
        }
        let Some(line) = self.line(dev).cloned() else {
            return;
        };
        if !line.open {
            return;
        }
        // SAFETY: the handle lineOpen gave, closed once.
        let r = unsafe { (self.tspi.lineClose)(line.hd as HDRVLINE) };
        let seq = callbacks::seq_now();
        if let Some(l) = self.line_mut(dev) {
            l.open = false;
            l.closed_at = Some(seq);
        }
        let t = callbacks::now_ms();
        let mut fields = self.where_fields(Some(dev));
        fields.push(("why", why.into()));
        fields.push(("result", result_name(r).into()));
        self.emit(t, "CLOSE", fields);
    }

    /// `TSPI_lineCloseCall`.
    fn close_call(&mut self, ht: usize) {
        let Some(call) = self.calls.get(&ht).cloned() else {
            return;
        };
        if call.closed {
            return;
        }
        // SAFETY: the provider's handle of a call not closed yet.
        let r = unsafe { (self.tspi.lineCloseCall)(call.hd as HDRVCALL) };
        if let Some(c) = self.calls.get_mut(&ht) {
            c.closed = true;
        }
        let t = callbacks::now_ms();
        let mut fields = self.where_fields(Some(call.dev));
        fields.push(("call", ht.into()));
        fields.push(("result", result_name(r).into()));
        self.emit(t, "CLOSECALL", fields);
    }

    // ------------------------------------------------------------------ messages

    /// Takes what the callbacks recorded (waiting up to `wait` for the first record),
    /// prints it and does what TAPISRV does in reply. Returns how many records came.
    pub fn pump(&mut self, wait: Duration) -> usize {
        let records = callbacks::take(wait);
        let n = records.len();
        for r in records {
            self.handle(r);
        }
        while !self.deferred.is_empty() {
            let work: Vec<Deferred> = std::mem::take(&mut self.deferred);
            for d in work {
                self.run_deferred(d);
            }
            // What the deferred calls caused comes in the next pump, in order.
        }
        n
    }

    /// Pumps until `deadline` or until `done` says so (checked after each pump).
    pub fn pump_until(
        &mut self,
        deadline: Instant,
        mut done: impl FnMut(&mut Host) -> bool,
    ) -> bool {
        loop {
            if done(self) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            self.pump((deadline - now).min(Duration::from_millis(50)));
        }
    }

    fn run_deferred(&mut self, d: Deferred) {
        match d {
            Deferred::CloseCall(ht) => self.close_call(ht),
            Deferred::Create(temp) => {
                let dev = self.next_device_id;
                self.next_device_id += 1;
                // SAFETY: plain values.
                let r = unsafe { (self.tspi.providerCreateLineDevice)(temp, dev) };
                let t = callbacks::now_ms();
                self.emit(
                    t,
                    "CREATELINEDEVICE",
                    vec![
                        ("temp_id", temp.into()),
                        ("dev", dev.into()),
                        ("result", result_name(r).into()),
                    ],
                );
                if r == 0 {
                    self.open_line(dev);
                }
            }
            Deferred::Remove(dev) => self.close_line(dev, "LINE_REMOVE"),
            Deferred::CloseLine(dev) => self.close_line(dev, "LINE_CLOSE"),
        }
    }

    fn handle(&mut self, r: Record) {
        let t = r.t;
        match r.raw {
            Raw::Line {
                ht_line,
                ht_call,
                msg,
                params,
                new_call,
            } => self.line_message(t, r.seq, ht_line, ht_call, msg, params, new_call),
            Raw::Provider {
                ht_line,
                msg,
                params,
            } => {
                if ht_line != 0 {
                    self.violation(t, "LINE_CREATE/LINE_REMOVE with an htLine", Vec::new());
                }
                match msg {
                    tapi::msg::CREATE => {
                        if params[0] != H_PROVIDER {
                            self.violation(
                                t,
                                "LINE_CREATE with another hProvider",
                                vec![("p1", params[0].into())],
                            );
                        }
                        self.emit(t, "LINE_CREATE", vec![("temp_id", params[1].into())]);
                        self.deferred.push(Deferred::Create(params[1]));
                    }
                    tapi::msg::REMOVE => {
                        let dev = params[0] as u32;
                        let fields = self.where_fields(Some(dev));
                        self.emit(t, "LINE_REMOVE", fields);
                        self.deferred.push(Deferred::Remove(dev));
                    }
                    other => {
                        self.violation(
                            t,
                            "an unexpected message on the provider's callback",
                            vec![("dwMsg", other.into())],
                        );
                    }
                }
            }
            Raw::Phone { msg } => {
                self.violation(
                    t,
                    "a PHONEEVENT (the provider has no phones)",
                    vec![("dwMsg", msg.into())],
                );
            }
            Raw::Completion { request_id, result } => self.completion(t, request_id, result),
            Raw::Violation(what) => self.violation(t, what, Vec::new()),
        }
    }

    fn completion(&mut self, t: u64, id: u32, result: i32) {
        let Some(req) = self.requests.get_mut(&id) else {
            self.violation(
                t,
                "a completion for a request the host did not make",
                vec![("req", id.into()), ("result", result_name(result).into())],
            );
            return;
        };
        let twice = req.completed.is_some();
        let not_async = req.returned != id as i32;
        req.completed = Some(result);
        let req = req.clone();
        if twice {
            self.violation(t, "a request completed twice", vec![("req", id.into())]);
        }
        if not_async {
            self.violation(
                t,
                "a completion for a request that failed synchronously",
                vec![("req", id.into())],
            );
        }
        for c in self.calls.values_mut() {
            if c.pending == Some(id) {
                c.pending = None;
                // A call whose creating request failed never existed for TAPI: the
                // provider forgets it, TAPI does not close it.
                if result != 0 {
                    c.closed = true;
                }
            }
        }
        let mut fields: Fields = vec![
            ("req", id.into()),
            ("fn", req.function.into()),
            ("result", result_name(result).into()),
        ];
        fields.extend(self.where_fields(req.dev));
        if let Some(call) = req.call {
            fields.push(("call", call.into()));
        }
        self.emit(t, "COMPLETION", fields);
    }

    #[allow(clippy::too_many_arguments)]
    fn line_message(
        &mut self,
        t: u64,
        seq: u64,
        ht_line: usize,
        ht_call: usize,
        msg: u32,
        p: [usize; 3],
        new_call: Option<usize>,
    ) {
        let Some(line) = self.lines.iter().find(|l| l.ht == ht_line).cloned() else {
            self.violation(
                t,
                "a message for an htLine the host did not give",
                vec![("htLine", ht_line.into()), ("dwMsg", msg.into())],
            );
            return;
        };
        if line.closed_at.is_some_and(|closed| seq > closed) {
            self.violation(
                t,
                "a message for a line after TSPI_lineClose returned",
                vec![("dev", line.dev.into()), ("dwMsg", msg.into())],
            );
        }
        let dev = line.dev;
        let mut fields = self.where_fields(Some(dev));
        let name = match msg {
            tapi::LINE_NEWCALL => {
                match new_call {
                    Some(ht) => {
                        self.calls.insert(
                            ht,
                            Call {
                                ht,
                                hd: p[0],
                                dev,
                                state: 0,
                                closed: false,
                                pending: None,
                            },
                        );
                        fields.push(("call", ht.into()));
                    }
                    None => {
                        self.violation(
                            t,
                            "LINE_NEWCALL without a place for the htCall",
                            Vec::new(),
                        );
                    }
                }
                "LINE_NEWCALL"
            }
            tapi::msg::CALLSTATE => {
                let state = p[0] as u32;
                let mode = p[1] as u32;
                fields.push(("call", ht_call.into()));
                fields.push(("state", name_of(names::LINECALLSTATE, state).into()));
                fields.push(("mode", mode.into()));
                if let Some(table) = names::mode_table(state)
                    && mode != 0
                {
                    fields.push(("mode_names", bit_names(table, mode).into()));
                }
                if state == tapi::LINECALLSTATE_CONFERENCED {
                    // dwParam2 is TAPI's handle of the conference call.
                    fields.push(("conf", p[1].into()));
                    if !self.calls.contains_key(&p[1]) {
                        self.violation(
                            t,
                            "CONFERENCED without the htConfCall of a known call in dwParam2",
                            vec![("call", ht_call.into()), ("p2", p[1].into())],
                        );
                    }
                }
                fields.push(("media", bit_names(names::LINEMEDIAMODE, p[2] as u32).into()));
                self.call_event(t, ht_call, dev, "LINE_CALLSTATE");
                if let Some(c) = self.calls.get_mut(&ht_call) {
                    c.state = state;
                    if state == tapi::LINECALLSTATE_IDLE && !c.closed {
                        self.deferred.push(Deferred::CloseCall(ht_call));
                    }
                }
                "LINE_CALLSTATE"
            }
            tapi::msg::CALLINFO => {
                fields.push(("call", ht_call.into()));
                fields.push((
                    "fields",
                    bit_names(names::LINECALLINFOSTATE, p[0] as u32).into(),
                ));
                self.call_event(t, ht_call, dev, "LINE_CALLINFO");
                "LINE_CALLINFO"
            }
            tapi::msg::GENERATE => {
                fields.push(("call", ht_call.into()));
                fields.push(("term", name_of(names::LINEGENERATETERM, p[0] as u32).into()));
                fields.push(("end_to_end", p[1].into()));
                fields.push(("tick", p[2].into()));
                self.call_event(t, ht_call, dev, "LINE_GENERATE");
                "LINE_GENERATE"
            }
            tapi::msg::LINEDEVSTATE => {
                let state = p[0] as u32;
                fields.push((
                    "state",
                    bit_names(names::LINEDEVSTATE, state).join("|").into(),
                ));
                fields.push(("p2", p[1].into()));
                fields.push(("p3", p[2].into()));
                if let Some(l) = self.line_mut(dev) {
                    if state & tapi::LINEDEVSTATE_INSERVICE != 0 {
                        l.in_service = true;
                    }
                    if state & tapi::LINEDEVSTATE_OUTOFSERVICE != 0 {
                        l.in_service = false;
                    }
                }
                "LINE_LINEDEVSTATE"
            }
            tapi::msg::ADDRESSSTATE => {
                fields.push(("address_id", p[0].into()));
                fields.push((
                    "state",
                    bit_names(names::LINEADDRESSSTATE, p[1] as u32)
                        .join("|")
                        .into(),
                ));
                "LINE_ADDRESSSTATE"
            }
            tapi::msg::CLOSE => {
                self.deferred.push(Deferred::CloseLine(dev));
                "LINE_CLOSE"
            }
            other => {
                fields.push(("dwMsg", other.into()));
                fields.push((
                    "params",
                    Value::from(p.iter().map(|v| Value::from(*v)).collect::<Vec<_>>()),
                ));
                "LINE_OTHER"
            }
        };
        self.emit(t, name, fields);
    }

    /// Checks a call message: the call is known, its creating request has completed.
    fn call_event(&mut self, t: u64, ht: usize, dev: u32, what: &str) {
        match self.calls.get(&ht) {
            None => self.violation(
                t,
                "a call message for an htCall the host did not give",
                vec![("call", ht.into()), ("message", what.into())],
            ),
            Some(c) if c.closed => self.violation(
                t,
                "a call message after TSPI_lineCloseCall",
                vec![("call", ht.into()), ("message", what.into())],
            ),
            Some(c) if c.pending.is_some() => self.violation(
                t,
                "a call message before the request that created the call completed",
                vec![("call", ht.into()), ("message", what.into())],
            ),
            Some(c) if c.dev != dev => self.violation(
                t,
                "a call message on another line than the call's",
                vec![("call", ht.into()), ("message", what.into())],
            ),
            Some(_) => {}
        }
    }

    // ------------------------------------------------------------------ requests

    /// Makes an asynchronous request: `f` gets the request ID and calls the function.
    /// Prints the `REQUEST` line; returns the request ID and what the function
    /// returned.
    fn submit(
        &mut self,
        function: &'static str,
        dev: Option<u32>,
        call: Option<usize>,
        extra: Fields,
        f: impl FnOnce(u32) -> i32,
    ) -> (u32, i32) {
        let id = self.next_request;
        self.next_request += 1;
        self.requests.insert(
            id,
            Request {
                function,
                dev,
                call,
                returned: 0,
                completed: None,
            },
        );
        let r = f(id);
        if let Some(req) = self.requests.get_mut(&id) {
            req.returned = r;
        }
        let t = callbacks::now_ms();
        let mut fields: Fields = vec![("req", id.into()), ("fn", function.into())];
        fields.extend(self.where_fields(dev));
        if let Some(call) = call {
            fields.push(("call", call.into()));
        }
        fields.extend(extra);
        fields.push(("result", result_name(r).into()));
        self.emit(t, "REQUEST", fields);
        if r >= 0 && r != id as i32 {
            self.violation(
                t,
                "an asynchronous function returned neither its request ID nor an error",
                vec![("req", id.into()), ("returned", r.into())],
            );
        }
        (id, r)
    }

    /// Registers a call the host created with a request (before the request
    /// completes, so its messages can be checked against it).
    fn new_call(&mut self, ht: usize, hd: HDRVCALL, dev: u32, request: u32, returned: i32) {
        if returned != request as i32 {
            return;
        }
        self.calls.insert(
            ht,
            Call {
                ht,
                hd: hd as usize,
                dev,
                state: 0,
                closed: false,
                pending: Some(request),
            },
        );
    }

    fn hd_line(&self, dev: u32) -> HDRVLINE {
        self.line(dev).map_or(null_mut(), |l| l.hd as HDRVLINE)
    }

    fn hd_call(&self, ht: usize) -> HDRVCALL {
        self.calls.get(&ht).map_or(null_mut(), |c| c.hd as HDRVCALL)
    }

    fn dev_of(&self, ht: usize) -> Option<u32> {
        self.calls.get(&ht).map(|c| c.dev)
    }

    /// `TSPI_lineMakeCall` on a line (no number: a `DIALTONE` call for `lineDial`).
    /// Returns the new call's `HTAPICALL` and the request.
    pub fn make_call(&mut self, dev: u32, number: Option<&str>) -> (usize, u32, i32) {
        let ht = callbacks::next_call_handle();
        let hd_line = self.hd_line(dev);
        let dest = number.map(wide);
        let mut hd: HDRVCALL = null_mut();
        let tspi = self.tspi;
        let extra = vec![("number", number.into())];
        let (id, r) = self.submit("lineMakeCall", Some(dev), Some(ht), extra, |id| {
            // SAFETY: the line handle lineOpen gave (or null, refused), a handle to
            // write, a NUL-terminated number or null, no call parameters.
            unsafe {
                (tspi.lineMakeCall)(
                    id,
                    hd_line,
                    ht as HTAPICALL,
                    &mut hd,
                    dest.as_ref().map_or(null(), |d| d.as_ptr()),
                    0,
                    null(),
                )
            }
        });
        self.new_call(ht, hd, dev, id, r);
        (ht, id, r)
    }

    /// The requests on one call with a number: `lineDial`, `lineBlindTransfer`,
    /// `lineRedirect`.
    pub fn call_and_number(
        &mut self,
        function: &'static str,
        ht: usize,
        number: &str,
    ) -> (u32, i32) {
        let tspi = self.tspi;
        let f = match function {
            "lineDial" => tspi.lineDial,
            "lineBlindTransfer" => tspi.lineBlindTransfer,
            _ => tspi.lineRedirect,
        };
        let hd = self.hd_call(ht);
        let dest = wide(number);
        let dev = self.dev_of(ht);
        let extra = vec![("number", number.into())];
        self.submit(function, dev, Some(ht), extra, |id| {
            // SAFETY: the provider's call handle and a NUL-terminated number.
            unsafe { f(id, hd, dest.as_ptr(), 0) }
        })
    }

    /// The requests on one call: `lineAnswer`, `lineDrop`, `lineHold`, `lineUnhold`,
    /// `lineRemoveFromConference`.
    pub fn call_only(&mut self, function: &'static str, ht: usize) -> (u32, i32) {
        let tspi = self.tspi;
        let hd = self.hd_call(ht);
        let dev = self.dev_of(ht);
        self.submit(function, dev, Some(ht), Vec::new(), |id| match function {
            // SAFETY: the provider's call handle; no user-user information.
            "lineAnswer" => unsafe { (tspi.lineAnswer)(id, hd, null(), 0) },
            // SAFETY: as above.
            "lineDrop" => unsafe { (tspi.lineDrop)(id, hd, null(), 0) },
            // SAFETY: as above.
            "lineHold" => unsafe { (tspi.lineHold)(id, hd) },
            // SAFETY: as above.
            "lineUnhold" => unsafe { (tspi.lineUnhold)(id, hd) },
            // SAFETY: as above.
            _ => unsafe { (tspi.lineRemoveFromConference)(id, hd) },
        })
    }

    /// `lineSwapHold` (`active`, `held`) or `lineAddToConference` (`conf`, `consult`).
    pub fn two_calls(&mut self, function: &'static str, a: usize, b: usize) -> (u32, i32) {
        let tspi = self.tspi;
        let f = if function == "lineSwapHold" {
            tspi.lineSwapHold
        } else {
            tspi.lineAddToConference
        };
        let (ha, hb) = (self.hd_call(a), self.hd_call(b));
        let dev = self.dev_of(a);
        let extra = vec![("other", b.into())];
        // SAFETY: the provider's call handles.
        self.submit(function, dev, Some(a), extra, |id| unsafe { f(id, ha, hb) })
    }

    /// `lineSetupTransfer` (or `linePrepareAddToConference` of a conference call):
    /// returns the consultation call.
    pub fn consult(&mut self, function: &'static str, ht: usize) -> (usize, u32, i32) {
        let tspi = self.tspi;
        let f = if function == "lineSetupTransfer" {
            tspi.lineSetupTransfer
        } else {
            tspi.linePrepareAddToConference
        };
        let hd = self.hd_call(ht);
        let dev = self.dev_of(ht).unwrap_or_default();
        let consult = callbacks::next_call_handle();
        let mut hd_consult: HDRVCALL = null_mut();
        let extra = vec![("consult", consult.into())];
        let (id, r) = self.submit(function, Some(dev), Some(ht), extra, |id| {
            // SAFETY: the provider's call handle, a handle to write, no parameters.
            unsafe { f(id, hd, consult as HTAPICALL, &mut hd_consult, null()) }
        });
        self.new_call(consult, hd_consult, dev, id, r);
        if r == id as i32 {
            let conf = (function != "lineSetupTransfer").then_some(ht);
            self.setups.insert(
                dev,
                Setup {
                    primary: ht,
                    consult,
                    conf,
                },
            );
        }
        (consult, id, r)
    }

    /// `lineCompleteTransfer(call, consult, mode)`; in conference mode returns the
    /// conference call.
    pub fn complete_transfer(
        &mut self,
        ht: usize,
        consult: usize,
        conference: bool,
    ) -> (Option<usize>, u32, i32) {
        let tspi = self.tspi;
        let (hd, hd_consult) = (self.hd_call(ht), self.hd_call(consult));
        let dev = self.dev_of(ht).unwrap_or_default();
        let conf = conference.then(callbacks::next_call_handle);
        let mut hd_conf: HDRVCALL = null_mut();
        let mode = if conference {
            tapi::LINETRANSFERMODE_CONFERENCE
        } else {
            tapi::LINETRANSFERMODE_TRANSFER
        };
        let mut extra: Fields = vec![
            ("consult", consult.into()),
            (
                "mode",
                if conference { "CONFERENCE" } else { "TRANSFER" }.into(),
            ),
        ];
        if let Some(conf) = conf {
            extra.push(("conf", conf.into()));
        }
        let (id, r) = self.submit("lineCompleteTransfer", Some(dev), Some(ht), extra, |id| {
            // SAFETY: the provider's call handles and a handle to write (conference).
            unsafe {
                (tspi.lineCompleteTransfer)(
                    id,
                    hd,
                    hd_consult,
                    conf.unwrap_or(0) as HTAPICALL,
                    if conference { &mut hd_conf } else { null_mut() },
                    mode,
                )
            }
        });
        if let Some(conf) = conf {
            self.new_call(conf, hd_conf, dev, id, r);
        }
        (conf, id, r)
    }

    /// `lineSetupConference` from an existing call: returns the conference and the
    /// consultation call.
    pub fn setup_conference(&mut self, ht: usize) -> (usize, usize, u32, i32) {
        let tspi = self.tspi;
        let hd = self.hd_call(ht);
        let dev = self.dev_of(ht).unwrap_or_default();
        let hd_line = self.hd_line(dev);
        let (conf, consult) = (callbacks::next_call_handle(), callbacks::next_call_handle());
        let (mut hd_conf, mut hd_consult): (HDRVCALL, HDRVCALL) = (null_mut(), null_mut());
        let extra = vec![("conf", conf.into()), ("consult", consult.into())];
        let (id, r) = self.submit("lineSetupConference", Some(dev), Some(ht), extra, |id| {
            // SAFETY: the provider's handles, two handles to write, no parameters.
            unsafe {
                (tspi.lineSetupConference)(
                    id,
                    hd,
                    hd_line,
                    conf as HTAPICALL,
                    &mut hd_conf,
                    consult as HTAPICALL,
                    &mut hd_consult,
                    3,
                    null(),
                )
            }
        });
        self.new_call(conf, hd_conf, dev, id, r);
        self.new_call(consult, hd_consult, dev, id, r);
        if r == id as i32 {
            self.setups.insert(
                dev,
                Setup {
                    primary: ht,
                    consult,
                    conf: Some(conf),
                },
            );
        }
        (conf, consult, id, r)
    }

    /// `linePickup` on a line: a number (directed) or a group (`None`: the line's own
    /// group). Returns the new call.
    pub fn pickup(
        &mut self,
        dev: u32,
        number: Option<&str>,
        group: Option<&str>,
    ) -> (usize, u32, i32) {
        let tspi = self.tspi;
        let hd_line = self.hd_line(dev);
        let ht = callbacks::next_call_handle();
        let mut hd: HDRVCALL = null_mut();
        let (dest, group_w) = (number.map(wide), group.map(wide));
        let extra = vec![("number", number.into()), ("group", group.into())];
        let (id, r) = self.submit("linePickup", Some(dev), Some(ht), extra, |id| {
            // SAFETY: the line handle, a handle to write, NUL-terminated strings or
            // null.
            unsafe {
                (tspi.linePickup)(
                    id,
                    hd_line,
                    0,
                    ht as HTAPICALL,
                    &mut hd,
                    dest.as_ref().map_or(null(), |d| d.as_ptr()),
                    group_w.as_ref().map_or(null(), |g| g.as_ptr()),
                )
            }
        });
        self.new_call(ht, hd, dev, id, r);
        (ht, id, r)
    }

    /// `lineForward` of all the line's addresses with these entries
    /// (`(LINEFORWARDMODE_*, destination)`); no entries (a null list) cancels
    /// forwarding.
    pub fn forward(
        &mut self,
        dev: u32,
        entries: Option<&[(u32, Option<&str>)]>,
        rings: u32,
    ) -> (u32, i32) {
        let tspi = self.tspi;
        let hd_line = self.hd_line(dev);
        let list = entries.map(structs::forward_list);
        let described: Vec<Value> = entries
            .unwrap_or_default()
            .iter()
            .map(|(m, d)| serde_json::json!({"mode": name_of(names::LINEFORWARDMODE, *m), "dest": d}))
            .collect();
        let extra = vec![("forward", described.into()), ("rings", rings.into())];
        let mut hd_consult: HDRVCALL = null_mut();
        self.submit("lineForward", Some(dev), None, extra, |id| {
            // SAFETY: the line handle, a LINEFORWARDLIST of its dwTotalSize bytes (or
            // null), a handle to write.
            unsafe {
                (tspi.lineForward)(
                    id,
                    hd_line,
                    1,
                    0,
                    list.as_ref()
                        .map_or(null(), |l| l.as_ptr().cast::<LINEFORWARDLIST>()),
                    rings,
                    null_mut(),
                    &mut hd_consult,
                    null(),
                )
            }
        })
    }

    /// `TSPI_lineGenerateDigits` (synchronous; `LINE_GENERATE` with `end_to_end`
    /// reports the end). Returns what it returned.
    pub fn generate_digits(&mut self, ht: usize, digits: &str, mode: u32, end_to_end: u32) -> i32 {
        let hd = self.hd_call(ht);
        let w = wide(digits);
        // SAFETY: the provider's call handle and a NUL-terminated string.
        let r = unsafe { (self.tspi.lineGenerateDigits)(hd, end_to_end, mode, w.as_ptr(), 0) };
        let t = callbacks::now_ms();
        let mut fields = self.where_fields(self.dev_of(ht));
        fields.extend([
            ("fn", "lineGenerateDigits".into()),
            ("call", ht.into()),
            ("digits", digits.into()),
            ("end_to_end", end_to_end.into()),
            ("result", result_name(r).into()),
        ]);
        self.emit(t, "REQUEST", fields);
        r
    }

    // ------------------------------------------------------------------ queries

    /// `TSPI_lineGetCallInfo`, printed as a `CALLINFO` line.
    pub fn call_info(&mut self, ht: usize) -> i32 {
        let hd = self.hd_call(ht);
        let tspi = self.tspi;
        // SAFETY: `grow` passes a buffer of the dwTotalSize it wrote.
        let (r, buf) = grow::<LINECALLINFO>(size_of::<LINECALLINFO>(), |p| unsafe {
            (tspi.lineGetCallInfo)(hd, p)
        });
        self.query("CALLINFO", Some(ht), self.dev_of(ht), r, || {
            structs::call_info(&buf)
        });
        r
    }

    /// `TSPI_lineGetCallStatus`, printed as a `CALLSTATUS` line.
    pub fn call_status(&mut self, ht: usize) -> i32 {
        let hd = self.hd_call(ht);
        let tspi = self.tspi;
        // SAFETY: as in `call_info`.
        let (r, buf) = grow::<LINECALLSTATUS>(size_of::<LINECALLSTATUS>(), |p| unsafe {
            (tspi.lineGetCallStatus)(hd, p)
        });
        self.query("CALLSTATUS", Some(ht), self.dev_of(ht), r, || {
            structs::call_status(&buf)
        });
        r
    }

    /// `TSPI_lineGetAddressStatus`, printed as an `ADDRESSSTATUS` line.
    pub fn address_status(&mut self, dev: u32) -> i32 {
        let hd = self.hd_line(dev);
        let tspi = self.tspi;
        // SAFETY: as in `call_info`.
        let (r, buf) = grow::<LINEADDRESSSTATUS>(size_of::<LINEADDRESSSTATUS>(), |p| unsafe {
            (tspi.lineGetAddressStatus)(hd, 0, p)
        });
        self.query("ADDRESSSTATUS", None, Some(dev), r, || {
            structs::address_status(&buf)
        });
        r
    }

    /// `TSPI_lineGetLineDevStatus`: its result and `dwDevStatusFlags`.
    pub fn dev_status_flags(&self, dev: u32) -> (i32, u32) {
        let hd = self.hd_line(dev);
        let tspi = self.tspi;
        // SAFETY: as in `call_info`.
        let (r, buf) = grow::<LINEDEVSTATUS>(size_of::<LINEDEVSTATUS>(), |p| unsafe {
            (tspi.lineGetLineDevStatus)(hd, p)
        });
        (r, structs::dev_status_flags(&buf))
    }

    /// `TSPI_lineGetLineDevStatus`, printed as a `DEVSTATUS` line.
    pub fn dev_status(&mut self, dev: u32) -> i32 {
        let hd = self.hd_line(dev);
        let tspi = self.tspi;
        // SAFETY: as in `call_info`.
        let (r, buf) = grow::<LINEDEVSTATUS>(size_of::<LINEDEVSTATUS>(), |p| unsafe {
            (tspi.lineGetLineDevStatus)(hd, p)
        });
        self.query("DEVSTATUS", None, Some(dev), r, || {
            structs::dev_status(&buf)
        });
        r
    }

    /// The capabilities read at open, printed as a `DEVCAPS` line.
    pub fn dev_caps(&mut self, dev: u32) {
        let caps = self.line(dev).map(|l| l.caps.fields()).unwrap_or_default();
        self.query("DEVCAPS", None, Some(dev), 0, || caps);
    }

    fn query(
        &mut self,
        msg: &str,
        call: Option<usize>,
        dev: Option<u32>,
        r: i32,
        fields: impl FnOnce() -> Fields,
    ) {
        let t = callbacks::now_ms();
        let mut all = self.where_fields(dev);
        if let Some(call) = call {
            all.push(("call", call.into()));
        }
        all.push(("result", result_name(r).into()));
        if r == 0 {
            all.extend(fields());
        }
        self.emit(t, msg, all);
    }

    /// Prints a line the script asked for (`MARK`, `TIMEOUT`, ...).
    pub fn note(&mut self, msg: &str, fields: Fields) {
        let t = callbacks::now_ms();
        self.emit(t, msg, fields);
    }

    // ------------------------------------------------------------------ shutdown

    /// Closes every call and line, then `TSPI_providerShutdown`; prints `SHUTDOWN`
    /// with how long it took and the process's threads before `TSPI_providerInit`
    /// and after. Reports requests that never completed. Returns the time taken.
    pub fn shutdown(&mut self) -> Duration {
        if self.down {
            return Duration::ZERO;
        }
        self.pump(Duration::ZERO);
        let open: Vec<u32> = self
            .lines
            .iter()
            .filter(|l| l.open)
            .map(|l| l.dev)
            .collect();
        for dev in open {
            self.close_line(dev, "shutdown");
        }
        let start = Instant::now();
        // SAFETY: plain values; nothing of the provider is used after this.
        let r = unsafe { (self.tspi.providerShutdown)(self.version, self.options.provider_id) };
        let took = start.elapsed();
        callbacks::set_shut_down(true);
        self.down = true;
        let after = thread_count();
        // A thread that has just been joined can still be listed for a moment: look
        // again shortly before calling it left behind.
        let mut settled = after;
        let deadline = Instant::now() + Duration::from_millis(200);
        while settled > self.threads_before && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
            settled = thread_count();
        }
        let t = callbacks::now_ms();
        self.emit(
            t,
            "SHUTDOWN",
            vec![
                ("result", result_name(r).into()),
                ("ms", ((took.as_secs_f64() * 1e6).round() / 1e3).into()),
                ("threads_before_init", self.threads_before.into()),
                ("threads_after", after.into()),
                ("threads_after_200ms", settled.into()),
                ("thread_names", thread_names().into()),
            ],
        );
        // Anything still arriving is a violation (the callbacks flag it).
        self.pump(Duration::from_millis(100));
        let open: Vec<u32> = self
            .requests
            .iter()
            .filter(|(id, r)| r.returned == **id as i32 && r.completed.is_none())
            .map(|(id, _)| *id)
            .collect();
        for id in open {
            self.violation(t, "a request never completed", vec![("req", id.into())]);
        }
        took
    }

    /// Whether the provider was shut down.
    pub fn is_down(&self) -> bool {
        self.down
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        // The provider's threads call the host's callbacks: they must be stopped
        // before the host goes.
        if !self.down {
            self.shutdown();
        }
    }
}

#[cfg(test)]
mod tests {
    //! The host against a fake provider that breaks the rules on purpose: the host's
    //! checks must see it. One test: the callbacks' inbox is process-wide.
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static COMPLETION: Mutex<Completion> = Mutex::new(None);
    static EVENT: Mutex<tapi::LINEEVENT> = Mutex::new(None);
    static CREATE: Mutex<tapi::LINEEVENT> = Mutex::new(None);
    static ADDR_CALLS: AtomicUsize = AtomicUsize::new(0);

    type Completion = tapi::ASYNC_COMPLETION;

    unsafe extern "system" fn negotiate(_: u32, _: u32, high: u32, v: *mut u32) -> i32 {
        // SAFETY: the host passes a DWORD.
        unsafe { v.write(high) };
        0
    }

    unsafe extern "system" fn enum_devices(
        _: u32,
        lines: *mut u32,
        phones: *mut u32,
        _: tapi::HPROVIDER,
        create: tapi::LINEEVENT,
        _: tapi::PHONEEVENT,
    ) -> i32 {
        *CREATE.lock().unwrap() = create;
        // SAFETY: the host passes DWORDs.
        unsafe {
            lines.write(1);
            phones.write(0);
        }
        0
    }

    #[allow(clippy::too_many_arguments)]
    unsafe extern "system" fn init(
        _: u32,
        _: u32,
        _: u32,
        _: u32,
        _: usize,
        _: usize,
        completion: Completion,
        options: *mut u32,
    ) -> i32 {
        *COMPLETION.lock().unwrap() = completion;
        // SAFETY: the host passes a DWORD.
        unsafe { options.write(0) };
        0
    }

    /// A structure whose variable part is one string, `"20N"` for device `100 + N`.
    fn fill(buf: *mut u8, fixed: usize, size_at: usize, text: &str) {
        let bytes: Vec<u8> = text
            .encode_utf16()
            .chain([0])
            .flat_map(u16::to_le_bytes)
            .collect();
        let needed = fixed + bytes.len();
        // SAFETY: the host's buffer of dwTotalSize bytes, at least `fixed`.
        let b = unsafe {
            let total = buf.cast::<u32>().read_unaligned() as usize;
            std::slice::from_raw_parts_mut(buf, total)
        };
        b[4..8].copy_from_slice(&(needed as u32).to_le_bytes());
        if b.len() >= needed {
            b[fixed..needed].copy_from_slice(&bytes);
            b[size_at..size_at + 4].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
            b[size_at + 4..size_at + 8].copy_from_slice(&(fixed as u32).to_le_bytes());
        }
    }

    unsafe extern "system" fn dev_caps(_: u32, _: u32, _: u32, p: *mut LINEDEVCAPS) -> i32 {
        fill(
            p.cast(),
            size_of::<LINEDEVCAPS>(),
            std::mem::offset_of!(LINEDEVCAPS, dwLineNameSize),
            "line",
        );
        0
    }

    unsafe extern "system" fn address_caps(
        dev: u32,
        _: u32,
        _: u32,
        _: u32,
        p: *mut LINEADDRESSCAPS,
    ) -> i32 {
        ADDR_CALLS.fetch_add(1, Ordering::SeqCst);
        fill(
            p.cast(),
            size_of::<LINEADDRESSCAPS>(),
            std::mem::offset_of!(LINEADDRESSCAPS, dwAddressSize),
            &format!("{}", dev + 101),
        );
        0
    }

    unsafe extern "system" fn open(
        dev: u32,
        _: tapi::HTAPILINE,
        hd: *mut HDRVLINE,
        _: u32,
        event: tapi::LINEEVENT,
    ) -> i32 {
        *EVENT.lock().unwrap() = event;
        // SAFETY: the host passes a handle to write.
        unsafe { hd.write((dev as usize + 1) as HDRVLINE) };
        0
    }

    /// lineMakeCall that sends LINE_CALLSTATE before completing, then completes
    /// twice.
    unsafe extern "system" fn make_call(
        id: u32,
        _: HDRVLINE,
        ht: HTAPICALL,
        hd: *mut HDRVCALL,
        _: *const u16,
        _: u32,
        _: *const tapi::LINECALLPARAMS,
    ) -> i32 {
        // SAFETY: the host passes a handle to write.
        unsafe { hd.write(0x77 as HDRVCALL) };
        let event = EVENT.lock().unwrap().unwrap();
        let done = COMPLETION.lock().unwrap().unwrap();
        // SAFETY: the host's callbacks; htLine 0x1000 is the first line's.
        unsafe {
            event(
                0x1000 as tapi::HTAPILINE,
                ht,
                tapi::msg::CALLSTATE,
                tapi::LINECALLSTATE_DIALTONE as usize,
                0,
                0,
            );
            done(id, 0);
            done(id, 0);
        }
        id as i32
    }

    unsafe extern "system" fn line_ok(_: HDRVLINE, _: u32, _: u32) -> i32 {
        0
    }

    unsafe extern "system" fn media_ok(_: HDRVLINE, _: u32) -> i32 {
        0
    }

    unsafe extern "system" fn create_ok(_: usize, _: u32) -> i32 {
        0
    }

    unsafe extern "system" fn call_ok(_: HDRVCALL) -> i32 {
        0
    }

    unsafe extern "system" fn close_ok(_: HDRVLINE) -> i32 {
        0
    }

    unsafe extern "system" fn shutdown_ok(_: u32, _: u32) -> i32 {
        0
    }

    #[test]
    fn test_host_sees_contract_violations() {
        let mut tspi = Tspi::linked();
        tspi.lineNegotiateTSPIVersion = negotiate;
        tspi.providerEnumDevices = enum_devices;
        tspi.providerInit = init;
        tspi.lineGetDevCaps = dev_caps;
        tspi.lineGetAddressCaps = address_caps;
        tspi.lineOpen = open;
        tspi.lineMakeCall = make_call;
        tspi.lineSetStatusMessages = line_ok;
        tspi.lineSetDefaultMediaDetection = media_ok;
        tspi.providerCreateLineDevice = create_ok;
        tspi.lineCloseCall = call_ok;
        tspi.lineClose = close_ok;
        tspi.providerShutdown = shutdown_ok;
        let options = Options {
            provider_id: 77,
            device_id_base: 100,
        };
        let mut host = Host::start(tspi, options, Output::quiet()).unwrap();
        // The address caps were asked twice: the fixed size, then dwNeededSize.
        assert_eq!(ADDR_CALLS.load(Ordering::SeqCst), 2);
        assert_eq!(host.lines()[0].caps.address, "201");
        assert_eq!(host.lines()[0].caps.name, "line");
        assert_eq!(host.line_by_address("201").map(|l| l.dev), Some(100));

        let (ht, id, r) = host.make_call(100, Some("202"));
        assert_eq!(r, id as i32);
        host.pump(Duration::from_millis(200));
        let what: Vec<String> = host
            .out
            .lines()
            .iter()
            .filter(|l| l["msg"] == "VIOLATION")
            .map(|l| l["what"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            what,
            [
                "a call message before the request that created the call completed",
                "a request completed twice",
            ]
        );
        assert_eq!(
            host.call(ht).map(|c| c.state),
            Some(tapi::LINECALLSTATE_DIALTONE)
        );

        // A new call from the provider gets the next htCall; IDLE closes it.
        let event = EVENT.lock().unwrap().unwrap();
        let mut written: HTAPICALL = null_mut();
        // SAFETY: the host's callback, with a place for the handle.
        unsafe {
            event(
                0x1000 as tapi::HTAPILINE,
                null_mut(),
                tapi::LINE_NEWCALL,
                0x99,
                (&mut written as *mut HTAPICALL) as usize,
                0,
            );
        }
        let new = written as usize;
        assert_eq!(new, ht + 1);
        // SAFETY: as above.
        unsafe {
            event(
                0x1000 as tapi::HTAPILINE,
                written,
                tapi::msg::CALLSTATE,
                tapi::LINECALLSTATE_IDLE as usize,
                0,
                0,
            );
        }
        host.pump(Duration::from_millis(200));
        assert!(host.call(new).is_some_and(|c| c.closed));

        // LINE_CREATE: the host gives the next device ID and opens the line.
        let create = CREATE.lock().unwrap().unwrap();
        // SAFETY: the host's callback.
        unsafe { create(null_mut(), null_mut(), tapi::msg::CREATE, H_PROVIDER, 5, 0) };
        host.pump(Duration::from_millis(200));
        let created: Vec<&Value> = host
            .out
            .lines()
            .iter()
            .filter(|l| l["msg"] == "CREATELINEDEVICE" || l["msg"] == "OPEN")
            .collect();
        assert_eq!(created.len(), 3, "{created:?}");
        assert_eq!(created[1]["temp_id"], 5);
        assert_eq!(created[1]["dev"], 101);
        assert_eq!(created[2]["addr"], "202");
        assert_eq!(created[2]["result"], "0");

        // Shutdown: the made call's request completed; nothing is left open.
        host.shutdown();
        let last: Vec<&str> = host
            .out
            .lines()
            .iter()
            .filter_map(|l| l["msg"].as_str())
            .filter(|m| *m == "VIOLATION")
            .collect();
        assert_eq!(last.len(), 2, "no new violation at shutdown");
    }
}
