//! End-to-end harness: the real `csta-server` binary, `phone-sim` phone processes and
//! `tapi-host` (natively the Linux binary with the provider linked in, under Wine
//! `tapi-host.exe` loading `ucsta.tsp`), all on loopback with free ports. Every
//! process is stopped by its PID when the test ends, however it ends.
//!
//! A scenario feeds the host its script on standard input, piece by piece, and
//! waits for the `MARK` lines it asks for in between, to act on the server or the
//! phones at the right moment. The host's JSON lines are then projected per line
//! (`Outcome::seq`) and compared exactly.
//!
//! `TAPI_HOST_TRACE=1` prints the host's lines as they come; `TAPI_HOST_KEEP=1` keeps
//! the temporary directory (processes' output, provider log; kept anyway when the
//! test fails) and prints its path;
//! `TAPI_HOST_SERVER_LOG=debug` is the server's `--log`.
#![allow(dead_code, unreachable_pub, clippy::print_stdout, clippy::print_stderr)]

pub mod scenarios;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a scenario's step may take before the test gives up.
pub const STEP: Duration = Duration::from_secs(60);

// ------------------------------------------------------------------ processes

/// A started process, killed (by its PID) and reaped when dropped.
pub struct Proc {
    pub name: String,
    pub child: Child,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it still runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends a signal to one process by its PID.
pub fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{sig} {pid}");
}

/// A port free for UDP and TCP on 127.0.0.1 right now, and not handed out before
/// by this test process (tests run side by side).
pub fn free_port() -> u16 {
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

/// The workspace's target directory for native binaries (next to this test).
fn native_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

/// `csta-server` and `phone-sim`, built once per test process (cargo knows when they
/// are up to date).
pub fn workspace_bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        for package in ["csta-server", "phone-sim"] {
            let mut build = Command::new(env!("CARGO"));
            build.args(["build", "-p", package, "--bin", package]);
            // The variables cargo sets for this test would make build scripts that
            // watch them run again (and rebuild their crates) every time.
            for (k, _) in std::env::vars_os() {
                let k = k.to_string_lossy();
                if k.starts_with("CARGO_") && k != "CARGO_HOME" && k != "CARGO_TARGET_DIR" {
                    build.env_remove(&*k);
                }
            }
            let status = build.status().expect("cargo build");
            assert!(status.success(), "cannot build {package}");
        }
    });
    let path = native_dir().join(name);
    assert!(path.exists(), "no {}", path.display());
    path
}

// ------------------------------------------------------------------ the system under test

/// The server's accounts: SIP users 201..205 (password `secret-N`), and the client
/// users `crm` (every device) and `u201` (only 201).
pub const USERS: [&str; 5] = ["201", "202", "203", "204", "205"];

/// One scenario's processes and files.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub sip: u16,
    pub clients: u16,
    /// The CSTA-controlled lines (with their pick-up group).
    lines: Vec<(String, Option<String>)>,
    server: Option<Proc>,
    phones: HashMap<String, Proc>,
    restarts: u32,
}

