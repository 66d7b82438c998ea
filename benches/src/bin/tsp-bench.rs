//! `tsp-bench`: the TAPI service provider's figures, printed (never a pass/fail).
//!
//! The provider (`ucsta-tsp`, linked in) is driven through its TSPI functions exactly as
//! the Telephony service calls them, against a CSTA server played by a thread of this
//! program on loopback (ECMA-323 Annex J.2 framing, ECMA-354 session, monitors,
//! snapshots, `SwitchingFunctionDevices`):
//!
//! 1. **Start-up of a multi-line instance**: `providerEnumDevices` + `providerInit` +
//!    negotiate / GetDevCaps / `lineOpen` of every line (goal: under 1 s for 1,000
//!    lines), then the time until every line is monitored, snapshotted and reported
//!    `LINEDEVSTATE_INSERVICE`.
//! 2. **Memory per line**: bytes the provider holds (live heap, counted by this
//!    binary's global allocator on every thread but the server's) after start-up,
//!    divided by the lines (goal: under 4 KiB).
//! 3. **Latency**: from the server writing a `DeliveredEvent` to the socket to
//!    `LINE_CALLSTATE` `OFFERING` arriving in the host's `LINEEVENT` callback; p50, p90,
//!    p99, max over the events (goal: p99 under 2 ms on loopback). Each event is
//!    followed by its `ConnectionClearedEvent` (IDLE) and `TSPI_lineCloseCall`.
//!
//! ```text
//! cargo run --release -p sip-benches --bin tsp-bench [-- --lines 1000 --events 5000]
//! ```
#![allow(unsafe_code, clippy::print_stdout)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use csta_core::framing::{self, FrameReader, InvokeId};
use csta_core::message::{Message, decode};
use ucsta_tsp::tapi;
use ucsta_tsp::tspi;
use windows_sys::Win32::Devices::Tapi::{HDRVCALL, HDRVLINE, HTAPICALL, HTAPILINE, LINEDEVCAPS};

// ---------------------------------------------------------------- allocator

static LIVE: AtomicIsize = AtomicIsize::new(0);

thread_local! {
    /// Set on the fake server's thread: its memory is not the provider's.
    static UNCOUNTED: Cell<bool> = const { Cell::new(false) };
}

/// Counts live heap bytes of every thread but the fake server's.
struct LiveBytes;

fn counted() -> bool {
    !UNCOUNTED.try_with(Cell::get).unwrap_or(true)
}

// SAFETY: forwards to `System` unchanged; the counters are atomics and a const
// thread-local without destructor, so counting neither allocates nor recurses. A block
// freed on another thread than the one that allocated it is counted where it is freed;
// the server never hands memory to the provider's threads, so the totals stay exact.
unsafe impl GlobalAlloc for LiveBytes {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if counted() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        // SAFETY: the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if counted() {
            LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        }
        // SAFETY: the caller upholds `dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if counted() {
            LIVE.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        // SAFETY: the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: LiveBytes = LiveBytes;

// ---------------------------------------------------------------- the host's callbacks

/// What the host's callbacks saw.
enum Heard {
    NewCall { hd: usize },
    State { state: u32, at: Instant },
    InService,
    Completion,
}

static HEARD: OnceLock<Mutex<Sender<Heard>>> = OnceLock::new();
static NEXT_HT: AtomicUsize = AtomicUsize::new(1);

fn tell(h: Heard) {
    if let Some(tx) = HEARD.get() {
        let _ = tx.lock().unwrap_or_else(|e| e.into_inner()).send(h);
    }
}

unsafe extern "system" fn line_event(
    _ht_line: HTAPILINE,
    _ht_call: HTAPICALL,
    msg: u32,
    p1: usize,
    p2: usize,
    _p3: usize,
) {
    let at = Instant::now();
    match msg {
        tapi::LINE_NEWCALL => {
            let ht = NEXT_HT.fetch_add(1, Ordering::Relaxed);
            // SAFETY: the provider passes where TAPI writes its call handle.
            unsafe { (p2 as *mut HTAPICALL).write(ht as HTAPICALL) };
            tell(Heard::NewCall { hd: p1 });
        }
        m if m == tapi::msg::CALLSTATE => tell(Heard::State {
            state: p1 as u32,
            at,
        }),
        m if m == tapi::msg::LINEDEVSTATE && p1 as u32 == tapi::LINEDEVSTATE_INSERVICE => {
            tell(Heard::InService)
        }
        _ => {}
    }
}

unsafe extern "system" fn completion(_request: u32, _result: i32) {
    tell(Heard::Completion);
}

