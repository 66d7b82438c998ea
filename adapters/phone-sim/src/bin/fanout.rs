//! `fanout`: the CSTA event fan-out latency benchmark (issue 6).
//!
//! In one process: a csta-server (digest registration, every phone a CSTA-controlled
//! line, CSTA XML over TCP on loopback), `--phones` simulated phones that register
//! and take the server's uaCSTA session, and `--clients` CSTA client applications that
//! each monitor every phone. Random phones (of those with a uaCSTA session) then
//! switch do-not-disturb at `--rate` events per second for `--seconds`; each switch
//! makes the phone send a `DoNotDisturbEvent` INFO, which the server fans out to every
//! client. The latency of one delivery runs from just before the phone is told to
//! switch to the moment a client has read the event off its socket. Phones, server and
//! clients share the machine's cores, so the figures are pessimistic.
//!
//! Not part of the test suite; build it with the `bench` feature:
//!
//! ```text
//! cargo run --release -p phone-sim --features bench --bin fanout -- \
//!     --phones 1000 --clients 10 --rate 500 --seconds 10
//! ```
//!
//! Exits 1 when deliveries are missing or the set-up fails.

use std::collections::HashMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use csta_core::framing::{self, FrameReader, InvokeId};
use csta_core::message::{self, Message};
use csta_core::types::DeviceRef;
use csta_server::config::{ClientUser, CstaLine, SipUser};
use csta_server::{Config, Server, ServerHandle};
use phone_sim::phone::Action;
use phone_sim::report::Report;
use phone_sim::runtime::{PhoneHandle, PhoneSpec, spawn};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, watch};

/// CSTA event fan-out latency: phone event INFO to client delivery.
#[derive(Debug, Parser)]
#[command(name = "fanout")]
struct Cli {
    /// Monitored phones.
    #[arg(long, default_value_t = 1000)]
    phones: u32,
    /// CSTA clients, each monitoring every phone.
    #[arg(long, default_value_t = 10)]
    clients: u32,
    /// Events per second (do-not-disturb switches of random phones).
    #[arg(long, default_value_t = 500.0)]
    rate: f64,
    /// How long events are generated, in seconds.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// How long to wait for every phone to be online, in seconds.
    #[arg(long, default_value_t = 120)]
    ready_timeout: u64,
}

/// The SIP domain of every phone.
const DOMAIN: &str = "localhost";
/// The first phone's user; the others follow.
const FIRST_USER: u32 = 10_000;
/// The phones' digest password.
const PASSWORD: &str = "fanout-secret";
/// MonitorStart requests a client has outstanding at once.
const WINDOW: usize = 100;
/// How long the run waits for late deliveries after the last event.
const DRAIN: Duration = Duration::from_secs(3);
/// How long one client read may take during the set-up.
const SETUP_READ: Duration = Duration::from_secs(30);

const ECMA354: &str = "http://www.ecma-international.org/standards/ecma-354/appl_session";
const ED5: &str = "http://www.ecma-international.org/standards/ecma-323/csta/ed5";

fn user(i: u32) -> String {
    (FIRST_USER + i).to_string()
}

fn config(dir: &std::path::Path, phones: u32, clients: u32) -> Config {
    let mut c = Config {
        data_dir: dir.to_path_buf(),
        ..Config::default()
    };
    c.sip.domain = DOMAIN.into();
    c.sip.udp = vec![SocketAddr::from(([127, 0, 0, 1], 0))];
    c.sip.tcp = Vec::new();
    c.sip.authenticate = true;
    c.clients.tcp = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    c.clients.websocket = None;
    c.http.listen = None;
    c.users = (0..phones)
        .map(|i| SipUser {
            name: user(i),
            password: PASSWORD.into(),
        })
        .collect();
    c.csta_lines = (0..phones)
        .map(|i| CstaLine {
            aor: format!("sip:{}@{DOMAIN}", user(i)),
            auth_user: "csta".into(),
            auth_password: "unused".into(),
            notify_mode: false,
            pickup_group: None,
        })
        .collect();
    c.client_users = (0..clients)
        .map(|i| ClientUser {
            name: format!("app{i}"),
            password: format!("app{i}-secret"),
            devices: vec!["*".into()],
        })
        .collect();
    c.limits.max_clients = c.limits.max_clients.max(clients as usize + 1);
    // Every client connects from this host.
    c.limits.max_clients_per_source = c.limits.max_clients_per_source.max(clients as usize + 1);
    // Every client monitors every phone.
    c.limits.max_monitors_per_client = c.limits.max_monitors_per_client.max(phones as usize);
    c
}