impl Env {
    /// A server configuration with these CSTA lines (`("201", Some("desk"))`).
    pub fn new(lines: &[(&str, Option<&str>)]) -> Env {
        let dir = tempfile::Builder::new()
            .prefix("tapi-host-e2e-")
            .tempdir()
            .unwrap();
        let env = Env {
            dir,
            sip: free_port(),
            clients: free_port(),
            lines: lines
                .iter()
                .map(|(l, g)| ((*l).to_owned(), g.map(str::to_owned)))
                .collect(),
            server: None,
            phones: HashMap::new(),
            restarts: 0,
        };
        env.write_config();
        env
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write_config(&self) {
        let mut text = format!(
            "data_dir = {:?}\n\n[sip]\ndomain = \"localhost\"\nudp = [\"127.0.0.1:{}\"]\ntcp = []\n\n\
             [clients]\ntcp = \"127.0.0.1:{}\"\nwebsocket = false\n\n[http]\nlisten = false\n\n\
             [[client_users]]\nname = \"crm\"\npassword = \"crm-secret\"\ndevices = [\"*\"]\n\n\
             [[client_users]]\nname = \"u201\"\npassword = \"u201-secret\"\ndevices = [\"sip:201@localhost\"]\n",
            self.path("data").display().to_string(),
            self.sip,
            self.clients,
        );
        for user in USERS {
            text.push_str(&format!(
                "\n[[users]]\nname = \"{user}\"\npassword = \"secret-{user}\"\n"
            ));
        }
        for (line, group) in &self.lines {
            text.push_str(&format!(
                "\n[[csta_lines]]\naor = \"sip:{line}@localhost\"\nauth_user = \"{line}\"\n\
                 auth_password = \"secret-{line}\"\n"
            ));
            if let Some(g) = group {
                text.push_str(&format!("pickup_group = \"{g}\"\n"));
            }
        }
        std::fs::write(self.path("server.toml"), text).unwrap();
    }

    /// Starts the server and waits until its client port accepts.
    pub fn start_server(&mut self) {
        let n = self.restarts;
        self.restarts += 1;
        let child = Command::new(workspace_bin("csta-server"))
            .arg("--config")
            .arg(self.path("server.toml"))
            .args([
                "--log",
                &std::env::var("TAPI_HOST_SERVER_LOG").unwrap_or_else(|_| "info".into()),
            ])
            .stdin(Stdio::null())
            .stdout(file(&self.path(&format!("server{n}.out"))))
            .stderr(file(&self.path(&format!("server{n}.err"))))
            .spawn()
            .unwrap();
        self.server = Some(Proc {
            name: "csta-server".into(),
            child,
        });
        let end = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.clients)).is_err() {
            assert!(
                self.server.as_mut().unwrap().running(),
                "csta-server exited: {}",
                std::fs::read_to_string(self.path(&format!("server{n}.err"))).unwrap_or_default()
            );
            assert!(Instant::now() < end, "csta-server does not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server (SIGKILL, by its PID): no goodbye to anyone.
    pub fn kill_server(&mut self) {
        let mut p = self.server.take().expect("a server");
        let _ = p.child.kill();
        let _ = p.child.wait();
    }

    /// Adds a CSTA line to the configuration and makes the server reload it (SIGHUP).
    pub fn add_line_and_reload(&mut self, line: &str) {
        self.lines.push((line.to_owned(), None));
        self.reload();
    }

    /// Removes a CSTA line from the configuration and makes the server reload it.
    pub fn remove_line_and_reload(&mut self, line: &str) {
        self.lines.retain(|(l, _)| l != line);
        self.reload();
    }

    fn reload(&mut self) {
        self.write_config();
        let pid = self.server.as_ref().expect("a server").pid();
        signal(pid, "HUP");
    }

    /// Starts a phone (phone-sim) with this script.
    pub fn phone(&mut self, user: &str, script: &str) {
        let script_path = self.path(&format!("{user}.script"));
        std::fs::write(&script_path, script).unwrap();
        let child = Command::new(workspace_bin("phone-sim"))
            .args([
                "--server",
                &format!("127.0.0.1:{}", self.sip),
                "--user",
                user,
            ])
            .args(["--password", &format!("secret-{user}"), "--script"])
            .arg(&script_path)
            .stdin(Stdio::null())
            .stdout(file(&self.path(&format!("{user}.out"))))
            .stderr(file(&self.path(&format!("{user}.err"))))
            .spawn()
            .unwrap();
        self.phones.insert(
            user.to_owned(),
            Proc {
                name: format!("phone {user}"),
                child,
            },
        );
    }

    /// An idle phone for each user (`sleep 3600s`).
    pub fn idle_phones(&mut self, users: &[&str]) {
        for u in users {
            self.phone(u, "wait registered 10s\nsleep 3600s\n");
        }
    }

    /// The phone's JSON report lines so far.
    pub fn phone_reports(&self, user: &str) -> Vec<Value> {
        std::fs::read_to_string(self.path(&format!("{user}.out")))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Waits until the phone has reported `event` (`registered`, `csta_up`) `count`
    /// times.
    pub fn wait_phone(&mut self, user: &str, event: &str, count: usize) {
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            let n = self
                .phone_reports(user)
                .iter()
                .filter(|r| r["event"] == event)
                .count();
            if n >= count {
                return;
            }
            let p = self.phones.get_mut(user).expect("a phone");
            assert!(p.running(), "phone {user} exited");
            assert!(
                Instant::now() < end,
                "phone {user}: no {event} x{count}: {:?}",
                self.phone_reports(user)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until every phone has its CSTA session with the server and the server
    /// counts the device online (its log says so once it has read the phone's calls,
    /// do-not-disturb and forwarding; before that a client's monitor of it gets
    /// OutOfServiceEvent).
    pub fn wait_csta(&mut self, users: &[&str]) {
        for u in users {
            self.wait_phone(u, "csta_up", 1);
        }
        let log = self.path(&format!("server{}.err", self.restarts - 1));
        let end = Instant::now() + Duration::from_secs(30);
        for u in users {
            let line = format!("device online aor=sip:{u}@localhost");
            while !std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains(&line)
            {
                assert!(Instant::now() < end, "the server does not count {u} online");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Stops a phone (by its PID).
    pub fn stop_phone(&mut self, user: &str) {
        self.phones.remove(user);
    }

    /// The provider settings of a role (plus quick reconnects, no redaction).
    pub fn settings(&self, role: &str, user: &str, devices: &[&str]) -> Vec<(String, String)> {
        let password = format!("{user}-secret");
        let mut s = vec![
            ("role", role.to_owned()),
            ("server", "127.0.0.1".to_owned()),
            ("port", self.clients.to_string()),
            ("user", user.to_owned()),
            ("password", password),
            ("reconnect_min", "1".to_owned()),
            ("reconnect_max", "2".to_owned()),
            ("redact", "0".to_owned()),
            ("log_level", "debug".to_owned()),
        ];
        if !devices.is_empty() {
            s.push(("devices", devices.join(",")));
        }
        s.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    /// Configures provider instance `provider_id` with these settings and starts
    /// the host for it.
    pub fn host(
        &self,
        kind: &HostKind,
        provider_id: u32,
        settings: &[(String, String)],
    ) -> HostRun {
        HostRun::start(self, kind, provider_id, Some(settings))
    }

    /// Starts the host for an instance configured before, leaving what it stored
    /// alone (`ucsta-tsp-setup config` rewrites the instance's registry key, and the
    /// multi-line device list stored in it goes with it).
    pub fn host_again(&self, kind: &HostKind, provider_id: u32) -> HostRun {
        HostRun::start(self, kind, provider_id, None)
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.phones.clear();
        self.server = None;
        if std::env::var_os("TAPI_HOST_KEEP").is_some() || std::thread::panicking() {
            let path = self.dir.path().to_path_buf();
            eprintln!("kept {}", path.display());
            std::mem::forget(std::mem::replace(
                &mut self.dir,
                tempfile::tempdir().unwrap(),
            ));
        }
    }
}

fn file(path: &Path) -> Stdio {
    std::fs::File::create(path).unwrap().into()
}

// ------------------------------------------------------------------ the host

/// Wine, as `testing/wine/wine-env.sh` sets it up.
#[derive(Debug, Clone)]
pub struct Wine {
    /// The Wine loader and the environment the script exported.
    pub wine64: PathBuf,
    pub env: Vec<(String, String)>,
    pub host_exe: PathBuf,
    pub setup_exe: PathBuf,
    /// The provider, copied as `ucsta.tsp`.
    pub tsp: PathBuf,
}

/// How the host runs.
#[derive(Debug, Clone)]
pub enum HostKind {
    /// The Linux binary (`CARGO_BIN_EXE_tapi-host`), the provider linked in; its
    /// configuration in `UCSTA_TSP_CONFIG_DIR`.
    Native,
    /// `tapi-host.exe --tsp ucsta.tsp` under Wine; the configuration in the Wine
    /// registry (written by `ucsta-tsp-setup.exe config`).
    Wine(Wine),
}

impl HostKind {
    /// Deletes what a provider instance stored (its configuration and device list):
    /// under Wine its registry key (`ucsta-tsp-setup.exe remove`); natively each
    /// scenario has a fresh directory already.
    pub fn forget_provider(&self, env: &Env, provider_id: u32) {
        if let HostKind::Wine(w) = self {
            // lineRemoveProvider fails under Wine (tapi32 is a stub); the key goes
            // anyway, which is what matters here.
            let _ = w
                .command(&w.setup_exe)
                .args(["remove", "--provider-id", &provider_id.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(file(&env.path(&format!("remove-{provider_id}.err"))))
                .status();
        }
    }
}

impl Wine {
    /// `ucsta-tsp-setup.exe config --provider-id N name=value...`: the instance's
    /// registry key (password with DPAPI).
    pub fn configure(&self, env: &Env, provider_id: u32, settings: &[(String, String)]) {
        let mut setup = self.command(&self.setup_exe);
        setup
            .args(["config", "--provider-id", &provider_id.to_string()])
            .args(settings.iter().map(|(k, v)| format!("{k}={v}")))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file(&env.path(&format!("setup-{provider_id}.err"))));
        let status = setup.status().expect("ucsta-tsp-setup.exe");
        assert!(
            status.success(),
            "ucsta-tsp-setup.exe config failed: {}",
            std::fs::read_to_string(env.path(&format!("setup-{provider_id}.err")))
                .unwrap_or_default()
        );
    }

    /// A Windows path (`Z:\...`) for a Linux one.
    pub fn win_path(path: &Path) -> String {
        format!("Z:{}", path.display().to_string().replace('/', "\\"))
    }

    /// A command running `exe` under Wine with its environment (no
    /// `UCSTA_TSP_CONFIG_DIR`: the registry is the store).
    pub fn command(&self, exe: &Path) -> Command {
        let mut c = Command::new(&self.wine64);
        c.arg(exe).env_remove("UCSTA_TSP_CONFIG_DIR");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }
}

/// A running host, fed its script on standard input.
pub struct HostRun {
    proc: Option<Proc>,
    stdin: Option<ChildStdin>,
    lines: Arc<(Mutex<Vec<Value>>, Condvar)>,
    junk: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
    stderr: PathBuf,
    pub started: Instant,
}

/// What a host run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The exit status.
    pub status: Option<i32>,
    /// Every JSON line of standard output.
    pub lines: Vec<Value>,
    /// Standard output lines that are not JSON (must be none).
    pub junk: Vec<String>,
    /// The host's standard error (logs).
    pub stderr: String,
    /// How long the host ran.
    pub took: Duration,
}

impl HostRun {
    fn start(
        env: &Env,
        kind: &HostKind,
        provider_id: u32,
        settings: Option<&[(String, String)]>,
    ) -> HostRun {
        let stderr_path = env.path(&format!("host-{provider_id}.err"));
        let mut cmd = match kind {
            HostKind::Native => {
                let conf = env.path("conf");
                if let Some(settings) = settings {
                    std::fs::create_dir_all(&conf).unwrap();
                    let text: String = settings
                        .iter()
                        .map(|(k, v)| format!("{k} = {v}\n"))
                        .collect();
                    std::fs::write(conf.join(format!("provider-{provider_id}.conf")), text)
                        .unwrap();
                }
                let mut c = Command::new(env!("CARGO_BIN_EXE_tapi-host"));
                c.env("UCSTA_TSP_CONFIG_DIR", &conf);
                c
            }
            HostKind::Wine(w) => {
                if let Some(settings) = settings {
                    w.configure(env, provider_id, settings);
                }
                let mut c = w.command(&w.host_exe);
                c.arg("--tsp").arg(&w.tsp);
                c.env(
                    "UCSTA_TSP_LOG",
                    Wine::win_path(&env.path(&format!("tsp-{provider_id}.log"))),
                );
                c
            }
        };
        cmd.args(["--provider-id", &provider_id.to_string(), "--script", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(file(&stderr_path));
        let started = Instant::now();
        let mut child = cmd.spawn().expect("tapi-host");
        let stdout = child.stdout.take().unwrap();
        let stdin = child.stdin.take();
        let lines: Arc<(Mutex<Vec<Value>>, Condvar)> = Arc::default();
        let junk: Arc<Mutex<Vec<String>>> = Arc::default();
        let (l, j) = (lines.clone(), junk.clone());
        let trace = std::env::var_os("TAPI_HOST_TRACE").is_some();
        let reader = std::thread::spawn(move || {
            for text in BufReader::new(stdout).lines() {
                let Ok(text) = text else { break };
                if trace {
                    eprintln!("host: {text}");
                }
                match serde_json::from_str::<Value>(&text) {
                    Ok(v) if v.is_object() => l.0.lock().unwrap().push(v),
                    _ => j.lock().unwrap().push(text),
                }
                l.1.notify_all();
            }
            l.1.notify_all();
        });
        HostRun {
            proc: Some(Proc {
                name: "tapi-host".into(),
                child,
            }),
            stdin,
            lines,
            junk,
            reader: Some(reader),
            stderr: stderr_path,
            started,
        }
    }

    /// Feeds script lines.
    pub fn send(&mut self, script: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(script.as_bytes()).expect("host stdin");
        if !script.ends_with('\n') {
            stdin.write_all(b"\n").unwrap();
        }
        stdin.flush().unwrap();
    }

    /// The lines so far.
    pub fn lines(&self) -> Vec<Value> {
        self.lines.0.lock().unwrap().clone()
    }

    /// Sends `mark NAME` after `script` and waits until the host printed it (so the
    /// script up to there ran).
    pub fn run_to(&mut self, script: &str, mark: &str) {
        self.send(script);
        self.send(&format!("mark {mark}"));
        let end = Instant::now() + STEP;
        let mut lines = self.lines.0.lock().unwrap();
        loop {
            if lines
                .iter()
                .any(|l| l["msg"] == "MARK" && l["name"] == mark)
            {
                return;
            }
            if lines.iter().any(|l| {
                matches!(
                    l["msg"].as_str(),
                    Some("TIMEOUT" | "EXPECT_FAILED" | "ERROR" | "SHUTDOWN")
                )
            }) {
                let dump: Vec<String> = lines.iter().map(Value::to_string).collect();
                drop(lines);
                panic!(
                    "the host stopped before mark `{mark}`:\n{}\nstderr:\n{}",
                    dump.join("\n"),
                    self.stderr_text()
                );
            }
            let now = Instant::now();
            if now >= end {
                let dump: Vec<String> = lines.iter().map(Value::to_string).collect();
                drop(lines);
                panic!(
                    "no mark `{mark}` within {STEP:?}:\n{}\nstderr:\n{}",
                    dump.join("\n"),
                    self.stderr_text()
                );
            }
            lines = self.lines.1.wait_timeout(lines, end - now).unwrap().0;
        }
    }

    fn stderr_text(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        // The end is what matters.
        let mut start = text.len().saturating_sub(20_000);
        while !text.is_char_boundary(start) {
            start += 1;
        }
        text[start..].to_owned()
    }

    /// Closes standard input (the end of the script: the host shuts the provider
    /// down) and waits for the host to exit.
    pub fn finish(mut self) -> Outcome {
        self.stdin = None;
        let mut proc = self.proc.take().unwrap();
        let end = Instant::now() + STEP;
        let status = loop {
            match proc.child.try_wait() {
                Ok(Some(s)) => break s.code(),
                Ok(None) if Instant::now() < end => std::thread::sleep(Duration::from_millis(10)),
                _ => break None,
            }
        };
        let took = self.started.elapsed();
        drop(proc);
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        let lines = self.lines();
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let _ = std::fs::write(self.stderr.with_extension("out"), text);
        Outcome {
            status,
            lines,
            junk: self.junk.lock().unwrap().clone(),
            stderr: self.stderr_text(),
            took,
        }
    }
}

impl Drop for HostRun {
    fn drop(&mut self) {
        self.stdin = None;
        self.proc = None;
    }
}

// ------------------------------------------------------------------ reading the outcome

impl Outcome {
    /// Everything printed, one JSON line each (for failure messages).
    pub fn dump(&self) -> String {
        let lines: Vec<String> = self.lines.iter().map(Value::to_string).collect();
        format!("{}\nstderr:\n{}", lines.join("\n"), self.stderr)
    }

    /// Exit status 0, only JSON on stdout, no violation, the provider shut down with
    /// every one of its threads gone.
    pub fn assert_clean(&self) {
        assert!(self.junk.is_empty(), "non-JSON output: {:?}", self.junk);
        let bad: Vec<&Value> = self
            .lines
            .iter()
            .filter(|l| {
                matches!(
                    l["msg"].as_str(),
                    Some("VIOLATION" | "TIMEOUT" | "EXPECT_FAILED" | "ERROR")
                )
            })
            .collect();
        assert!(bad.is_empty(), "{bad:?}\n{}", self.dump());
        assert_eq!(self.status, Some(0), "{}", self.dump());
        let shutdown = self.one("SHUTDOWN");
        assert_eq!(shutdown["result"], "0");
        // A thread just joined can still be listed for a moment (Linux /proc): the
        // count 200 ms later is the one that must be back where it was.
        assert_eq!(
            shutdown["threads_after_200ms"],
            shutdown["threads_before_init"],
            "provider threads left after TSPI_providerShutdown\n{}",
            self.dump()
        );
        for l in &self.lines {
            assert!(l["t"].is_u64(), "no timestamp: {l}");
        }
    }

    /// The only line with this `msg`.
    pub fn one(&self, msg: &str) -> &Value {
        let all = self.all(msg);
        assert_eq!(all.len(), 1, "{msg}: {all:?}");
        all[0]
    }

    /// Every line with this `msg`.
    pub fn all(&self, msg: &str) -> Vec<&Value> {
        self.lines.iter().filter(|l| l["msg"] == msg).collect()
    }

    /// The line's TAPI messages in order, compact, its calls lettered `a`, `b`, ...
    /// by first appearance: `NEWCALL b`, `CALLSTATE b OFFERING/ACTIVE`,
    /// `CALLINFO a CALLEDID`, `LINEDEVSTATE INSERVICE`, `ADDRESSSTATE FORWARD`,
    /// `GENERATE a DONE e2e=1`, `REMOVE`.
    ///
    /// The first `LINEDEVSTATE INSERVICE` is left out when it is the line's first
    /// message: a line whose synchronisation ends before `TSPI_lineOpen` has no
    /// message to get (TAPI then reads `lineGetLineDevStatus`, as `wait inservice`
    /// does), so whether it comes depends on timing alone.
    pub fn seq(&self, addr: &str) -> Vec<String> {
        let mut all = self.seq_all(addr);
        if all.first().is_some_and(|s| s == "LINEDEVSTATE INSERVICE") {
            all.remove(0);
        }
        all
    }

    /// [`seq`](Self::seq) with the first `INSERVICE` kept.
    pub fn seq_all(&self, addr: &str) -> Vec<String> {
        let mut letters: HashMap<u64, char> = HashMap::new();
        let mut out = Vec::new();
        for l in &self.lines {
            let Some(msg) = l["msg"].as_str().and_then(|m| m.strip_prefix("LINE_")) else {
                continue;
            };
            if l["addr"] != addr {
                continue;
            }
            let call = l["call"].as_u64().map(|c| {
                let n = letters.len() as u8;
                *letters.entry(c).or_insert((b'a' + n) as char)
            });
            let call = call.map(|c| c.to_string()).unwrap_or_default();
            let text = match msg {
                "NEWCALL" => format!("NEWCALL {call}"),
                "CALLSTATE" => {
                    let mut s = format!("CALLSTATE {call} {}", l["state"].as_str().unwrap());
                    if let Some(conf) = l["conf"].as_u64() {
                        let n = letters.len() as u8;
                        let c = *letters.entry(conf).or_insert((b'a' + n) as char);
                        s.push_str(&format!(" conf={c}"));
                    }
                    if let Some(modes) = l["mode_names"].as_array() {
                        let m: Vec<&str> = modes.iter().filter_map(Value::as_str).collect();
                        s.push('/');
                        s.push_str(&m.join("|"));
                    }
                    s
                }
                "CALLINFO" => {
                    let f: Vec<&str> = l["fields"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter_map(Value::as_str)
                        .collect();
                    format!("CALLINFO {call} {}", f.join("|"))
                }
                "LINEDEVSTATE" => format!("LINEDEVSTATE {}", l["state"].as_str().unwrap()),
                "ADDRESSSTATE" => format!("ADDRESSSTATE {}", l["state"].as_str().unwrap()),
                "GENERATE" => format!(
                    "GENERATE {call} {} e2e={}",
                    l["term"].as_str().unwrap(),
                    l["end_to_end"]
                ),
                other => other.to_owned(),
            };
            out.push(text);
        }
        out
    }

    /// [`seq`](Self::seq) grouped by call, each call's messages in order (`a:
    /// NEWCALL`, `a: CALLSTATE OFFERING/ACTIVE`, ..., then `b: ...`), the line's own
    /// messages first: for lines where two calls change at once for independent
    /// reasons (a transferee's old call ending while its new one rings), whose
    /// interleaving is timing.
    pub fn seq_by_call(&self, addr: &str) -> Vec<String> {
        let seq = self.seq(addr);
        let mut line: Vec<String> = Vec::new();
        let mut calls: Vec<(char, Vec<String>)> = Vec::new();
        for s in seq {
            let mut words = s.splitn(3, ' ');
            let (what, call, rest) = (words.next().unwrap(), words.next(), words.next());
            match call
                .and_then(|c| c.chars().next())
                .filter(|_| call.is_some_and(|c| c.len() == 1))
            {
                Some(c) => {
                    let text = match rest {
                        Some(r) => format!("{c}: {what} {r}"),
                        None => format!("{c}: {what}"),
                    };
                    match calls.iter_mut().find(|(k, _)| *k == c) {
                        Some((_, v)) => v.push(text),
                        None => calls.push((c, vec![text])),
                    }
                }
                None => line.push(s),
            }
        }
        calls.sort_by_key(|(c, _)| *c);
        line.into_iter()
            .chain(calls.into_iter().flat_map(|(_, v)| v))
            .collect()
    }

    /// The calls' letters of [`seq`](Self::seq) for one line: letter → htCall.
    pub fn calls_of(&self, addr: &str) -> Vec<u64> {
        let mut calls = Vec::new();
        for l in &self.lines {
            if l["addr"] == addr
                && l["msg"].as_str().is_some_and(|m| m.starts_with("LINE_"))
                && let Some(c) = l["call"].as_u64()
                && !calls.contains(&c)
            {
                calls.push(c);
            }
        }
        calls
    }

    /// The requests and how they ended, in order: `201 lineMakeCall 0`,
    /// `202 lineAnswer LINEERR_INVALCALLSTATE` (a synchronous error is the
    /// function's result; `lineGenerateDigits` is synchronous).
    pub fn requests(&self) -> Vec<String> {
        let mut out = Vec::new();
        for l in self.all("REQUEST") {
            let f = l["fn"].as_str().unwrap();
            let addr = l["addr"].as_str().unwrap_or("?");
            let result = l["result"].as_str().unwrap();
            let ended = match l["req"].as_u64() {
                Some(req) if result == req.to_string() => self
                    .lines
                    .iter()
                    .find(|c| c["msg"] == "COMPLETION" && c["req"] == req)
                    .map_or("(no completion)".to_owned(), |c| {
                        c["result"].as_str().unwrap().to_owned()
                    }),
                _ => result.to_owned(),
            };
            out.push(format!("{addr} {f} {ended}"));
        }
        out
    }

    /// The `CALLINFO` lines asked for, in order.
    pub fn callinfos(&self) -> Vec<&Value> {
        self.all("CALLINFO")
    }
}

/// `assert_eq!` for a line's sequence, with the whole output on failure.
#[macro_export]
macro_rules! assert_seq {
    ($out:expr, $addr:expr, [$($e:expr),* $(,)?]) => {{
        let want: Vec<&str> = vec![$($e),*];
        let got = $out.seq($addr);
        if std::env::var_os("TAPI_HOST_LEARN").is_some() {
            eprintln!("LEARN {}:{} {}: {:#?}", file!(), line!(), $addr, got);
        } else {
            assert_eq!(got, want, "line {} at {}:{}\n{}", $addr, file!(), line!(), $out.dump());
        }
    }};
}

/// `assert_eq!` for a line's sequence grouped by call ([`Outcome::seq_by_call`]).
#[macro_export]
macro_rules! assert_calls {
    ($out:expr, $addr:expr, [$($e:expr),* $(,)?]) => {{
        let want: Vec<&str> = vec![$($e),*];
        let got = $out.seq_by_call($addr);
        if std::env::var_os("TAPI_HOST_LEARN").is_some() {
            eprintln!("LEARN {}:{} {}: {:#?}", file!(), line!(), $addr, got);
        } else {
            assert_eq!(got, want, "line {} at {}:{}\n{}", $addr, file!(), line!(), $out.dump());
        }
    }};
}

/// `assert_eq!` for the requests and their results.
#[macro_export]
macro_rules! assert_requests {
    ($out:expr, [$($e:expr),* $(,)?]) => {{
        let want: Vec<&str> = vec![$($e),*];
        let got = $out.requests();
        if std::env::var_os("TAPI_HOST_LEARN").is_some() {
            eprintln!("LEARN {}:{} requests: {:#?}", file!(), line!(), got);
        } else {
            assert_eq!(got, want, "requests at {}:{}\n{}", file!(), line!(), $out.dump());
        }
    }};
}
