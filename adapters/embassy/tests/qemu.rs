//! End to end: the gateway firmware (`examples/gateway-mps2-an386`, line 201) in QEMU's
//! `mps2-an386` against the real `csta-server`, with `phone-sim` phones 202 and 203
//! and a CSTA application over TCP (ECMA-323 Annex J.2 framing, ECMA-354 session,
//! logged in as `demo`) that monitors 201, 202 and 203.
//!
//! At each step the application checks the exact events of every monitored device
//! (names and causes in order, callIDs, calling, called and alerting devices), the
//! server's view (SnapshotDevice, GetDoNotDisturb, GetForwarding) and the handset's
//! display (the firmware's UART lines). First the handset answers 50 `status` lines
//! typed one after another, then:
//!
//! 1. MakeCall from the gateway to 202, answered at 202, cleared there;
//! 2. a call from 202 answered at the gateway with AnswerCall;
//! 3. HoldCall and RetrieveCall of it at the gateway;
//! 4. SingleStepTransferCall of it by the gateway to 203;
//! 5. do-not-disturb and immediate forwarding set by CSTA (and what a call to the
//!    gateway then meets: busy, diverted to 203) and on the handset (`dnd on`,
//!    `forward immediate 203`);
//! 6. `offhook` and `dial 202` on the handset, answered at 202, `onhook`;
//! 7. the gateway rebooted (QEMU killed and started again): the session comes back
//!    and the application's monitor works again;
//! 8. a lost network: the server killed while the gateway's registration refresh falls
//!    due (its registration is kept short: 20 s, refreshed after 10), started again:
//!    the server opens the session from its stored binding, a retransmission of the
//!    refresh registers the gateway again, a new application session monitors and
//!    calls again.
//!
//! A second test boots the gateway with SIP over TCP (`transport=tcp`: one connection
//! to the server, which listens for SIP on TCP too) and a registration of an hour:
//!
//! 1. the connection (`link up`), the REGISTER over it and the session come up, and a
//!    MakeCall from the gateway to 202, answered at 202, is cleared at the gateway;
//! 2. the server is killed: the connection is lost (`link down retry_in=1`), the
//!    next attempt is refused (`retry_in=2`); meanwhile the handset answers `status`
//!    and a call typed on it fails at once (503, the session with it); the server is
//!    started again before the next attempt, which registers at once on the new
//!    connection (not at the refresh half an hour away) and gets a new session;
//! 3. a MakeCall from the gateway to 203, answered and cleared at 203.
//!
//! They print the boot-to-registered time (wall clock, from QEMU's start to the UART's
//! `registered` line), the reconnection's times (TCP), the time from each CSTA
//! request to its answer at the client, and the firmware's stack peaks (semihosting
//! log).
//!
//! Ignored by default (they need `qemu-system-arm`); CI runs them, one after the
//! other, in a network namespace with only loopback (`scripts/ci.sh`):
//!
//! ```text
//! cargo test -p ucsta-embassy --test qemu -- --ignored --nocapture --test-threads 1
//! ```
//!
//! `GATEWAY_ELF` names the firmware (otherwise it is built, `cargo build --release` in
//! its directory). Every server listens on loopback at a free port (SIP on UDP and
//! TCP at the same one); QEMU forwards a free port to the guest's SIP port, a new one
//! each boot. Every process is killed by its id when its test ends, however it ends.
//!
//! For debugging: `QEMU_E2E_TRACE=1` prints every CSTA message and UART line as it
//! comes, `QEMU_E2E_KEEP=1` keeps the temporary directory (the processes' output; kept
//! anyway when the test fails), `QEMU_E2E_SERVER_LOG=debug` is the server's `--log`,
//! `QEMU_E2E_LEARN=1` prints the events of each step instead of checking them.

use std::cell::Cell;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use csta_core::framing::{self, FrameReader, InvokeId};
use csta_core::{json, message};
use serde_json::Value;

/// The longest one wait may take.
const WAIT: Duration = Duration::from_secs(10);
/// How long to look for events beyond those expected (none may come).
const GRACE: Duration = Duration::from_millis(300);
/// The whole UDP scenario, after the builds.
const BUDGET: Duration = Duration::from_secs(110);
/// The registration the gateway asks for: short, so that it registers again soon
/// after the server comes back (the refresh goes out after half of it).
const GATEWAY_EXPIRES: u32 = 20;
const ED5: &str = "http://www.ecma-international.org/standards/ecma-323/csta/ed5";
const DEVICES: [&str; 3] = ["201", "202", "203"];

fn env_flag(name: &str) -> bool {
    std::env::var_os(name).is_some()
}

fn trace() -> bool {
    env_flag("QEMU_E2E_TRACE")
}

thread_local! {
    /// When the running scenario must be over (each test runs on one thread).
    static END: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Starts a scenario's clock: it must be over within `budget` from now.
fn start_clock(budget: Duration) {
    END.set(Some(Instant::now() + budget));
}

/// When the scenario must be over; every wait ends by then.
fn deadline() -> Instant {
    END.get().expect("start_clock first")
}

/// The end of a wait of `d` from now, never after the [`deadline`].
fn until(d: Duration) -> Instant {
    (Instant::now() + d).min(deadline())
}

// ------------------------------------------------------------------ processes

/// A started process, killed (by its id) and reaped when dropped.
struct Proc {
    name: String,
    child: Child,
}

impl Proc {
    fn spawn(name: &str, cmd: &mut Command) -> Proc {
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc {
            name: name.to_owned(),
            child,
        }
    }

    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if trace() {
            eprintln!("stopped {} (pid {})", self.name, self.child.id());
        }
    }
}

/// A port free for UDP and TCP on 127.0.0.1 right now, not handed out before by this
/// test process.
fn free_port() -> u16 {
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        let mut given = GIVEN.lock().unwrap();
        if !given.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.push(port);
            return port;
        }
    }
}

/// A cargo command without the variables cargo set for this test (they would make
/// build scripts that watch them run again).
fn cargo() -> Command {
    let mut c = Command::new(env!("CARGO"));
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if k.starts_with("CARGO_")
            && !matches!(&*k, "CARGO_HOME" | "CARGO_TARGET_DIR" | "CARGO_NET_OFFLINE")
        {
            c.env_remove(&*k);
        }
    }
    c
}

/// `csta-server` or `phone-sim` from this workspace, built once per test process
/// (cargo knows when they are up to date).
fn workspace_bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let status = cargo()
            .args(["build", "-p", "csta-server", "--bin", "csta-server"])
            .args(["-p", "phone-sim", "--bin", "phone-sim"])
            .status()
            .expect("cargo build");
        assert!(status.success(), "cannot build csta-server and phone-sim");
    });
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(path.exists(), "no {}", path.display());
    path
}