/// One CSTA client connection during its set-up.
struct Client {
    read: OwnedReadHalf,
    write: OwnedWriteHalf,
    frames: FrameReader<Vec<u8>>,
    next: u16,
    /// When the octets now buffered were read.
    last_read: Instant,
}

/// A decoded message: invokeID, root element, monitorCrossRefID, device.
struct Received {
    id: InvokeId,
    name: String,
    cross_ref: Option<String>,
    device: Option<String>,
}

fn device_text(d: &DeviceRef<'_>) -> Option<String> {
    match d {
        DeviceRef::DeviceIdentifier(id) | DeviceRef::NumberDialed(id) => {
            Some(id.id.raw().to_owned())
        }
        _ => None,
    }
}

/// What a frame body says, as far as the benchmark cares.
fn inspect(id: InvokeId, body: &[u8]) -> Result<Received, String> {
    let decoded = message::decode(body).map_err(|e| format!("undecodable message: {e}"))?;
    let (cross_ref, device) = match &decoded.message {
        Message::MonitorStartResponse(r) => (Some(r.monitor_cross_ref_id.0.raw().to_owned()), None),
        Message::DoNotDisturbEvent(e) => (
            e.monitor_cross_ref_id.map(|c| c.0.raw().to_owned()),
            device_text(&e.device),
        ),
        _ => (None, None),
    };
    Ok(Received {
        id,
        name: decoded.message.name().to_owned(),
        cross_ref,
        device,
    })
}

impl Client {
    async fn connect(addr: SocketAddr) -> Result<Client, String> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        let _ = stream.set_nodelay(true);
        let (read, write) = stream.into_split();
        Ok(Client {
            read,
            write,
            frames: FrameReader::new(vec![0; 140_000], framing::MAX_FRAME_LEN),
            next: 1,
            last_read: Instant::now(),
        })
    }

    async fn send(&mut self, xml: &str) -> Result<InvokeId, String> {
        let id = InvokeId::new(self.next).ok_or("invokeID out of range")?;
        self.next = if self.next >= InvokeId::MAX_REQUEST.get() {
            1
        } else {
            self.next + 1
        };
        let mut frame = vec![0; xml.len() + framing::HEADER_LEN];
        let n = framing::encode(id, xml.as_bytes(), &mut frame).map_err(|e| e.to_string())?;
        self.write
            .write_all(&frame[..n])
            .await
            .map_err(|e| format!("send: {e}"))?;
        Ok(id)
    }

    /// The next message, with the instant its last octets were read.
    async fn recv(&mut self) -> Result<(Received, Instant), String> {
        loop {
            if let Some(f) = self.frames.next_frame().map_err(|e| e.to_string())? {
                return Ok((inspect(f.invoke_id, f.body)?, self.last_read));
            }
            let n = self
                .read
                .read(self.frames.spare())
                .await
                .map_err(|e| format!("receive: {e}"))?;
            self.last_read = Instant::now();
            if n == 0 {
                return Err("the server closed the connection".into());
            }
            self.frames.commit(n);
        }
    }

    async fn recv_setup(&mut self) -> Result<Received, String> {
        match tokio::time::timeout(SETUP_READ, self.recv()).await {
            Ok(r) => r.map(|(m, _)| m),
            Err(_) => Err("no answer within 30 s".into()),
        }
    }

    /// StartApplicationSession, then a MonitorStart for every device; the monitors'
    /// cross-reference identifiers mapped to their devices.
    async fn set_up(
        &mut self,
        n: u32,
        devices: &[String],
    ) -> Result<HashMap<String, String>, String> {
        let start = format!(
            "<StartApplicationSession xmlns=\"{ECMA354}\"><applicationInfo>\
             <applicationID>fanout</applicationID><applicationSpecificInfo>\
             <userName>app{n}</userName><password>app{n}-secret</password>\
             </applicationSpecificInfo></applicationInfo><requestedProtocolVersions>\
             <protocolVersion>{ED5}</protocolVersion></requestedProtocolVersions>\
             <requestedSessionDuration>600</requestedSessionDuration>\
             </StartApplicationSession>"
        );
        self.send(&start).await?;
        let answer = self.recv_setup().await?;
        if answer.name != "StartApplicationSessionPosResponse" {
            return Err(format!("StartApplicationSession answered {}", answer.name));
        }
        let mut pending: HashMap<u16, &str> = HashMap::new();
        let mut monitors = HashMap::new();
        let mut queue = devices.iter();
        loop {
            while pending.len() < WINDOW {
                let Some(d) = queue.next() else { break };
                let xml = format!(
                    "<MonitorStart xmlns=\"{ED5}\"><monitorObject><deviceObject>{d}\
                     </deviceObject></monitorObject></MonitorStart>"
                );
                let id = self.send(&xml).await?;
                pending.insert(id.get(), d);
            }
            if pending.is_empty() {
                return Ok(monitors);
            }
            let m = self.recv_setup().await?;
            if m.id.is_event() {
                continue;
            }
            let Some(d) = pending.remove(&m.id.get()) else {
                return Err(format!("unexpected {} ({})", m.name, m.id.get()));
            };
            match m.cross_ref {
                Some(x) if m.name == "MonitorStartResponse" => {
                    monitors.insert(x, d.to_owned());
                }
                _ => return Err(format!("MonitorStart {d} answered {}", m.name)),
            }
        }
    }

    /// Reads until `stop`; the DoNotDisturbEvents received, with the device and the
    /// receive instant, in order.
    async fn listen(
        mut self,
        monitors: HashMap<String, String>,
        mut stop: watch::Receiver<bool>,
    ) -> Result<Vec<(String, Instant)>, String> {
        let mut got = Vec::new();
        loop {
            let m = tokio::select! {
                r = self.recv() => r?,
                _ = stop.changed() => return Ok(got),
            };
            let (m, at) = m;
            if m.name != "DoNotDisturbEvent" {
                continue;
            }
            let device = m
                .cross_ref
                .and_then(|x| monitors.get(&x).cloned())
                .or(m.device);
            if let Some(d) = device {
                got.push((d, at));
            }
        }
    }
}

