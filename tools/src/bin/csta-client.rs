//! `csta-client`: a CSTA application on the command line, for trying the server out
//! and for scripts.
//!
//! ```text
//! csta-client [--user U --password P] [--edition ed5] [--duration S] [--monitor DEV]... ADDR
//! ```
//!
//! It connects to ADDR (CSTA XML over TCP, ECMA-323 Annex J.2 framing), opens an
//! ECMA-354 application session with the user and password, starts a monitor on every
//! `--monitor` device, and keeps the session alive. Each line of standard input is one
//! CSTA request, as JSON (`{"MakeCall":{"callingDevice":{"id":"201"},
//! "calledDirectoryNumber":{"id":"202"}}}`, the mapping `csta-decode` prints) or as
//! XML; it is sent with the next invokeID. Every message received is printed as one
//! line of JSON, `{"invokeID":"0003","message":{...}}`; lines the tool itself
//! writes are `{"sent":"0003"}` for each request and `{"error":"..."}` for a line that
//! does not decode.
//!
//! At the end of standard input the session is stopped (StopApplicationSession) and
//! the tool exits 0; it exits 1 when the session is refused or the server closes the
//! connection, 2 on bad usage.

use std::io::{self, BufRead, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use csta_core::Edition;
use csta_core::framing::{self, FrameReader, InvokeId};
use csta_core::message::monitor::{MonitorObject, MonitorStart};
use csta_core::message::session::{
    ApplicationInfo, ApplicationSpecificInfo, ProtocolVersions, ResetApplicationSessionTimer,
    StartApplicationSession, StopApplicationSession, StopApplicationSessionPosResponse,
};
use csta_core::message::{self, Message};
use csta_core::types::{CrossRefId, DeviceId};
use csta_core::xml::Text;

const USAGE: &str = "\
usage: csta-client [options] ADDR

Opens an ECMA-354 application session with the CSTA server at ADDR (host:port,
CSTA XML over TCP), then sends each line of standard input as a CSTA request
(JSON as csta-decode prints it, or XML) and prints every message received as a
line of JSON.

options:
  --user U        the application session's user name
  --password P    its password
  --edition EDN   the ECMA-323 edition to speak: ed3, ed4, ed5 (default) or ed6
  --duration S    the session duration asked for, in seconds (default 60); the
                  session timer is reset at half of what the server grants
  --monitor DEV   start a monitor on DEV once the session is open (repeatable)
  -h, --help      show this text

exit status: 0 standard input ended and the session was stopped; 1 the session
was refused or the connection failed; 2 bad usage";

/// The largest frame accepted from the server.
const MAX_FRAME: usize = 1 << 20;
/// Room for one encoded request or one message's JSON.
const BUFFER: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Options {
    addr: String,
    user: Option<String>,
    password: Option<String>,
    edition: Edition,
    duration: u32,
    monitors: Vec<String>,
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(Some(o)) => o,
        Ok(None) => {
            print_line(USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("csta-client: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("csta-client: {e}");
            ExitCode::from(1)
        }
    }
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Options>, String> {
    let mut o = Options {
        addr: String::new(),
        user: None,
        password: None,
        edition: Edition::Ed5,
        duration: 60,
        monitors: Vec::new(),
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--user" => o.user = Some(value("--user")?),
            "--password" => o.password = Some(value("--password")?),
            "--monitor" => o.monitors.push(value("--monitor")?),
            "--duration" => {
                let v = value("--duration")?;
                o.duration = v
                    .parse()
                    .ok()
                    .filter(|d| *d > 0)
                    .ok_or(format!("--duration: '{v}' is not a number of seconds"))?;
            }
            "--edition" => {
                o.edition = match value("--edition")?.as_str() {
                    "ed3" => Edition::Ed3,
                    "ed4" => Edition::Ed4,
                    "ed5" => Edition::Ed5,
                    "ed6" => Edition::Ed6,
                    other => return Err(format!("unknown edition '{other}' (ed3 to ed6)")),
                }
            }
            s if s.starts_with('-') => return Err(format!("unknown option '{s}'")),
            _ if !o.addr.is_empty() => return Err("more than one address given".into()),
            _ => o.addr = arg,
        }
    }
    if o.addr.is_empty() {
        return Err("no server address given".into());
    }
    Ok(Some(o))
}

/// The connection's sending half, shared by the request loop and the timer thread.
struct Sender {
    stream: Mutex<TcpStream>,
    edition: Edition,
    next: Mutex<u16>,
}

impl Sender {
    /// Sends `message` with the next invokeID (1 to 9998, then around again).
    fn send(&self, message: &Message<'_>) -> Result<InvokeId, String> {
        let id = self.next_id()?;
        self.send_as(id, message)?;
        Ok(id)
    }

    /// Sends an answer with the invokeID of the request it answers.
    fn send_as(&self, id: InvokeId, message: &Message<'_>) -> Result<(), String> {
        let mut body = vec![0u8; BUFFER];
        let n = message
            .encode(self.edition, &mut body)
            .map_err(|e| format!("cannot encode {}: {e}", message.name()))?;
        self.write_frame(id, &body[..n])
    }

    fn send_xml(&self, body: &[u8]) -> Result<InvokeId, String> {
        let id = self.next_id()?;
        self.write_frame(id, body)?;
        Ok(id)
    }

    fn next_id(&self) -> Result<InvokeId, String> {
        let mut next = self.next.lock().map_err(|_| "lock poisoned")?;
        let id = *next;
        *next = if id >= InvokeId::MAX_REQUEST.get() {
            1
        } else {
            id + 1
        };
        Ok(InvokeId::new(id).ok_or("invokeID out of range")?)
    }

    fn write_frame(&self, id: InvokeId, body: &[u8]) -> Result<(), String> {
        let mut frame = vec![0u8; body.len() + framing::HEADER_LEN];
        let n = framing::encode(id, body, &mut frame).map_err(|e| e.to_string())?;
        let mut stream = self.stream.lock().map_err(|_| "lock poisoned")?;
        stream
            .write_all(&frame[..n])
            .map_err(|e| format!("send failed: {e}"))
    }
}

/// What the reader thread tells the main thread.
enum Heard {
    /// The session is open: its ID and duration.
    Started(String, Option<u32>),
    /// The session was refused.
    Refused(String),
    /// The answer to StopApplicationSession came.
    Stopped,
    /// The connection ended.
    Closed(String),
}

fn run(o: &Options) -> Result<(), String> {
    let addr = o
        .addr
        .to_socket_addrs()
        .map_err(|e| format!("{}: {e}", o.addr))?
        .next()
        .ok_or(format!("{}: no address", o.addr))?;
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let reader = stream.try_clone().map_err(|e| e.to_string())?;
    let sender = Arc::new(Sender {
        stream: Mutex::new(stream),
        edition: o.edition,
        next: Mutex::new(1),
    });
    let (heard_tx, heard) = mpsc::channel();
    let echo = Arc::clone(&sender);
    thread::spawn(move || read_loop(reader, &echo, &heard_tx));

    let info = ApplicationSpecificInfo {
        user: o.user.as_deref().map(Text::new),
        password: o.password.as_deref().map(Text::new),
    };
    let mut versions = heapless::Vec::new();
    let _ = versions.push(Text::new(o.edition.namespace()));
    let start = Message::StartApplicationSession(StartApplicationSession {
        application_info: ApplicationInfo {
            application_id: Some(Text::new("csta-client")),
            application_specific_info: (info.user.is_some() || info.password.is_some())
                .then_some(info),
        },
        requested_protocol_versions: Some(ProtocolVersions { versions }),
        requested_session_duration: Some(o.duration),
    });
    sender.send(&start)?;
    let (session, duration) = match heard.recv_timeout(Duration::from_secs(10)) {
        Ok(Heard::Started(id, d)) => (id, d),
        Ok(Heard::Refused(why)) => return Err(format!("session refused: {why}")),
        Ok(Heard::Closed(why)) => return Err(why),
        Ok(Heard::Stopped) | Err(_) => return Err("no answer to StartApplicationSession".into()),
    };

    for device in &o.monitors {
        sender.send(&Message::MonitorStart(MonitorStart {
            monitor_object: MonitorObject::Device(DeviceId::new(device)),
            requested_monitor_filter: None,
            monitor_type: None,
        }))?;
    }

    // Keep the session alive at half the granted duration.
    let period = Duration::from_secs(u64::from(duration.unwrap_or(o.duration).max(2) / 2));
    let timer = Arc::clone(&sender);
    let timer_session = session.clone();
    thread::spawn(move || {
        loop {
            thread::sleep(period);
            let reset = Message::ResetApplicationSessionTimer(ResetApplicationSessionTimer {
                session_id: CrossRefId::new(&timer_session),
                requested_session_duration: None,
            });
            if timer.send(&reset).is_err() {
                break;
            }
        }
    });

    let stdin = io::stdin();
    for line in stdin.lock().lines() {
        let line = line.map_err(|e| format!("standard input: {e}"))?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let sent = if line.starts_with('<') {
            match message::decode(line.as_bytes()) {
                Ok(_) => sender.send_xml(line.as_bytes()),
                Err(e) => Err(format!("not CSTA XML: {e}")),
            }
        } else {
            match csta_core::json::from_slice(line.as_bytes()) {
                Ok(m) => sender.send(&m),
                Err(e) => Err(format!("not a CSTA message in JSON: {e}")),
            }
        };
        match sent {
            Ok(id) => print_line(&format!("{{\"sent\":\"{id}\"}}")),
            Err(e) if e.starts_with("send failed") => return Err(e),
            Err(e) => print_line(&format!("{{\"error\":{}}}", json_string(&e))),
        }
        if let Ok(Heard::Closed(why)) = heard.try_recv() {
            return Err(why);
        }
    }

    let stop = Message::StopApplicationSession(StopApplicationSession {
        session_id: CrossRefId::new(&session),
        session_end_reason: None,
    });
    sender.send(&stop)?;
    loop {
        match heard.recv_timeout(Duration::from_secs(5)) {
            Ok(Heard::Stopped) => break,
            Ok(Heard::Closed(_)) | Err(_) => break,
            Ok(_) => {}
        }
    }
    if let Ok(s) = sender.stream.lock() {
        let _ = s.shutdown(Shutdown::Both);
    }
    Ok(())
}

/// Prints every frame received; answers the server's own StopApplicationSession.
fn read_loop(mut stream: TcpStream, sender: &Sender, heard: &mpsc::Sender<Heard>) {
    let mut frames = FrameReader::new(vec![0u8; MAX_FRAME + framing::HEADER_LEN], MAX_FRAME);
    loop {
        let n = match stream.read(frames.spare()) {
            Ok(0) => {
                let _ = heard.send(Heard::Closed("the server closed the connection".into()));
                return;
            }
            Ok(n) => n,
            Err(e) => {
                let _ = heard.send(Heard::Closed(format!("connection failed: {e}")));
                return;
            }
        };
        frames.commit(n);
        loop {
            let frame = match frames.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    let _ = heard.send(Heard::Closed(format!("broken frame: {e}")));
                    return;
                }
            };
            let id = frame.invoke_id;
            match message::decode(frame.body) {
                Ok(decoded) => {
                    let m = &decoded.message;
                    print_message(id, m);
                    let news = match m {
                        Message::StartApplicationSessionPosResponse(r) => Some(Heard::Started(
                            r.session_id.to_string(),
                            r.actual_session_duration,
                        )),
                        Message::StartApplicationSessionNegResponse(r) => {
                            Some(Heard::Refused(format!("{:?}", r.error_code)))
                        }
                        Message::StopApplicationSessionPosResponse(_) => Some(Heard::Stopped),
                        Message::StopApplicationSession(_) => {
                            // The server ends the session (it is stopping).
                            let ok = Message::StopApplicationSessionPosResponse(
                                StopApplicationSessionPosResponse {},
                            );
                            let _ = sender.send_as(id, &ok);
                            None
                        }
                        _ => None,
                    };
                    if let Some(news) = news {
                        let _ = heard.send(news);
                    }
                }
                Err(e) => print_line(&format!(
                    "{{\"invokeID\":\"{id}\",\"error\":{}}}",
                    json_string(&format!("undecodable message: {e}"))
                )),
            }
        }
    }
}