/// The firmware: `GATEWAY_ELF`, or built in its own workspace.
fn gateway_elf() -> PathBuf {
    if let Some(p) = std::env::var_os("GATEWAY_ELF") {
        let p = PathBuf::from(p);
        assert!(p.exists(), "GATEWAY_ELF={} does not exist", p.display());
        return p;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/gateway-mps2-an386");
    let status = cargo()
        .env_remove("CARGO_TARGET_DIR")
        .args(["build", "--release"])
        .current_dir(&dir)
        .status()
        .expect("cargo build (firmware)");
    assert!(status.success(), "cannot build the firmware");
    dir.join("target/thumbv7em-none-eabihf/release/gateway-mps2-an386")
}

fn file(path: &Path) -> Stdio {
    std::fs::File::create(path).unwrap().into()
}

// ------------------------------------------------------------------ the server and the phones

/// The server, the phones and their files.
struct Env {
    dir: tempfile::TempDir,
    sip: u16,
    clients: u16,
    server: Option<Proc>,
    /// How many times the server was started.
    starts: u32,
    phones: Vec<Proc>,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::Builder::new()
            .prefix("ucsta-qemu-e2e-")
            .tempdir()
            .unwrap();
        let env = Env {
            dir,
            sip: free_port(),
            clients: free_port(),
            server: None,
            starts: 0,
            phones: Vec::new(),
        };
        let mut text = format!(
            "data_dir = {:?}\n\n[sip]\ndomain = \"localhost\"\nudp = [\"127.0.0.1:{sip}\"]\ntcp = [\"127.0.0.1:{sip}\"]\n\n\
             [clients]\ntcp = \"127.0.0.1:{}\"\nwebsocket = false\ntls = false\n\n\
             [http]\nlisten = false\n\n[timers]\nregistration_min_expires = 10\n\n\
             [[client_users]]\nname = \"demo\"\npassword = \"demo-secret\"\ndevices = [\"*\"]\n",
            env.path("data").display().to_string(),
            env.clients,
            sip = env.sip,
        );
        for user in DEVICES {
            text.push_str(&format!(
                "\n[[users]]\nname = \"{user}\"\npassword = \"secret-{user}\"\n\n\
                 [[csta_lines]]\naor = \"sip:{user}@localhost\"\nauth_user = \"{user}\"\n\
                 auth_password = \"secret-{user}\"\n"
            ));
        }
        std::fs::write(env.path("server.toml"), text).unwrap();
        env
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn server_log(&self) -> PathBuf {
        self.path(&format!("server{}.err", self.starts - 1))
    }

    /// Starts the server and waits until its client port accepts.
    fn start_server(&mut self) {
        let n = self.starts;
        self.starts += 1;
        let log = std::env::var("QEMU_E2E_SERVER_LOG").unwrap_or_else(|_| "info".into());
        let proc = Proc::spawn(
            "csta-server",
            Command::new(workspace_bin("csta-server"))
                .arg("--config")
                .arg(self.path("server.toml"))
                .args(["--log", &log])
                .stdin(Stdio::null())
                .stdout(file(&self.path(&format!("server{n}.out"))))
                .stderr(file(&self.path(&format!("server{n}.err")))),
        );
        let server = self.server.insert(proc);
        let end = until(WAIT);
        while TcpStream::connect(("127.0.0.1", self.clients)).is_err() {
            assert!(server.running(), "csta-server exited");
            assert!(Instant::now() < end, "csta-server does not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server (SIGKILL, by its id): no goodbye to anyone.
    fn kill_server(&mut self) {
        self.server = None;
    }

    /// Starts an idle phone-sim phone, CSTA-controlled through the server.
    fn phone(&mut self, user: &str) {
        let script = self.path(&format!("{user}.script"));
        std::fs::write(&script, "wait registered 10s\nsleep 600s\n").unwrap();
        let proc = Proc::spawn(
            &format!("phone-sim {user}"),
            Command::new(workspace_bin("phone-sim"))
                .args(["--server", &format!("127.0.0.1:{}", self.sip)])
                .args(["--user", user, "--password", &format!("secret-{user}")])
                .arg("--script")
                .arg(&script)
                .stdin(Stdio::null())
                .stdout(file(&self.path(&format!("{user}.out"))))
                .stderr(file(&self.path(&format!("{user}.err")))),
        );
        self.phones.push(proc);
    }

    /// Waits until the current server's log says `device online aor=sip:USER@localhost`
    /// `count` times for each of `users` (its session is up and its state read).
    fn wait_online(&mut self, users: &[&str], count: usize) {
        let log = self.server_log();
        let end = until(WAIT);
        for u in users {
            let line = format!("device online aor=sip:{u}@localhost");
            loop {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                if text.matches(&line).count() >= count {
                    break;
                }
                for p in &mut self.phones {
                    assert!(p.running(), "{} exited", p.name);
                }
                assert!(
                    Instant::now() < end,
                    "the server does not count {u} online (x{count}):\n{text}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.phones.clear();
        self.server = None;
        if env_flag("QEMU_E2E_KEEP") || std::thread::panicking() {
            let path = self.dir.path().to_path_buf();
            eprintln!("kept {}", path.display());
            std::mem::forget(std::mem::replace(
                &mut self.dir,
                tempfile::tempdir().unwrap(),
            ));
        }
    }
}

// ------------------------------------------------------------------ the gateway in QEMU

/// Lines read from the UART, with the time each came.
type Lines = Arc<(Mutex<Vec<(Instant, String)>>, Condvar)>;

/// One boot of the firmware in QEMU; the UART is its handset.
struct Gateway {
    proc: Option<Proc>,
    stdin: Option<ChildStdin>,
    lines: Lines,
    /// The lines before this one are checked.
    seen: usize,
    started: Instant,
    stderr: PathBuf,
}

impl Gateway {
    /// Starts QEMU (boot `n`) with the firmware as line 201 of the server, SIP over
    /// `transport` (`udp` or `tcp`), asking for a registration of `expires` seconds.
    fn boot(env: &Env, elf: &Path, n: u32, transport: &str, expires: u32) -> Gateway {
        let forwarded = free_port();
        let semihosting = format!(
            "enable=on,target=native,arg=gw,arg=server=10.0.2.2:{},arg=user=201,\
             arg=password=secret-201,arg=domain=localhost,arg=transport={transport},\
             arg=expires={expires},arg=seed={:02x}",
            env.sip,
            n + 1
        );
        let stderr = env.path(&format!("qemu{n}.err"));
        let uart_log = env.path(&format!("qemu{n}.uart"));
        let started = Instant::now();
        let mut proc = Proc::spawn(
            "qemu-system-arm",
            Command::new("qemu-system-arm")
                .args(["-machine", "mps2-an386", "-nographic", "-monitor", "none"])
                .args(["-serial", "stdio", "-semihosting-config", &semihosting])
                .args([
                    "-nic",
                    &format!("user,model=lan9118,hostfwd=udp:127.0.0.1:{forwarded}-10.0.2.15:5060"),
                ])
                .arg("-kernel")
                .arg(elf)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(file(&stderr)),
        );
        let stdout = proc.child.stdout.take().unwrap();
        let stdin = proc.child.stdin.take();
        let lines: Lines = Arc::default();
        let l = lines.clone();
        std::thread::spawn(move || {
            let mut log = std::fs::File::create(uart_log).unwrap();
            for text in BufReader::new(stdout).lines() {
                let Ok(text) = text else { break };
                let text = text.trim_end_matches('\r').to_owned();
                let _ = writeln!(log, "{text}");
                if trace() {
                    eprintln!("uart{n}: {text}");
                }
                l.0.lock().unwrap().push((Instant::now(), text));
                l.1.notify_all();
            }
            l.1.notify_all();
        });
        Gateway {
            proc: Some(proc),
            stdin,
            lines,
            seen: 0,
            started,
            stderr,
        }
    }

    /// Types a line on the handset.
    fn send(&mut self, command: &str) {
        if trace() {
            eprintln!("uart <- {command}");
        }
        let stdin = self.stdin.as_mut().expect("QEMU's stdin");
        stdin.write_all(command.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    fn dump(&self) -> String {
        let lines = self.lines.0.lock().unwrap();
        let uart: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
        format!(
            "UART:\n{}\nsemihosting:\n{}",
            uart.join("\n"),
            std::fs::read_to_string(&self.stderr).unwrap_or_default()
        )
    }

    /// Waits for the first unchecked line that `pick` takes, at most [`WAIT`]; the
    /// lines up to it are checked. Returns it and when it came.
    fn wait_for(&mut self, what: &str, pick: impl Fn(&str) -> bool) -> (Instant, String) {
        let end = until(WAIT);
        let mut lines = self.lines.0.lock().unwrap();
        loop {
            if let Some(i) = lines[self.seen..].iter().position(|(_, l)| pick(l)) {
                let i = self.seen + i;
                self.seen = i + 1;
                return lines[i].clone();
            }
            let now = Instant::now();
            if now >= end || self.proc.as_mut().is_some_and(|p| !p.running()) {
                drop(lines);
                panic!("the gateway did not print {what}\n{}", self.dump());
            }
            lines = self.lines.1.wait_timeout(lines, end - now).unwrap().0;
        }
    }

    /// Waits for a line that is `line` exactly.
    fn wait_line(&mut self, line: &str) -> Instant {
        self.wait_for(&format!("`{line}`"), |l| l == line).0
    }

    /// Waits for each of `want` (exact lines, in any order) among the unchecked lines;
    /// the lines up to the last of them are checked. Returns when each came.
    fn wait_lines(&mut self, want: &[&str]) -> Vec<Instant> {
        let end = until(WAIT);
        let mut lines = self.lines.0.lock().unwrap();
        loop {
            let found: Vec<Option<usize>> = want
                .iter()
                .map(|w| lines[self.seen..].iter().position(|(_, l)| l == w))
                .collect();
            if found.iter().all(Option::is_some) {
                let at: Vec<usize> = found.into_iter().flatten().map(|i| self.seen + i).collect();
                self.seen = at.iter().max().map_or(self.seen, |m| m + 1);
                return at.into_iter().map(|i| lines[i].0).collect();
            }
            let now = Instant::now();
            if now >= end || self.proc.as_mut().is_some_and(|p| !p.running()) {
                drop(lines);
                panic!("the gateway did not print all of {want:?}\n{}", self.dump());
            }
            lines = self.lines.1.wait_timeout(lines, end - now).unwrap().0;
        }
    }

    /// When the handset last showed `line` (checked or not).
    fn last(&self, line: &str) -> Option<Instant> {
        let lines = self.lines.0.lock().unwrap();
        lines.iter().rev().find(|(_, l)| l == line).map(|(t, _)| *t)
    }

    /// Waits until the handset showed exactly `want` as its `call`/`rejected` lines
    /// since the last check (nothing else of the kind comes within [`GRACE`]), and
    /// that nothing went wrong (`warning`, `error`, `fatal` lines).
    fn expect_calls(&mut self, want: &[&str]) {
        self.expect_shown(&["call ", "rejected "], want);
    }

    /// Waits until the handset showed exactly `want` as its lines that start with one
    /// of `kinds`, `warning `, `error ` or `fatal ` since the last check (nothing else
    /// of the kind comes within [`GRACE`]).
    fn expect_shown(&mut self, kinds: &[&str], want: &[&str]) {
        let relevant = |l: &str| {
            kinds
                .iter()
                .chain(&["warning ", "error ", "fatal "])
                .any(|p| l.starts_with(p))
        };
        let end = until(WAIT);
        let mut lines = self.lines.0.lock().unwrap();
        loop {
            let n = lines[self.seen..]
                .iter()
                .filter(|(_, l)| relevant(l))
                .count();
            let now = Instant::now();
            if n >= want.len() || now >= end {
                break;
            }
            lines = self.lines.1.wait_timeout(lines, end - now).unwrap().0;
        }
        drop(lines);
        std::thread::sleep(GRACE);
        let lines = self.lines.0.lock().unwrap();
        let got: Vec<&str> = lines[self.seen..]
            .iter()
            .map(|(_, l)| l.as_str())
            .filter(|l| relevant(l))
            .collect();
        let all: Vec<&str> = lines[self.seen..].iter().map(|(_, l)| l.as_str()).collect();
        if env_flag("QEMU_E2E_LEARN") {
            eprintln!("LEARN uart {got:?}");
        } else {
            assert_eq!(got, want, "the handset's lines:\n{}", all.join("\n"));
        }
        self.seen = lines.len();
    }

    /// The semihosting log's stack peaks (`stack peak while building the phone: N
    /// bytes`, `registered at N ms; stack peak since the phone was built N bytes`),
    /// once the firmware registered.
    fn stack_lines(&self) -> Vec<String> {
        let end = until(WAIT);
        loop {
            let text = std::fs::read_to_string(&self.stderr).unwrap_or_default();
            if text.lines().any(|l| l.starts_with("registered at")) {
                return text
                    .lines()
                    .filter(|l| l.contains("stack peak"))
                    .map(str::to_owned)
                    .collect();
            }
            assert!(
                Instant::now() < end,
                "no `registered at` log line\n{}",
                self.dump()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The deepest the firmware's stack has been while running the line so far, from
    /// the semihosting log (`stack peak now N bytes`, logged whenever it grows).
    fn running_stack_peak(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        text.lines()
            .filter_map(|l| l.strip_prefix("stack peak now "))
            .next_back()
            .map_or_else(|| "not logged".to_owned(), str::to_owned)
    }

    /// Kills QEMU (by its id): the board loses power.
    fn power_off(&mut self) {
        self.stdin = None;
        self.proc = None;
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.power_off();
    }
}

// ------------------------------------------------------------------ the CSTA application

/// One event as the test compares it: `Name` or `Name/cause`.
fn summary(name: &str, body: &Value) -> String {
    match body.get("cause").and_then(Value::as_str) {
        Some(cause) => format!("{name}/{cause}"),
        None => name.to_owned(),
    }
}

/// The CSTA application: a client of the server's CSTA XML interface.
struct Client {
    stream: TcpStream,
    frames: FrameReader<Vec<u8>>,
    next: u16,
    /// monitorCrossRefID → device.
    monitors: HashMap<String, String>,
    /// Events received and not yet checked: (device, name, body).
    events: Vec<(String, String, Value)>,
    /// Answers received and not yet asked for, by invokeID.
    answers: HashMap<u16, (String, Value)>,
    /// How long each request took to its answer: (request, answer, time).
    timings: Vec<(String, String, Duration)>,
}

impl Client {
    /// Connects and opens an application session as `demo`.
    fn connect(port: u16) -> Client {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let stream = TcpStream::connect_timeout(&addr, WAIT).expect("the server's client port");
        stream.set_nodelay(true).unwrap();
        let mut app = Client {
            stream,
            frames: FrameReader::new(vec![0; 70_000], 65_535),
            next: 1,
            monitors: HashMap::new(),
            events: Vec::new(),
            answers: HashMap::new(),
            timings: Vec::new(),
        };
        let id = app.send(
            "<StartApplicationSession xmlns=\"http://www.ecma-international.org/standards/ecma-354/appl_session\">\
             <applicationInfo><applicationID>qemu-e2e</applicationID><applicationSpecificInfo>\
             <userName>demo</userName><password>demo-secret</password></applicationSpecificInfo>\
             </applicationInfo><requestedProtocolVersions><protocolVersion>\
             http://www.ecma-international.org/standards/ecma-323/csta/ed5</protocolVersion>\
             </requestedProtocolVersions><requestedSessionDuration>300</requestedSessionDuration>\
             </StartApplicationSession>",
        );
        let end = until(WAIT);
        loop {
            if let Some((name, body)) = app.answers.remove(&id) {
                assert_eq!(name, "StartApplicationSessionPosResponse", "{body}");
                break;
            }
            assert!(app.read_one(end), "no answer to StartApplicationSession");
        }
        app
    }

    fn send(&mut self, xml: &str) -> u16 {
        let id = self.next;
        self.next += 1;
        let mut frame = vec![0; xml.len() + framing::HEADER_LEN];
        let n = framing::encode(InvokeId::new(id).unwrap(), xml.as_bytes(), &mut frame).unwrap();
        self.stream.write_all(&frame[..n]).unwrap();
        if trace() {
            eprintln!("-> {id} {xml}");
        }
        id
    }

    /// Reads one message if one comes before `until`; files it as event or answer.
    fn read_one(&mut self, until: Instant) -> bool {
        loop {
            if let Some(f) = self.frames.next_frame().unwrap() {
                let decoded = message::decode(f.body).unwrap();
                let mut buf = vec![0u8; 65_536];
                let n = json::to_slice(&decoded.message, &mut buf).unwrap();
                let v: Value = serde_json::from_slice(&buf[..n]).unwrap();
                let (name, body) = v.as_object().unwrap().iter().next().unwrap();
                let (name, body) = (name.clone(), body.clone());
                if trace() {
                    eprintln!("<- {} {v}", f.invoke_id.get());
                }
                if f.invoke_id == InvokeId::EVENT {
                    let xref = body["monitorCrossRefID"].as_str().unwrap_or_default();
                    let device = self
                        .monitors
                        .get(xref)
                        .unwrap_or_else(|| panic!("event for a monitor not ours: {v}"))
                        .clone();
                    self.events.push((device, name, body));
                } else {
                    self.answers.insert(f.invoke_id.get(), (name, body));
                }
                return true;
            }
            let now = Instant::now();
            if now >= until {
                return false;
            }
            self.stream.set_read_timeout(Some(until - now)).unwrap();
            match self.stream.read(self.frames.spare()) {
                Ok(0) => panic!("the server closed the client connection"),
                Ok(n) => self.frames.commit(n),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return false;
                }
                Err(e) => panic!("client read: {e}"),
            }
        }
    }

    /// Sends `xml` (a CSTA request, namespace added) and returns its answer.
    fn request(&mut self, xml: &str) -> (String, Value) {
        let space = xml.find(['>', ' ']).unwrap();
        // The request and the device it goes to, for the timings.
        let device = [
            "callingDevice",
            "deviceID",
            "device",
            "snapshotObject",
            "deviceObject",
        ]
        .iter()
        .find_map(|e| {
            let start = xml.find(&format!("<{e}>"))? + e.len() + 2;
            Some(&xml[start..start + xml[start..].find('<')?])
        })
        .unwrap_or("?");
        let request = format!("{} at {device}", &xml[1..space]);
        let xml = format!("{} xmlns=\"{ED5}\"{}", &xml[..space], &xml[space..]);
        let sent = Instant::now();
        let id = self.send(&xml);
        let end = until(WAIT);
        loop {
            if let Some((name, body)) = self.answers.remove(&id) {
                self.timings.push((request, name.clone(), sent.elapsed()));
                return (name, body);
            }
            assert!(self.read_one(end), "no answer to {xml}");
        }
    }

    /// Sends a request that must get `answer`; returns the answer's body.
    fn ok(&mut self, xml: &str, answer: &str) -> Value {
        let (name, body) = self.request(xml);
        assert_eq!(name, answer, "{xml}: {body}");
        body
    }

    /// Starts a monitor of `device`.
    fn monitor(&mut self, device: &str) {
        let body = self.ok(
            &format!(
                "<MonitorStart><monitorObject><deviceObject>{device}</deviceObject></monitorObject></MonitorStart>"
            ),
            "MonitorStartResponse",
        );
        let xref = body["monitorCrossRefID"].as_str().unwrap().to_owned();
        assert!(!self.monitors.contains_key(&xref), "{body}");
        self.monitors.insert(xref, device.to_owned());
    }

    /// Waits for exactly `want` (per device: event summaries in order) and returns the
    /// events' bodies; nothing else may come (within [`GRACE`] after the last).
    fn expect(&mut self, want: &[(&str, &[&str])]) -> HashMap<String, Vec<Value>> {
        self.expect_apart(want, None)
    }

    /// [`expect`](Self::expect), with the events of `apart`'s device in call `apart.1`
    /// moved after its other events (order kept within each): for a device where two
    /// calls change at once for independent reasons, whose interleaving is timing.
    fn expect_apart(
        &mut self,
        want: &[(&str, &[&str])],
        apart: Option<(&str, &str)>,
    ) -> HashMap<String, Vec<Value>> {
        let end = until(WAIT);
        let enough = |events: &[(String, String, Value)]| {
            want.iter()
                .all(|(d, w)| events.iter().filter(|(device, ..)| device == d).count() >= w.len())
        };
        while !enough(&self.events) && self.read_one(end) {}
        let learn = env_flag("QEMU_E2E_LEARN");
        let grace = until(if learn { Duration::from_secs(1) } else { GRACE });
        while self.read_one(grace) {}
        let mut events = std::mem::take(&mut self.events);
        if let Some((device, call)) = apart {
            // A stable sort: false (other calls) before true (that call).
            events.sort_by_key(|(d, _, body)| d == device && call_id(body) == call);
        }
        let mut got: HashMap<String, Vec<String>> = HashMap::new();
        let mut bodies: HashMap<String, Vec<Value>> = HashMap::new();
        for (device, name, body) in events {
            got.entry(device.clone())
                .or_default()
                .push(summary(&name, &body));
            bodies.entry(device).or_default().push(body);
        }
        let want: HashMap<String, Vec<String>> = want
            .iter()
            .filter(|(_, w)| !w.is_empty())
            .map(|(d, w)| (d.to_string(), w.iter().map(|s| s.to_string()).collect()))
            .collect();
        if learn {
            eprintln!("LEARN {got:?}\n      {bodies:?}");
        } else {
            assert_eq!(got, want, "events per device: {bodies:#?}");
        }
        bodies
    }

    /// The server's view of `device`: its calls as `callID:state`, sorted.
    fn snapshot(&mut self, device: &str) -> Vec<String> {
        let body = self.ok(
            &format!("<SnapshotDevice><snapshotObject>{device}</snapshotObject></SnapshotDevice>"),
            "SnapshotDeviceResponse",
        );
        let mut calls: Vec<String> =
            body["crossRefIDorSnapshotData"]["snapshotData"]["snapshotDeviceResponseInfo"]
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .map(|i| {
                            format!(
                                "{}:{}",
                                i["connectionIdentifier"]["callID"].as_str().unwrap_or("?"),
                                i["localCallState"]["compoundCallState"]["localConnectionState"]
                                    .as_array()
                                    .map(|s| s
                                        .iter()
                                        .filter_map(Value::as_str)
                                        .collect::<Vec<_>>()
                                        .join("+"))
                                    .unwrap_or_else(|| i["localCallState"].to_string())
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
        calls.sort();
        calls
    }

    /// No device has a call in the server's view.
    fn idle(&mut self) {
        for d in DEVICES {
            assert_eq!(self.snapshot(d), Vec::<String>::new(), "{d}");
        }
    }

    /// Do-not-disturb of `device` in the server's view.
    fn dnd(&mut self, device: &str) -> bool {
        let body = self.ok(
            &format!("<GetDoNotDisturb><device>{device}</device></GetDoNotDisturb>"),
            "GetDoNotDisturbResponse",
        );
        body["doNotDisturbOn"]
            .as_bool()
            .unwrap_or_else(|| panic!("{body}"))
    }

    /// The immediate forwarding of `device` in the server's view: on, and to whom.
    fn forward_immediate(&mut self, device: &str) -> (bool, Option<String>) {
        let body = self.ok(
            &format!("<GetForwarding><device>{device}</device></GetForwarding>"),
            "GetForwardingResponse",
        );
        let item = body["forwardingList"]["forwardListItem"]
            .as_array()
            .and_then(|items| {
                items
                    .iter()
                    .find(|i| i["forwardingType"] == "forwardImmediate")
            })
            .unwrap_or_else(|| panic!("no forwardImmediate in {body}"))
            .clone();
        (
            item["forwardStatus"].as_bool().unwrap(),
            item["forwardDN"]["id"].as_str().map(str::to_owned),
        )
    }

    /// MakeCall; returns the calling device's callID.
    fn make_call(&mut self, from: &str, to: &str) -> String {
        let body = self.ok(
            &format!(
                "<MakeCall><callingDevice>{from}</callingDevice>\
                 <calledDirectoryNumber>{to}</calledDirectoryNumber></MakeCall>"
            ),
            "MakeCallResponse",
        );
        assert_eq!(body["callingDevice"]["deviceID"]["id"], from, "{body}");
        body["callingDevice"]["callID"]
            .as_str()
            .unwrap_or_else(|| panic!("{body}"))
            .to_owned()
    }

    fn answer(&mut self, call: &str, device: &str) {
        self.ok(
            &format!(
                "<AnswerCall>{}</AnswerCall>",
                conn("callToBeAnswered", call, device)
            ),
            "AnswerCallResponse",
        );
    }

    fn clear(&mut self, call: &str, device: &str) {
        self.ok(
            &format!(
                "<ClearConnection>{}</ClearConnection>",
                conn("connectionToBeCleared", call, device)
            ),
            "ClearConnectionResponse",
        );
    }
}

fn conn(element: &str, call: &str, device: &str) -> String {
    format!("<{element}><callID>{call}</callID><deviceID>{device}</deviceID></{element}>")
}

/// The callID of `device`'s connection named in an event.
fn call_of(body: &Value, device: &str) -> String {
    body.as_object()
        .unwrap()
        .values()
        .find_map(|v| {
            (v["deviceID"]["id"] == device)
                .then(|| v["callID"].as_str().map(str::to_owned))
                .flatten()
        })
        .unwrap_or_else(|| panic!("no connection of {device} in {body}"))
}

/// The callID of an event's connection (every connection it names is in one call).
fn call_id(body: &Value) -> String {
    let ids: Vec<&str> = body
        .as_object()
        .unwrap()
        .values()
        .filter_map(|v| v["callID"].as_str())
        .collect();
    assert!(
        !ids.is_empty() && ids.iter().all(|i| *i == ids[0]),
        "callIDs of {body}"
    );
    ids[0].to_owned()
}

/// A device named in an event (`callingDevice`, `alertingDevice`, ...).
fn device_in<'a>(body: &'a Value, field: &str) -> &'a Value {
    &body[field]["deviceIdentifier"]["id"]
}

/// Min, median and max of each request's time to its answer, in milliseconds.
fn timing_table(timings: &[(String, String, Duration)]) -> String {
    let mut by: Vec<(String, Vec<Duration>)> = Vec::new();
    for (req, answer, t) in timings {
        let key = format!("{req} -> {answer}");
        match by.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(*t),
            None => by.push((key, vec![*t])),
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mut out = String::new();
    for (key, mut v) in by {
        v.sort();
        out.push_str(&format!(
            "  {key:<63} n={:<2} min {:>6.1} ms  median {:>6.1} ms  max {:>6.1} ms\n",
            v.len(),
            ms(v[0]),
            ms(v[v.len() / 2]),
            ms(v[v.len() - 1])
        ));
    }
    out
}

// ------------------------------------------------------------------ the scenario

#[test]
#[ignore = "needs qemu-system-arm and the firmware; CI runs it (scripts/ci.sh)"]
fn gateway_in_qemu_against_the_server() {
    let elf = gateway_elf();
    workspace_bin("csta-server");
    let started = Instant::now();
    start_clock(BUDGET);
    let mut env = Env::new();
    let mut figures = Vec::new();

    env.start_server();
    env.phone("202");
    env.phone("203");
    let mut gw = Gateway::boot(&env, &elf, 0, "udp", GATEWAY_EXPIRES);
    gw.wait_for("ready", |l| l.starts_with("ready ip="));
    let registered = gw.wait_line(&format!("registered expires={GATEWAY_EXPIRES}"));
    figures.push(format!(
        "boot to registered: {:.0} ms (wall clock, QEMU start to the UART line)",
        (registered - gw.started).as_secs_f64() * 1000.0
    ));
    for line in gw.stack_lines() {
        figures.push(format!("semihosting log: {line}"));
    }
    gw.wait_line("csta_up");
    env.wait_online(&DEVICES, 1);
    gw.expect_calls(&[]);

    // The handset reads every line typed, one after another.
    for _ in 0..50 {
        gw.send("status");
        gw.wait_line("status registered=yes csta=yes dnd=no calls=none");
    }

    let mut app = Client::connect(env.clients);
    for d in DEVICES {
        app.monitor(d);
    }
    app.expect(&[]);
    for d in DEVICES {
        assert_eq!(app.snapshot(d), Vec::<String>::new(), "{d}");
        assert!(!app.dnd(d), "{d}");
        assert_eq!(app.forward_immediate(d), (false, None), "{d}");
    }

    // 1. MakeCall from the gateway to 202, answered at 202, cleared by 202.
    let a = app.make_call("201", "202");
    let ev = app.expect(&[
        (
            "201",
            &[
                "ServiceInitiatedEvent/makeCall",
                "OriginatedEvent/makeCall",
                "DeliveredEvent",
            ],
        ),
        ("202", &["DeliveredEvent/newCall"]),
    ]);
    for e in &ev["201"] {
        assert_eq!(call_id(e), a, "{e}");
    }
    let delivered = &ev["201"][2];
    assert_eq!(device_in(delivered, "callingDevice"), "201", "{delivered}");
    assert_eq!(device_in(delivered, "alertingDevice"), "202", "{delivered}");
    assert_eq!(device_in(delivered, "calledDevice"), "202", "{delivered}");
    assert_eq!(call_of(delivered, "202"), a, "the alerting connection");
    let b = call_of(&ev["202"][0], "202");
    assert_eq!(device_in(&ev["202"][0], "callingDevice"), "201");
    assert_eq!(app.snapshot("201"), [format!("{a}:connected")]);
    assert_eq!(app.snapshot("202"), [format!("{b}:alerting")]);
    gw.expect_calls(&[
        "call 1 calling peer=202 cause=originated",
        "call 1 ringback peer=202 cause=ringing",
    ]);
    app.answer(&b, "202");
    let ev = app.expect(&[
        ("201", &["EstablishedEvent"]),
        ("202", &["EstablishedEvent"]),
    ]);
    assert_eq!(call_id(&ev["201"][0]), a);
    assert_eq!(device_in(&ev["201"][0], "answeringDevice"), "202");
    assert_eq!(app.snapshot("201"), [format!("{a}:connected")]);
    assert_eq!(app.snapshot("202"), [format!("{b}:connected")]);
    gw.expect_calls(&["call 1 connected peer=202 cause=answered"]);
    app.clear(&b, "202");
    let ev = app.expect(&[
        ("201", &["ConnectionClearedEvent/normalClearing"]),
        ("202", &["ConnectionClearedEvent/normalClearing"]),
    ]);
    assert_eq!(call_id(&ev["201"][0]), a);
    gw.expect_calls(&["call 1 ended peer=202 cause=bye"]);
    app.idle();

    // 2. A call from 202, answered at the gateway with AnswerCall.
    let b = app.make_call("202", "201");
    let ev = app.expect(&[
        (
            "202",
            &[
                "ServiceInitiatedEvent/makeCall",
                "OriginatedEvent/makeCall",
                "DeliveredEvent",
            ],
        ),
        ("201", &["DeliveredEvent/newCall"]),
    ]);
    let a = call_of(&ev["201"][0], "201");
    assert_eq!(device_in(&ev["201"][0], "callingDevice"), "202");
    assert_eq!(device_in(&ev["201"][0], "alertingDevice"), "201");
    assert_eq!(app.snapshot("201"), [format!("{a}:alerting")]);
    assert_eq!(app.snapshot("202"), [format!("{b}:connected")]);
    gw.expect_calls(&["call 2 ringing peer=202 cause=incoming"]);
    app.answer(&a, "201");
    let ev = app.expect(&[
        ("201", &["EstablishedEvent"]),
        ("202", &["EstablishedEvent"]),
    ]);
    assert_eq!(call_id(&ev["201"][0]), a);
    assert_eq!(device_in(&ev["201"][0], "answeringDevice"), "201");
    assert_eq!(app.snapshot("201"), [format!("{a}:connected")]);
    gw.expect_calls(&["call 2 connected peer=202 cause=answered"]);

    // 3. HoldCall and RetrieveCall at the gateway.
    app.ok(
        &format!("<HoldCall>{}</HoldCall>", conn("callToBeHeld", &a, "201")),
        "HoldCallResponse",
    );
    let ev = app.expect(&[("201", &["HeldEvent"])]);
    assert_eq!(call_id(&ev["201"][0]), a);
    assert_eq!(app.snapshot("201"), [format!("{a}:hold")]);
    assert_eq!(app.snapshot("202"), [format!("{b}:connected")]);
    gw.expect_calls(&["call 2 held peer=202 cause=hold"]);
    app.ok(
        &format!(
            "<RetrieveCall>{}</RetrieveCall>",
            conn("callToBeRetrieved", &a, "201")
        ),
        "RetrieveCallResponse",
    );
    let ev = app.expect(&[("201", &["RetrievedEvent"])]);
    assert_eq!(call_id(&ev["201"][0]), a);
    assert_eq!(app.snapshot("201"), [format!("{a}:connected")]);
    gw.expect_calls(&["call 2 connected peer=202 cause=retrieve"]);

    // 4. SingleStepTransferCall: the gateway sends 202 on to 203 and leaves.
    app.ok(
        &format!(
            "<SingleStepTransferCall>{}<transferredTo>203</transferredTo></SingleStepTransferCall>",
            conn("activeCall", &a, "201")
        ),
        "SingleStepTransferCallResponse",
    );
    // 202 is referred to 203 and calls it (its new call) while its old call ends.
    let ev = app.expect_apart(
        &[
            ("201", &["TransferedEvent/singleStepTransfer"]),
            (
                "202",
                &[
                    "ServiceInitiatedEvent",
                    "OriginatedEvent",
                    "DeliveredEvent",
                    "ConnectionClearedEvent/normalClearing",
                ],
            ),
            ("203", &["DeliveredEvent/newCall"]),
        ],
        Some(("202", &b)),
    );
    assert_eq!(
        ev["201"][0]["primaryOldCall"]["callID"],
        a.as_str(),
        "{}",
        ev["201"][0]
    );
    // 201 left: 202 sees its connection to 201 in the old call dropped.
    assert_eq!(call_of(&ev["202"][3], "201"), b);
    let b2 = call_of(&ev["202"][1], "202");
    assert_ne!(b2, b);
    let c = call_of(&ev["203"][0], "203");
    assert_eq!(device_in(&ev["203"][0], "callingDevice"), "202");
    assert_eq!(app.snapshot("201"), Vec::<String>::new());
    assert_eq!(app.snapshot("202"), [format!("{b2}:connected")]);
    assert_eq!(app.snapshot("203"), [format!("{c}:alerting")]);
    gw.expect_calls(&["call 2 ended peer=202 cause=transferred"]);
    app.answer(&c, "203");
    app.expect(&[
        ("202", &["EstablishedEvent"]),
        ("203", &["EstablishedEvent"]),
    ]);
    app.clear(&c, "203");
    app.expect(&[
        ("202", &["ConnectionClearedEvent/normalClearing"]),
        ("203", &["ConnectionClearedEvent/normalClearing"]),
    ]);
    app.idle();
    gw.expect_calls(&[]);

    // 5a. Do-not-disturb set by CSTA: a call from 202 meets busy.
    app.ok(
        "<SetDoNotDisturb><device>201</device><doNotDisturbOn>true</doNotDisturbOn></SetDoNotDisturb>",
        "SetDoNotDisturbResponse",
    );
    let ev = app.expect(&[("201", &["DoNotDisturbEvent"])]);
    assert_eq!(ev["201"][0]["doNotDisturbOn"], true);
    assert!(app.dnd("201"));
    app.make_call("202", "201");
    let ev = app.expect(&[(
        "202",
        &[
            "ServiceInitiatedEvent/makeCall",
            "OriginatedEvent/makeCall",
            "FailedEvent/busy",
            "ConnectionClearedEvent/normalClearing",
        ],
    )]);
    assert_eq!(device_in(&ev["202"][2], "failingDevice"), "201");
    gw.expect_calls(&["rejected from=202 status=486"]);
    app.idle();
    app.ok(
        "<SetDoNotDisturb><device>201</device><doNotDisturbOn>false</doNotDisturbOn></SetDoNotDisturb>",
        "SetDoNotDisturbResponse",
    );
    let ev = app.expect(&[("201", &["DoNotDisturbEvent"])]);
    assert_eq!(ev["201"][0]["doNotDisturbOn"], false);
    assert!(!app.dnd("201"));

    // 5b. Immediate forwarding to 203 set by CSTA: a call from 202 reaches 203.
    app.ok(
        "<SetForwarding><device>201</device><forwardingType>forwardImmediate</forwardingType>\
         <activateForward>true</activateForward><forwardDN>203</forwardDN></SetForwarding>",
        "SetForwardingResponse",
    );
    let ev = app.expect(&[("201", &["ForwardingEvent"])]);
    assert_eq!(ev["201"][0]["forwardingType"], "forwardImmediate");
    assert_eq!(ev["201"][0]["forwardStatus"], true);
    assert_eq!(ev["201"][0]["forwardTo"]["id"], "203");
    assert_eq!(app.forward_immediate("201"), (true, Some("203".into())));
    let b = app.make_call("202", "201");
    let ev = app.expect(&[
        (
            "202",
            &[
                "ServiceInitiatedEvent/makeCall",
                "OriginatedEvent/makeCall",
                "DeliveredEvent",
            ],
        ),
        ("201", &["DivertedEvent/callForwardImmediate"]),
        ("203", &["DeliveredEvent/newCall"]),
    ]);
    assert_eq!(device_in(&ev["201"][0], "newDestination"), "203");
    assert_eq!(device_in(&ev["203"][0], "callingDevice"), "202");
    let c = call_of(&ev["203"][0], "203");
    assert_eq!(app.snapshot("201"), Vec::<String>::new());
    assert_eq!(app.snapshot("203"), [format!("{c}:alerting")]);
    gw.expect_calls(&["rejected from=202 status=302 to=203"]);
    app.clear(&b, "202");
    app.expect(&[
        ("202", &["ConnectionClearedEvent/normalClearing"]),
        ("203", &["ConnectionClearedEvent/callCancelled"]),
    ]);
    app.idle();
    app.ok(
        "<SetForwarding><device>201</device><forwardingType>forwardImmediate</forwardingType>\
         <activateForward>false</activateForward></SetForwarding>",
        "SetForwardingResponse",
    );
    let ev = app.expect(&[("201", &["ForwardingEvent"])]);
    assert_eq!(ev["201"][0]["forwardStatus"], false);
    // Off; the destination may stay on record.
    assert!(!app.forward_immediate("201").0);

    // 5c. The same on the handset.
    gw.send("dnd on");
    let ev = app.expect(&[("201", &["DoNotDisturbEvent"])]);
    assert_eq!(ev["201"][0]["doNotDisturbOn"], true);
    assert!(app.dnd("201"));
    gw.send("dnd off");
    let ev = app.expect(&[("201", &["DoNotDisturbEvent"])]);
    assert_eq!(ev["201"][0]["doNotDisturbOn"], false);
    assert!(!app.dnd("201"));
    gw.send("forward immediate 203");
    let ev = app.expect(&[("201", &["ForwardingEvent"])]);
    assert_eq!(ev["201"][0]["forwardingType"], "forwardImmediate");
    assert_eq!(ev["201"][0]["forwardStatus"], true);
    assert_eq!(ev["201"][0]["forwardTo"]["id"], "203");
    assert_eq!(app.forward_immediate("201"), (true, Some("203".into())));
    gw.send("forward immediate off");
    let ev = app.expect(&[("201", &["ForwardingEvent"])]);
    assert_eq!(ev["201"][0]["forwardStatus"], false);
    assert!(!app.forward_immediate("201").0);
    gw.send("status");
    gw.wait_line("status registered=yes csta=yes dnd=no calls=none");
    gw.expect_calls(&[]);

    // 6. Off hook and dial on the handset, answered at 202, on hook.
    gw.send("offhook");
    let ev = app.expect(&[("201", &["ServiceInitiatedEvent"])]);
    let a = call_of(&ev["201"][0], "201");
    assert_eq!(app.snapshot("201"), [format!("{a}:initiated")]);
    gw.expect_calls(&["call 5 dialing peer= cause=offhook"]);
    gw.send("dial 202");
    let ev = app.expect(&[
        ("201", &["OriginatedEvent", "DeliveredEvent"]),
        ("202", &["DeliveredEvent/newCall"]),
    ]);
    for e in &ev["201"] {
        assert_eq!(call_id(e), a, "{e}");
    }
    assert_eq!(device_in(&ev["201"][0], "calledDevice"), "202");
    assert_eq!(device_in(&ev["201"][1], "alertingDevice"), "202");
    assert_eq!(device_in(&ev["202"][0], "callingDevice"), "201");
    let b = call_of(&ev["202"][0], "202");
    gw.expect_calls(&[
        "call 5 calling peer=202 cause=originated",
        "call 5 ringback peer=202 cause=ringing",
    ]);
    app.answer(&b, "202");
    app.expect(&[
        ("201", &["EstablishedEvent"]),
        ("202", &["EstablishedEvent"]),
    ]);
    assert_eq!(app.snapshot("201"), [format!("{a}:connected")]);
    gw.expect_calls(&["call 5 connected peer=202 cause=answered"]);
    gw.send("onhook");
    app.expect(&[
        ("201", &["ConnectionClearedEvent/normalClearing"]),
        ("202", &["ConnectionClearedEvent/normalClearing"]),
    ]);
    gw.expect_calls(&["call 5 ended peer=202 cause=hangup"]);
    app.idle();

    figures.push(format!(
        "stack peak while running the line (every step so far): {}",
        gw.running_stack_peak()
    ));

    // 7. The gateway reboots: the server opens the session again, the application's
    // monitor of 201 goes on.
    gw.power_off();
    drop(gw);
    let mut gw = Gateway::boot(&env, &elf, 1, "udp", GATEWAY_EXPIRES);
    let registered = gw.wait_line(&format!("registered expires={GATEWAY_EXPIRES}"));
    figures.push(format!(
        "boot to registered after the reboot: {:.0} ms",
        (registered - gw.started).as_secs_f64() * 1000.0
    ));
    gw.wait_line("csta_up");
    env.wait_online(&["201"], 2);
    // The server saw the new boot's REGISTER (a new Call-ID), opened a new session
    // and read the device again.
    app.expect(&[("201", &["OutOfServiceEvent", "BackInServiceEvent"])]);
    assert_eq!(app.snapshot("201"), Vec::<String>::new());
    let a = app.make_call("201", "202");
    let ev = app.expect(&[
        (
            "201",
            &[
                "ServiceInitiatedEvent/makeCall",
                "OriginatedEvent/makeCall",
                "DeliveredEvent",
            ],
        ),
        ("202", &["DeliveredEvent/newCall"]),
    ]);
    assert_eq!(call_id(&ev["201"][2]), a);
    let b = call_of(&ev["202"][0], "202");
    gw.expect_calls(&[
        "call 1 calling peer=202 cause=originated",
        "call 1 ringback peer=202 cause=ringing",
    ]);
    app.clear(&a, "201");
    let ev = app.expect(&[
        ("201", &["ConnectionClearedEvent/normalClearing"]),
        ("202", &["ConnectionClearedEvent/callCancelled"]),
    ]);
    assert_eq!(call_id(&ev["201"][0]), a);
    assert_eq!(call_id(&ev["202"][0]), b);
    gw.expect_calls(&["call 1 ended peer=202 cause=cancelled"]);
    app.idle();
    let first_timings = std::mem::take(&mut app.timings);

    // 8. A lost network: the server dies. The gateway's registration refresh (due
    // half its expiry after the last registration) goes unanswered and is sent again;
    // the server comes back with its stored bindings, opens the session again, and a
    // retransmission of the refresh registers the gateway again. A new application
    // session works with it.
    drop(app);
    env.kill_server();
    let registered_line = format!("registered expires={GATEWAY_EXPIRES}");
    let refresh =
        gw.last(&registered_line).unwrap() + Duration::from_secs(u64::from(GATEWAY_EXPIRES / 2));
    // The refresh and its first two retransmissions are lost.
    let back = refresh + Duration::from_secs(2);
    assert!(back + WAIT < deadline(), "no time left for the outage");
    std::thread::sleep(back.saturating_duration_since(Instant::now()));
    let back = Instant::now();
    env.start_server();
    let at = gw.wait_lines(&["csta_down reason=Replaced", "csta_up", &registered_line]);
    env.wait_online(&DEVICES, 1);
    figures.push(format!(
        "server back to the session up again: {:.0} ms, to the gateway registered again: {:.0} ms",
        (at[1] - back).as_secs_f64() * 1000.0,
        (at[2] - back).as_secs_f64() * 1000.0
    ));
    let mut app = Client::connect(env.clients);
    for d in DEVICES {
        app.monitor(d);
    }
    app.expect(&[]);
    app.idle();
    let b = app.make_call("202", "201");
    let ev = app.expect(&[
        (
            "202",
            &[
                "ServiceInitiatedEvent/makeCall",
                "OriginatedEvent/makeCall",
                "DeliveredEvent",
            ],
        ),
        ("201", &["DeliveredEvent/newCall"]),
    ]);
    let a = call_of(&ev["201"][0], "201");
    gw.expect_calls(&["call 2 ringing peer=202 cause=incoming"]);
    app.answer(&a, "201");
    app.expect(&[
        ("201", &["EstablishedEvent"]),
        ("202", &["EstablishedEvent"]),
    ]);
    assert_eq!(app.snapshot("201"), [format!("{a}:connected")]);
    gw.expect_calls(&["call 2 connected peer=202 cause=answered"]);
    app.clear(&a, "201");
    let ev = app.expect(&[
        ("201", &["ConnectionClearedEvent/normalClearing"]),
        ("202", &["ConnectionClearedEvent/normalClearing"]),
    ]);
    assert_eq!(call_id(&ev["201"][0]), a);
    assert_eq!(call_id(&ev["202"][0]), b);
    gw.expect_calls(&["call 2 ended peer=202 cause=hangup"]);
    app.idle();

    let mut timings = first_timings;
    timings.append(&mut app.timings);
    drop(app);
    drop(gw);
    drop(env);
    eprintln!(
        "\ngateway in QEMU: all steps passed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    for f in figures {
        eprintln!("  {f}");
    }
    eprintln!(
        "CSTA request to answer at the client:\n{}",
        timing_table(&timings)
    );
}

/// The TCP scenario, after the builds.
const TCP_BUDGET: Duration = Duration::from_secs(60);
/// The registration the gateway asks for over TCP: long, so that nothing but a new
/// connection makes it register again within the scenario.
const TCP_EXPIRES: u32 = 3600;
/// The handset's lines about its line and session.
const LINK: &[&str] = &[
    "link ",
    "registered ",
    "registration_failed ",
    "unregistered",
    "csta_up",
    "csta_down ",
];

#[test]
#[ignore = "needs qemu-system-arm and the firmware; CI runs it (scripts/ci.sh)"]
fn gateway_over_tcp_against_the_server() {
    let elf = gateway_elf();
    workspace_bin("csta-server");
    let started = Instant::now();
    start_clock(TCP_BUDGET);
    let mut env = Env::new();
    let mut figures = Vec::new();

    env.start_server();
    env.phone("202");
    env.phone("203");
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mut gw = Gateway::boot(&env, &elf, 0, "tcp", TCP_EXPIRES);
    gw.wait_for("ready", |l| l.starts_with("ready ip="));
    // The connection first, then the REGISTER over it, then the server's session.
    let registered = format!("registered expires={TCP_EXPIRES}");
    gw.expect_shown(LINK, &["link up", &registered, "csta_up"]);
    figures.push(format!(
        "boot to link up: {:.0} ms, to registered: {:.0} ms (wall clock, QEMU start to \
         the UART line)",
        ms(gw.last("link up").unwrap() - gw.started),
        ms(gw.last(&registered).unwrap() - gw.started)
    ));
    for line in gw.stack_lines() {
        figures.push(format!("semihosting log: {line}"));
    }
    env.wait_online(&DEVICES, 1);
    gw.send("status");
    gw.wait_line("status registered=yes csta=yes dnd=no calls=none");

    let mut app = Client::connect(env.clients);
    for d in DEVICES {
        app.monitor(d);
    }
    app.expect(&[]);
    app.idle();

    // 1. MakeCall from the gateway to 202, answered at 202, cleared at the gateway.
    let a = app.make_call("201", "202");
    let ev = app.expect(&[
        (
            "201",
            &[
                "ServiceInitiatedEvent/makeCall",
                "OriginatedEvent/makeCall",
                "DeliveredEvent",
            ],
        ),
        ("202", &["DeliveredEvent/newCall"]),
    ]);
    for e in &ev["201"] {
        assert_eq!(call_id(e), a, "{e}");
    }
    assert_eq!(device_in(&ev["201"][2], "alertingDevice"), "202");
    let b = call_of(&ev["202"][0], "202");
    assert_eq!(device_in(&ev["202"][0], "callingDevice"), "201");
    assert_eq!(app.snapshot("201"), [format!("{a}:connected")]);
    assert_eq!(app.snapshot("202"), [format!("{b}:alerting")]);
    gw.expect_calls(&[
        "call 1 calling peer=202 cause=originated",
        "call 1 ringback peer=202 cause=ringing",
    ]);
    app.answer(&b, "202");
    let ev = app.expect(&[
        ("201", &["EstablishedEvent"]),
        ("202", &["EstablishedEvent"]),
    ]);
    assert_eq!(call_id(&ev["201"][0]), a);
    assert_eq!(device_in(&ev["201"][0], "answeringDevice"), "202");
    assert_eq!(app.snapshot("201"), [format!("{a}:connected")]);
    assert_eq!(app.snapshot("202"), [format!("{b}:connected")]);
    gw.expect_calls(&["call 1 connected peer=202 cause=answered"]);
    app.clear(&a, "201");
    let ev = app.expect(&[
        ("201", &["ConnectionClearedEvent/normalClearing"]),
        ("202", &["ConnectionClearedEvent/normalClearing"]),
    ]);
    assert_eq!(call_id(&ev["201"][0]), a);
    assert_eq!(call_id(&ev["202"][0]), b);
    gw.expect_calls(&["call 1 ended peer=202 cause=hangup"]);
    app.idle();
    let first_timings = std::mem::take(&mut app.timings);

    // 2. The server stops (killed): the connection is lost at once, the next attempt
    // 1 s later is refused, and the one 2 s after that reaches the server started
    // again.
    drop(app);
    let killed = Instant::now();
    env.kill_server();
    gw.expect_shown(LINK, &["link down retry_in=1"]);
    gw.expect_shown(LINK, &["link down retry_in=2"]);
    let down = [
        gw.last("link down retry_in=1").unwrap(),
        gw.last("link down retry_in=2").unwrap(),
    ];
    let waited = down[1] - down[0];
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(3),
        "1 s between the loss and the next attempt, not {waited:?}"
    );
    // The next attempt is 2 s away: the handset is served meanwhile, and a call
    // placed now fails at once (503, no 32 s wait for its INVITE's transaction); the
    // session's events about it cannot be sent either, which ends the session.
    gw.send("status");
    gw.wait_line("status registered=no csta=yes dnd=no calls=none");
    gw.send("call 202");
    gw.expect_shown(
        &["call ", "rejected ", "csta_"],
        &[
            "call 2 calling peer=202 cause=originated",
            "csta_event ServiceInitiatedEvent",
            "csta_event OriginatedEvent",
            "call 2 ended peer=202 cause=503",
            "csta_event_rejected",
            "csta_down reason=Lost",
        ],
    );
    gw.send("status");
    gw.wait_line("status registered=no csta=no dnd=no calls=none");
    let starting = Instant::now();
    env.start_server();
    let listening = Instant::now();
    assert!(
        listening < down[1] + Duration::from_millis(1800),
        "the server listens {:?} after the refused attempt: too late for the next",
        listening - down[1]
    );
    // The next attempt reaches the server: a REGISTER at once on the new connection
    // (its refresh is half an hour away), then the server opens a new session.
    gw.expect_shown(LINK, &["link up", &registered, "csta_up"]);
    let up = [
        gw.last("link up").unwrap(),
        gw.last(&registered).unwrap(),
        gw.last("csta_up").unwrap(),
    ];
    let waited = up[0] - down[1];
    assert!(
        waited >= Duration::from_millis(1900) && waited < Duration::from_secs(4),
        "2 s between the refused attempt and the next, not {waited:?}"
    );
    figures.push(format!(
        "server killed to link down: {:.0} ms; link down to the refused attempt: {:.0} ms",
        ms(down[0] - killed),
        ms(down[1] - down[0])
    ));
    figures.push(format!(
        "server started ({:.0} ms to listen) to link up: {:.0} ms (the back-off's wait), \
         to registered: {:.0} ms, to csta_up: {:.0} ms; link down to registered: {:.0} ms",
        ms(listening - starting),
        ms(up[0] - listening),
        ms(up[1] - listening),
        ms(up[2] - listening),
        ms(up[1] - down[0])
    ));
    env.wait_online(&DEVICES, 1);
    gw.send("status");
    gw.wait_line("status registered=yes csta=yes dnd=no calls=none");

    // 3. The session works again: MakeCall from the gateway to 203, answered at 203,
    // cleared there.

    let mut app = Client::connect(env.clients);
    for d in DEVICES {
        app.monitor(d);
    }
    app.expect(&[]);
    app.idle();
    let a = app.make_call("201", "203");
    let ev = app.expect(&[
        (
            "201",
            &[
                "ServiceInitiatedEvent/makeCall",
                "OriginatedEvent/makeCall",
                "DeliveredEvent",
            ],
        ),
        ("203", &["DeliveredEvent/newCall"]),
    ]);
    for e in &ev["201"] {
        assert_eq!(call_id(e), a, "{e}");
    }
    assert_eq!(device_in(&ev["201"][2], "alertingDevice"), "203");
    let c = call_of(&ev["203"][0], "203");
    assert_eq!(device_in(&ev["203"][0], "callingDevice"), "201");
    assert_eq!(app.snapshot("201"), [format!("{a}:connected")]);
    assert_eq!(app.snapshot("203"), [format!("{c}:alerting")]);
    gw.expect_calls(&[
        "call 3 calling peer=203 cause=originated",
        "call 3 ringback peer=203 cause=ringing",
    ]);
    app.answer(&c, "203");
    let ev = app.expect(&[
        ("201", &["EstablishedEvent"]),
        ("203", &["EstablishedEvent"]),
    ]);
    assert_eq!(call_id(&ev["201"][0]), a);
    assert_eq!(device_in(&ev["201"][0], "answeringDevice"), "203");
    assert_eq!(app.snapshot("201"), [format!("{a}:connected")]);
    assert_eq!(app.snapshot("203"), [format!("{c}:connected")]);
    gw.expect_calls(&["call 3 connected peer=203 cause=answered"]);
    app.clear(&c, "203");
    let ev = app.expect(&[
        ("201", &["ConnectionClearedEvent/normalClearing"]),
        ("203", &["ConnectionClearedEvent/normalClearing"]),
    ]);
    assert_eq!(call_id(&ev["201"][0]), a);
    assert_eq!(call_id(&ev["203"][0]), c);
    gw.expect_calls(&["call 3 ended peer=203 cause=bye"]);
    app.idle();

    let mut timings = first_timings;
    timings.append(&mut app.timings);
    figures.push(format!(
        "stack peak while running the line (every step): {}",
        gw.running_stack_peak()
    ));
    drop(app);
    drop(gw);
    drop(env);
    eprintln!(
        "\ngateway over TCP in QEMU: all steps passed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    for f in figures {
        eprintln!("  {f}");
    }
    eprintln!(
        "CSTA request to answer at the client:\n{}",
        timing_table(&timings)
    );
}
