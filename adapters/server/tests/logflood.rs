//! Log floods: a host that opens connection after connection beyond its limit, one
//! that fails log-in after log-in, and one that fills the SIP TCP listener get a few
//! log lines a second each, the next line counting what was left out, not one line
//! per attempt. The server's log is captured by this test binary's own subscriber.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use csta_core::framing::{self, FrameReader, InvokeId};
use csta_server::config::ClientUser;
use csta_server::{Config, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(3);
/// The lines a second one cause may log (`csta_server::lograte::LINES_PER_SECOND`).
const PER_SECOND: usize = csta_server::lograte::LINES_PER_SECOND as usize;

/// Everything the server logs, as text.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Log {
    fn lines(&self, containing: &str) -> Vec<String> {
        let text = self.0.lock().unwrap().clone();
        String::from_utf8_lossy(&text)
            .lines()
            .filter(|l| l.contains(containing))
            .map(str::to_owned)
            .collect()
    }
}

/// The `suppressed` counts of `lines`.
fn suppressed(lines: &[String]) -> Vec<u64> {
    lines
        .iter()
        .filter_map(|l| l.split("suppressed=").nth(1))
        .filter_map(|s| s.split_whitespace().next()?.parse().ok())
        .collect()
}

/// The most lines one cause may have logged in `elapsed`.
fn budget(elapsed: Duration) -> usize {
    PER_SECOND * (elapsed.as_secs() as usize + 2)
}

async fn connect_from(ip: [u8; 4], to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((ip, 0)))?;
    socket.connect(to).await
}

fn login_xml(password: &str) -> String {
    format!(
        "<StartApplicationSession xmlns=\"http://www.ecma-international.org/standards/\
         ecma-354/appl_session\"><applicationInfo><applicationID>t</applicationID>\
         <applicationSpecificInfo><userName>crm</userName><password>{password}\
         </password></applicationSpecificInfo></applicationInfo></StartApplicationSession>"
    )
}

/// Sends one frame and reads the answer (`None` when the server closed first).
async fn ask(stream: &mut TcpStream, xml: &str) -> Option<String> {
    let mut frame = vec![0; xml.len() + framing::HEADER_LEN];
    let n = framing::encode(InvokeId::new(1).unwrap(), xml.as_bytes(), &mut frame).unwrap();
    stream.write_all(&frame[..n]).await.ok()?;
    let mut frames = FrameReader::new(vec![0; 70_000], 65_535);
    loop {
        if let Some(f) = frames.next_frame().unwrap() {
            return Some(String::from_utf8(f.body.to_vec()).unwrap());
        }
        let n = timeout(WAIT, stream.read(frames.spare()))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        frames.commit(n);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floods_log_a_few_lines_a_second_with_the_count_left_out() {
    let log = Log::default();
    let writer = log.clone();
    tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .init();

    let dir = tempfile::tempdir().unwrap();
    let lo: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut c = Config {
        data_dir: dir.path().to_owned(),
        ..Config::default()
    };
    c.sip.udp = vec![lo];
    c.sip.tcp = vec![lo];
    c.clients.tcp = Some(lo);
    c.clients.websocket = None;
    c.http.listen = None;
    c.limits.max_clients_per_source = 4;
    c.limits.max_tcp_connections = 1;
    c.timers.client_login_timeout = 60;
    c.client_users.push(ClientUser {
        name: "crm".into(),
        password: "crm-secret".into(),
        devices: vec!["*".into()],
    });
    let server = Server::start(c).await.unwrap();
    let clients = server.client_tcp_addr().unwrap();
    let sip = server.sip_tcp_addrs()[0];
    let start = Instant::now();

    // 1. 127.0.0.2 holds its four connections and opens 200 more.
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(connect_from([127, 0, 0, 2], clients).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    for _ in 0..200 {
        if let Ok(mut s) = connect_from([127, 0, 0, 2], clients).await {
            let _ = timeout(WAIT, s.read(&mut [0; 16])).await;
        }
    }
    // 2. 127.0.0.3 fails to log in 60 times, three times on each connection (the
    // server closes it then), a connection at a time.
    for _ in 0..20 {
        let mut s = connect_from([127, 0, 0, 3], clients).await.unwrap();
        for _ in 0..3 {
            let answer = ask(&mut s, &login_xml("wrong")).await.unwrap_or_default();
            assert!(answer.contains("NegResponse"), "{answer}");
        }
        let _ = timeout(WAIT, s.read(&mut [0; 16])).await;
    }
    // 3. SIP over TCP: one connection holds the only place, 200 more are refused.
    let _sip_held = TcpStream::connect(sip).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    for _ in 0..200 {
        if let Ok(mut s) = TcpStream::connect(sip).await {
            let _ = timeout(WAIT, s.read(&mut [0; 16])).await;
        }
    }
    // A second on, one more of each: its line says how many were left out.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    if let Ok(mut s) = connect_from([127, 0, 0, 2], clients).await {
        let _ = timeout(WAIT, s.read(&mut [0; 16])).await;
    }
    let mut s = connect_from([127, 0, 0, 3], clients).await.unwrap();
    ask(&mut s, &login_xml("wrong")).await;
    if let Ok(mut s) = TcpStream::connect(sip).await {
        let _ = timeout(WAIT, s.read(&mut [0; 16])).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let elapsed = start.elapsed();

    for (cause, attempts) in [
        ("client limit of the source address reached", 201),
        ("application session refused", 61),
        ("connection limit reached; connection refused", 201),
    ] {
        let lines = log.lines(cause);
        assert!(!lines.is_empty(), "{cause}: not logged at all");
        assert!(
            lines.len() <= budget(elapsed),
            "{cause}: {} lines in {elapsed:?} for {attempts} attempts",
            lines.len()
        );
        // Every attempt is either a line or counted in a later one.
        let counted: u64 = suppressed(&lines).iter().sum();
        assert_eq!(
            lines.len() as u64 + counted,
            attempts,
            "{cause}: {lines:#?}"
        );
    }
    server.shutdown().await.unwrap();
}