// ---------------------------------------------------------------- the fake server

/// Events the bench asks the server to send: (line index, call id, delivered?).
type Push = (usize, String, bool);

fn device(i: usize) -> String {
    format!("sip:{}@bench.example", 1000 + i)
}

fn server(listener: TcpListener, lines: usize, pushes: Receiver<Push>, sent: Sender<Instant>) {
    UNCOUNTED.with(|c| c.set(true));
    let (stream, _) = listener.accept().expect("the provider connects");
    stream.set_nodelay(true).ok();
    let mut writer = stream.try_clone().expect("clone");
    let writer_for_events = stream.try_clone().expect("clone");
    let write = |w: &mut TcpStream, id: InvokeId, body: &str| {
        let mut frame = vec![0; framing::HEADER_LEN + body.len()];
        let n = framing::encode(id, body.as_bytes(), &mut frame).expect("frame");
        w.write_all(&frame[..n]).expect("write");
    };
    // Events come from the bench through a channel, written by a thread of their own.
    std::thread::spawn(move || {
        UNCOUNTED.with(|c| c.set(true));
        let mut w = writer_for_events;
        for (line, call, delivered) in pushes {
            let dev = device(line);
            let body = if delivered {
                format!(
                    "<DeliveredEvent><monitorCrossRefID>m{line}</monitorCrossRefID><connection><callID>{call}</callID><deviceID>{dev}</deviceID></connection><alertingDevice><deviceIdentifier>{dev}</deviceIdentifier></alertingDevice><callingDevice><deviceIdentifier>sip:9@bench.example</deviceIdentifier></callingDevice><calledDevice><deviceIdentifier>{dev}</deviceIdentifier></calledDevice><localConnectionInfo>alerting</localConnectionInfo><cause>newCall</cause></DeliveredEvent>"
                )
            } else {
                format!(
                    "<ConnectionClearedEvent><monitorCrossRefID>m{line}</monitorCrossRefID><droppedConnection><callID>{call}</callID><deviceID>{dev}</deviceID></droppedConnection><releasingDevice><deviceIdentifier>{dev}</deviceIdentifier></releasingDevice><localConnectionInfo>null</localConnectionInfo><cause>normalClearing</cause></ConnectionClearedEvent>"
                )
            };
            let mut frame = vec![0; framing::HEADER_LEN + body.len()];
            let n = framing::encode(InvokeId::EVENT, body.as_bytes(), &mut frame).expect("frame");
            let at = Instant::now();
            w.write_all(&frame[..n]).expect("write");
            if delivered {
                let _ = sent.send(at);
            }
        }
    });
    let index: HashMap<String, usize> = (0..lines).map(|i| (device(i), i)).collect();
    let mut reader = FrameReader::new(vec![0u8; framing::MAX_FRAME_LEN], framing::MAX_FRAME_LEN);
    let mut stream = stream;
    let mut next_request = 1u16;
    loop {
        let n = match stream.read(reader.spare()) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        reader.commit(n);
        while let Ok(Some(frame)) = reader.next_frame() {
            let id = frame.invoke_id;
            let body = frame.body.to_vec();
            let Ok(decoded) = decode(&body) else { continue };
            let ns354 = "http://www.ecma-international.org/standards/ecma-354/appl_session";
            let ed3 = "http://www.ecma-international.org/standards/ecma-323/csta/ed3";
            match decoded.message {
                Message::StartApplicationSession(_) => write(
                    &mut writer,
                    id,
                    &format!(
                        "<StartApplicationSessionPosResponse xmlns=\"{ns354}\"><sessionID>b1</sessionID><actualProtocolVersion>{ed3}</actualProtocolVersion><actualSessionDuration>3600</actualSessionDuration></StartApplicationSessionPosResponse>"
                    ),
                ),
                Message::ResetApplicationSessionTimer(_) => write(
                    &mut writer,
                    id,
                    &format!("<ResetApplicationSessionTimerPosResponse xmlns=\"{ns354}\"/>"),
                ),
                Message::SystemRegister(_) => write(
                    &mut writer,
                    id,
                    "<SystemRegisterResponse><sysStatRegisterID>r1</sysStatRegisterID></SystemRegisterResponse>",
                ),
                Message::GetSwitchingFunctionDevices(_) => {
                    write(
                        &mut writer,
                        id,
                        "<GetSwitchingFunctionDevicesResponse><serviceCrossRefID>d1</serviceCrossRefID></GetSwitchingFunctionDevicesResponse>",
                    );
                    let chunks: Vec<Vec<usize>> = (0..lines)
                        .collect::<Vec<_>>()
                        .chunks(32)
                        .map(<[usize]>::to_vec)
                        .collect();
                    let last = chunks.len().saturating_sub(1);
                    for (n, chunk) in chunks.iter().enumerate() {
                        let entries: String = chunk
                            .iter()
                            .map(|i| {
                                format!(
                                    "<deviceEntry><deviceID>{}</deviceID></deviceEntry>",
                                    device(*i)
                                )
                            })
                            .collect();
                        let body = format!(
                            "<SwitchingFunctionDevices><serviceCrossRefID>d1</serviceCrossRefID><segmentID>{n}</segmentID><lastSegment>{}</lastSegment><deviceList>{entries}</deviceList></SwitchingFunctionDevices>",
                            n == last
                        );
                        write(
                            &mut writer,
                            InvokeId::new(next_request).unwrap_or(InvokeId::MAX_REQUEST),
                            &body,
                        );
                        next_request = next_request % 9998 + 1;
                    }
                }
                Message::MonitorStart(m) => {
                    let dev = match &m.monitor_object {
                        csta_core::message::monitor::MonitorObject::Device(d) => d.id.to_string(),
                        csta_core::message::monitor::MonitorObject::Call(_) => String::new(),
                    };
                    let i = index.get(&dev).copied().unwrap_or(usize::MAX);
                    write(
                        &mut writer,
                        id,
                        &format!(
                            "<MonitorStartResponse><monitorCrossRefID>m{i}</monitorCrossRefID><monitorExistingCalls>true</monitorExistingCalls></MonitorStartResponse>"
                        ),
                    );
                }
                Message::SnapshotDevice(_) => write(
                    &mut writer,
                    id,
                    "<SnapshotDeviceResponse><crossRefIDorSnapshotData><snapshotData/></crossRefIDorSnapshotData></SnapshotDeviceResponse>",
                ),
                Message::GetDoNotDisturb(_) => write(
                    &mut writer,
                    id,
                    "<GetDoNotDisturbResponse><doNotDisturbOn>false</doNotDisturbOn></GetDoNotDisturbResponse>",
                ),
                Message::GetForwarding(_) => write(&mut writer, id, "<GetForwardingResponse/>"),
                _ => {}
            }
        }
    }
}