fn print_message(id: InvokeId, m: &Message<'_>) {
    let mut buf = vec![0u8; BUFFER];
    match csta_core::json::to_slice(m, &mut buf) {
        Ok(n) => print_line(&format!(
            "{{\"invokeID\":\"{id}\",\"message\":{}}}",
            String::from_utf8_lossy(&buf[..n])
        )),
        Err(e) => print_line(&format!(
            "{{\"invokeID\":\"{id}\",\"error\":{}}}",
            json_string(&format!("{} does not fit as JSON: {e}", m.name()))
        )),
    }
}

fn print_line(line: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// `s` as a JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Result<Option<Options>, String> {
        parse_args(s.split_whitespace().map(String::from))
    }

    #[test]
    fn arguments_are_read() {
        let o = args("--user crm --password x --monitor 201 --monitor 202 --edition ed3 h:7001")
            .unwrap()
            .unwrap();
        assert_eq!(o.addr, "h:7001");
        assert_eq!(o.user.as_deref(), Some("crm"));
        assert_eq!(o.monitors, ["201", "202"]);
        assert_eq!(o.edition, Edition::Ed3);
        assert_eq!(o.duration, 60);
        assert_eq!(args("--help").unwrap(), None);
    }

    #[test]
    fn mistakes_are_named() {
        assert_eq!(args("").unwrap_err(), "no server address given");
        assert_eq!(args("--user").unwrap_err(), "--user needs a value");
        assert_eq!(
            args("--edition ed9 a").unwrap_err(),
            "unknown edition 'ed9' (ed3 to ed6)"
        );
        assert_eq!(
            args("--duration 0 a").unwrap_err(),
            "--duration: '0' is not a number of seconds"
        );
        assert_eq!(args("a b").unwrap_err(), "more than one address given");
        assert_eq!(args("--x a").unwrap_err(), "unknown option '--x'");
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
    }
}