/// What a run measured.
struct Outcome {
    phones_online: usize,
    events: usize,
    expected: usize,
    received: usize,
    unmatched: usize,
    latencies: Vec<Duration>,
}

async fn wait_online(server: &ServerHandle, want: u32, timeout: Duration) -> i64 {
    let end = Instant::now() + timeout;
    loop {
        let online = server.metrics().gauge("devices_online").unwrap_or(0);
        if online >= i64::from(want) || Instant::now() >= end {
            return online;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn run(cli: &Cli, out: &mut impl std::io::Write) -> Result<Outcome, String> {
    let dir = std::env::temp_dir().join(format!("fanout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let result = run_in(cli, &dir, out).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run_in(
    cli: &Cli,
    dir: &std::path::Path,
    out: &mut impl std::io::Write,
) -> Result<Outcome, String> {
    let server = Server::start(config(dir, cli.phones, cli.clients))
        .await
        .map_err(|e| format!("server: {e}"))?;
    let sip = *server
        .sip_udp_addrs()
        .first()
        .ok_or("the server has no UDP listener")?;
    let client_addr = server
        .client_tcp_addr()
        .ok_or("the server has no CSTA TCP listener")?;

    // Phones: reports are not needed, only drained.
    let t0 = Instant::now();
    let epoch = tokio::time::Instant::now();
    let (tx, mut reports) = mpsc::unbounded_channel::<phone_sim::runtime::Tagged>();
    let trouble = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let noted = trouble.clone();
    tokio::spawn(async move {
        while let Some(t) = reports.recv().await {
            if matches!(
                t.report,
                Report::CstaEventRejected { .. } | Report::Warning { .. } | Report::CstaDown { .. }
            ) && let Ok(mut v) = noted.lock()
            {
                v.push(t.to_json_line());
            }
        }
    });
    let mut phones: Vec<PhoneHandle> = Vec::new();
    for i in 0..cli.phones {
        let spec = PhoneSpec::new(&user(i), PASSWORD, DOMAIN, sip);
        let h = spawn(spec, epoch, tx.clone())
            .await
            .map_err(|e| format!("phone {}: {e}", user(i)))?;
        phones.push(h);
    }
    let online = wait_online(&server, cli.phones, Duration::from_secs(cli.ready_timeout)).await;
    let registered = phones.iter().filter(|p| p.status().registered).count();
    let csta = phones.iter().filter(|p| p.status().csta).count();
    let _ = writeln!(
        out,
        "phones online: {online} of {} after {:.1} s ({registered} registered, {csta} with a uaCSTA session)",
        cli.phones,
        t0.elapsed().as_secs_f64()
    );
    let phones_online = usize::try_from(online).unwrap_or(0);

    // Clients: each monitors every device.
    let devices: Vec<String> = (0..cli.phones).map(user).collect();
    let t1 = Instant::now();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut setups = Vec::new();
    for n in 0..cli.clients {
        let devices = devices.clone();
        let stop = stop_rx.clone();
        setups.push(tokio::spawn(async move {
            let mut c = Client::connect(client_addr).await?;
            let monitors = c.set_up(n, &devices).await?;
            Ok::<_, String>((c, monitors, stop))
        }));
    }
    let mut listeners = Vec::new();
    for s in setups {
        let (c, monitors, stop) = s.await.map_err(|e| e.to_string())??;
        listeners.push(tokio::spawn(c.listen(monitors, stop)));
    }
    let _ = writeln!(
        out,
        "clients: {} connected, each monitoring {} devices, in {:.1} s",
        cli.clients,
        cli.phones,
        t1.elapsed().as_secs_f64()
    );

    // Events: random phones with a uaCSTA session switch do-not-disturb; the send
    // instant is taken just before the phone is told.
    let active: Vec<&PhoneHandle> = phones.iter().filter(|p| p.status().csta).collect();
    let mut sent: HashMap<String, Vec<Instant>> = HashMap::new();
    let mut dnd = vec![false; active.len()];
    let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
    let interval = Duration::from_secs_f64(1.0 / cli.rate.max(0.001));
    let begin = tokio::time::Instant::now();
    let end = begin + Duration::from_secs_f64(cli.seconds.max(0.0));
    let mut next = begin;
    let mut events = 0;
    while next < end && !active.is_empty() {
        while next <= tokio::time::Instant::now() && next < end {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let i = usize::try_from(rng % active.len() as u64).unwrap_or(0);
            dnd[i] = !dnd[i];
            let at = Instant::now();
            if active[i].act(Action::DoNotDisturb(dnd[i])) {
                sent.entry(active[i].user().to_owned())
                    .or_default()
                    .push(at);
                events += 1;
            }
            next += interval;
        }
        tokio::time::sleep_until(next).await;
    }
    let expected = events * cli.clients as usize;
    let deadline = Instant::now() + DRAIN;
    while Instant::now() < deadline {
        let delivered = server.metrics().client_frames_sent.get();
        tokio::time::sleep(Duration::from_millis(200)).await;
        if server.metrics().client_frames_sent.get() == delivered {
            break;
        }
    }
    let _ = stop_tx.send(true);

    // Matching: for each client and device, the k-th event received is the k-th sent.
    let mut latencies = Vec::with_capacity(expected);
    let mut unmatched = 0;
    let mut first_client = true;
    let mut short = Vec::new();
    for l in listeners {
        let got = l.await.map_err(|e| e.to_string())??;
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (device, at) in &got {
            let k = seen.entry(device.as_str()).or_default();
            match sent.get(device.as_str()).and_then(|v| v.get(*k)) {
                Some(t) => latencies.push(at.saturating_duration_since(*t)),
                None => unmatched += 1,
            }
            *k += 1;
        }
        if first_client {
            first_client = false;
            for (device, times) in &sent {
                let n = seen.get(device.as_str()).copied().unwrap_or(0);
                if n < times.len() {
                    short.push(format!(
                        "{device}: {n} of {} received, gaps ms {:?}",
                        times.len(),
                        times
                            .windows(2)
                            .map(|w| w[1].saturating_duration_since(w[0]).as_millis())
                            .collect::<Vec<_>>()
                    ));
                }
            }
        }
    }
    for line in short.iter().take(5) {
        let _ = writeln!(out, "missing events, first client: {line}");
    }
    let received = latencies.len();
    if let Ok(v) = trouble.lock() {
        if !v.is_empty() {
            let _ = writeln!(out, "phone trouble reports: {}", v.len());
        }
        for line in v.iter().take(10) {
            let _ = writeln!(out, "  {line}");
        }
    }

    for p in &phones {
        p.request_stop();
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        for p in &phones {
            p.stopped().await;
        }
    })
    .await;
    let _ = tokio::time::timeout(Duration::from_secs(10), server.shutdown()).await;
    Ok(Outcome {
        phones_online,
        events,
        expected,
        received,
        unmatched,
        latencies,
    })
}

/// The `q` quantile (nearest rank) of sorted samples, in milliseconds.
fn quantile_ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fanout: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    let outcome = match rt.block_on(run(&cli, &mut out)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("fanout: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut lat = outcome.latencies;
    lat.sort_unstable();
    let missing = outcome.expected.saturating_sub(outcome.received);
    let _ = writeln!(
        out,
        "phones: {} ({} online)\nclients: {}\nevents sent: {} ({} /s for {} s)\n\
         deliveries: expected {}, received {}, missing {}, unmatched {}\n\
         latency ms: p50 {:.3}, p90 {:.3}, p99 {:.3}, max {:.3}\n\
         cores: {cores} (phones, server and clients share them: a pessimistic figure)",
        cli.phones,
        outcome.phones_online,
        cli.clients,
        outcome.events,
        cli.rate,
        cli.seconds,
        outcome.expected,
        outcome.received,
        missing,
        outcome.unmatched,
        quantile_ms(&lat, 0.50),
        quantile_ms(&lat, 0.90),
        quantile_ms(&lat, 0.99),
        lat.last().map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0),
    );
    if missing > 0 || outcome.expected == 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