// ---------------------------------------------------------------- the bench

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    let mut lines = 1000usize;
    let mut events = 5000usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--lines" => lines = args.next().and_then(|v| v.parse().ok()).unwrap_or(lines),
            "--events" => events = args.next().and_then(|v| v.parse().ok()).unwrap_or(events),
            _ => {
                eprintln!("usage: tsp-bench [--lines N] [--events N]");
                std::process::exit(2);
            }
        }
    }
    let lines = lines.max(1);
    let (heard_tx, heard) = mpsc::channel();
    HEARD.get_or_init(|| Mutex::new(heard_tx));

    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (push_tx, push_rx) = mpsc::channel::<Push>();
    let (sent_tx, sent_rx) = mpsc::channel();
    std::thread::spawn(move || server(listener, lines, push_rx, sent_tx));

    // The instance's configuration and its stored device list (so that
    // providerEnumDevices knows the lines before the link is up, as after a restart).
    let dir = std::env::temp_dir().join(format!("tsp-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(
        dir.join("provider-1.conf"),
        format!("role = multi-line\nserver = 127.0.0.1\nport = {port}\nuser = bench\npassword = x\nmax_outstanding = 64\nlog_level = warn\n"),
    )
    .expect("config");
    let list: String = (0..lines).map(|i| device(i) + "\n").collect();
    std::fs::write(dir.join("provider-1.devices"), list).expect("devices");
    // SAFETY: single-threaded so far apart from the server thread, which reads no
    // environment.
    unsafe { std::env::set_var("UCSTA_TSP_CONFIG_DIR", &dir) };

    let baseline = LIVE.load(Ordering::Relaxed);
    let start = Instant::now();
    let mut version = 0u32;
    let mut n_lines = 0u32;
    let mut n_phones = 0u32;
    let mut options = 0u32;
    let base = 0u32;
    let mut hd_lines: Vec<HDRVLINE> = Vec::with_capacity(lines);
    // SAFETY: the TSPI as TAPISRV calls it: valid out-pointers, callbacks that live for
    // the program.
    unsafe {
        tspi::TSPI_lineNegotiateTSPIVersion(
            tapi::INITIALIZE_NEGOTIATION,
            0x0001_0004,
            0x0002_0002,
            &mut version,
        );
        tspi::TSPI_providerEnumDevices(
            1,
            &mut n_lines,
            &mut n_phones,
            std::ptr::null_mut(),
            Some(line_event),
            None,
        );
        tspi::TSPI_providerInit(
            version,
            1,
            base,
            0,
            n_lines as usize,
            0,
            Some(completion),
            &mut options,
        );
        let mut caps = vec![0u8; 1024];
        for dev in base..base + n_lines {
            let mut v = 0u32;
            tspi::TSPI_lineNegotiateTSPIVersion(dev, 0x0001_0004, 0x0002_0002, &mut v);
            caps[..4].copy_from_slice(&1024u32.to_le_bytes());
            tspi::TSPI_lineGetDevCaps(dev, v, 0, caps.as_mut_ptr().cast::<LINEDEVCAPS>());
            let mut hd: HDRVLINE = std::ptr::null_mut();
            let r = tspi::TSPI_lineOpen(
                dev,
                (dev as usize + 1) as HTAPILINE,
                &mut hd,
                v,
                Some(line_event),
            );
            assert_eq!(r, 0, "lineOpen {dev}");
            tspi::TSPI_lineSetStatusMessages(
                hd,
                tapi::LINEDEVSTATE_INSERVICE | tapi::LINEDEVSTATE_OUTOFSERVICE,
                0,
            );
            hd_lines.push(hd);
        }
    }
    let opened = start.elapsed();
    let mut in_service = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while in_service < n_lines {
        match heard.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(Heard::InService) => in_service += 1,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let synced = start.elapsed();
    // Let the last answers settle before reading the heap.
    std::thread::sleep(Duration::from_millis(200));
    let held = LIVE.load(Ordering::Relaxed) - baseline;

    println!("tsp-bench: {n_lines} multi-line lines, loopback CSTA server thread");
    println!(
        "  providerEnumDevices + providerInit + {n_lines} x (negotiate, GetDevCaps, lineOpen): {:.1} ms (goal < 1000 ms)",
        opened.as_secs_f64() * 1e3
    );
    println!(
        "  until every line is monitored, snapshotted and INSERVICE: {:.1} ms ({in_service} of {n_lines})",
        synced.as_secs_f64() * 1e3
    );
    println!(
        "  memory held by the provider: {} KiB, {:.0} bytes per line (goal < 4096)",
        held / 1024,
        held as f64 / f64::from(n_lines.max(1))
    );

    // Latency: one event at a time.
    let mut latencies = Vec::with_capacity(events);
    for n in 0..events {
        let line = n % lines;
        let call = format!("c{n}");
        push_tx.send((line, call.clone(), true)).expect("server");
        let sent = sent_rx.recv().expect("sent");
        let mut hd_call = 0usize;
        loop {
            match heard
                .recv_timeout(Duration::from_secs(5))
                .expect("OFFERING in time")
            {
                Heard::NewCall { hd } => hd_call = hd,
                Heard::State { state, at } if state == tapi::LINECALLSTATE_OFFERING => {
                    latencies.push(at.saturating_duration_since(sent));
                    break;
                }
                _ => {}
            }
        }
        push_tx.send((line, call, false)).expect("server");
        let _ = sent_rx.try_recv();
        loop {
            match heard
                .recv_timeout(Duration::from_secs(5))
                .expect("IDLE in time")
            {
                Heard::State { state, .. } if state == tapi::LINECALLSTATE_IDLE => break,
                _ => {}
            }
        }
        // SAFETY: the handle the provider gave in LINE_NEWCALL.
        unsafe { tspi::TSPI_lineCloseCall(hd_call as HDRVCALL) };
    }
    latencies.sort();
    if !latencies.is_empty() {
        println!(
            "  DeliveredEvent written by the server -> LINE_CALLSTATE OFFERING in LINEEVENT, {} events: p50 {:.0} us, p90 {:.0} us, p99 {:.0} us, max {:.0} us (goal p99 < 2000 us)",
            latencies.len(),
            us(percentile(&latencies, 0.5)),
            us(percentile(&latencies, 0.9)),
            us(percentile(&latencies, 0.99)),
            us(*latencies.last().unwrap_or(&Duration::ZERO)),
        );
    }
    let t = Instant::now();
    // SAFETY: as above.
    unsafe {
        for hd in &hd_lines {
            tspi::TSPI_lineClose(*hd);
        }
        tspi::TSPI_providerShutdown(version, 1);
    }
    println!(
        "  lineClose of every line + providerShutdown (threads joined): {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let _ = std::fs::remove_dir_all(&dir);
}
