//! SIP over TLS against the server in-process on loopback, with a certificate generated
//! into a temporary directory and tokio-rustls clients that trust it: digest
//! registration, keep-alive, bad handshakes, the size limit, the idle timeout, the
//! connection limit, configuration errors, and `--dev-tls` in the binary.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use csta_server::config::{SipUser, TlsConfig};
use csta_server::registrar::{Binding, Transport};
use csta_server::tls::{DEV_CERTIFICATE_FILE, DevCertificate, TlsError};
use csta_server::{Config, Server, ServerHandle, StartError};
use rustls::ClientConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

const WAIT: Duration = Duration::from_secs(5);

/// A certificate for `example.test` (and loopback) written as `cert.pem`/`key.pem`.
fn certificate(dir: &Path) -> (DevCertificate, TlsConfig) {
    let cert = DevCertificate::generate("example.test").unwrap();
    let files = TlsConfig {
        certificate: dir.join("cert.pem"),
        private_key: dir.join("key.pem"),
    };
    std::fs::write(&files.certificate, cert.certificate_pem()).unwrap();
    std::fs::write(&files.private_key, cert.private_key_pem()).unwrap();
    (cert, files)
}

fn config(dir: &Path, tls: TlsConfig) -> Config {
    let mut c = Config::default();
    c.sip.domain = "localhost".into();
    c.sip.udp = vec!["127.0.0.1:0".parse().unwrap()];
    c.sip.tcp = vec!["127.0.0.1:0".parse().unwrap()];
    c.sip.tls = vec!["127.0.0.1:0".parse().unwrap()];
    c.tls = Some(tls);
    c.data_dir = dir.join("data");
    c.timers.tcp_idle_timeout = 1;
    c.limits.max_message_size = 4096;
    c.limits.max_tcp_connections = 3;
    c.clients.tcp = None;
    c.clients.websocket = None;
    c.http.listen = None;
    c.users = vec![SipUser {
        name: "201".into(),
        password: "secret201".into(),
    }];
    c
}

async fn start() -> (ServerHandle, DevCertificate, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (cert, files) = certificate(dir.path());
    let server = Server::start(config(dir.path(), files)).await.unwrap();
    assert_eq!(server.sip_tls_addrs().len(), 1);
    assert_ne!(server.sip_tls_addrs()[0].port(), 0);
    (server, cert, dir)
}

fn connector(trusted: &CertificateDer<'static>) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trusted.clone()).unwrap();
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// A TLS connection to `addr` verifying the server as `name`.
async fn connect(
    addr: SocketAddr,
    trusted: &CertificateDer<'static>,
    name: &str,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(name.to_owned()).unwrap();
    timeout(WAIT, connector(trusted).connect(name, tcp))
        .await
        .unwrap()
}

fn request(method: &str, call_id: &str) -> Vec<u8> {
    format!(
        "{method} sip:localhost SIP/2.0\r\n\
         Via: SIP/2.0/TLS 192.0.2.1:5999;rport;branch=z9hG4bK-{call_id}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:alice@localhost>;tag=a1\r\n\
         To: <sip:server@localhost>\r\nCall-ID: {call_id}\r\nCSeq: 1 {method}\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

fn register(call_id: &str, cseq: u32, contact: &str, auth: Option<&str>) -> Vec<u8> {
    let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    format!(
        "REGISTER sips:localhost SIP/2.0\r\n\
         Via: SIP/2.0/TLS 192.0.2.1:5999;rport;branch=z9hG4bK-{call_id}-{cseq}\r\n\
         Max-Forwards: 70\r\nFrom: <sips:201@localhost>;tag=r1\r\n\
         To: <sips:201@localhost>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\n\
         {contact}{auth}Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// The Authorization answering the response's MD5 challenge.
fn answer(resp: &str) -> String {
    common::digest_answer(resp, "sips:localhost")
}

/// Reads one response with an empty body.
async fn response<S: AsyncRead + Unpin>(stream: &mut S) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = timeout(WAIT, stream.read(&mut byte))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            n,
            1,
            "connection closed after {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.push(byte[0]);
    }
    String::from_utf8(buf).unwrap()
}

/// Waits until the server closes the stream (end of stream or an error such as a
/// reset); returns what it sent before.
async fn closed_by_server<S: AsyncRead + Unpin>(stream: &mut S) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match timeout(WAIT, stream.read(&mut buf)).await {
            Err(_) => panic!("the server did not close the connection"),
            Ok(Ok(0) | Err(_)) => return all,
            Ok(Ok(n)) => all.extend_from_slice(&buf[..n]),
        }
    }
}

fn status_line(resp: &str) -> &str {
    resp.lines().next().unwrap()
}

fn top_via(resp: &str) -> &str {
    resp.lines().find_map(|l| l.strip_prefix("Via: ")).unwrap()
}

/// Sends OPTIONS on a fresh trusted connection and expects 200.
async fn options_works<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, call_id: &str) {
    s.write_all(&request("OPTIONS", call_id)).await.unwrap();
    let resp = response(s).await;
    assert_eq!(status_line(&resp), "SIP/2.0 200 OK", "{resp}");
    assert!(
        resp.contains(&format!("\r\nCall-ID: {call_id}\r\n")),
        "{resp}"
    );
}

#[tokio::test]
async fn register_with_digest_over_tls_binds_a_tls_contact() {
    let (server, cert, dir) = start().await;
    let addr = server.sip_tls_addrs()[0];
    let mut s = connect(addr, cert.certificate_der(), "localhost")
        .await
        .unwrap();
    let me = s.get_ref().0.local_addr().unwrap();
    let contact = "Contact: <sips:201@192.0.2.1:5999>;expires=600\r\n";
    s.write_all(&register("t1", 1, contact, None))
        .await
        .unwrap();
    let challenge = response(&mut s).await;
    assert_eq!(status_line(&challenge), "SIP/2.0 401 Unauthorized");
    let auth = answer(&challenge);
    s.write_all(&register("t1", 2, contact, Some(&auth)))
        .await
        .unwrap();
    let ok = response(&mut s).await;
    assert_eq!(status_line(&ok), "SIP/2.0 200 OK", "{ok}");
    // Back on the connection, with what the server saw of the phone's address.
    assert_eq!(
        top_via(&ok),
        format!(
            "SIP/2.0/TLS 192.0.2.1:5999;branch=z9hG4bK-t1-2;received=127.0.0.1;rport={}",
            me.port()
        )
    );
    assert!(
        ok.contains("\r\nContact: <sips:201@192.0.2.1:5999>;expires=600\r\n"),
        "{ok}"
    );

    // RFC 5626 keep-alive: a double CRLF is answered with one CRLF; a lone CRLF is
    // ignored, and the connection still carries requests.
    s.write_all(b"\r\n\r\n").await.unwrap();
    let mut pong = [0u8; 2];
    timeout(WAIT, s.read_exact(&mut pong))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&pong, b"\r\n");
    s.write_all(b"\r\n").await.unwrap();
    options_works(&mut s, "t2").await;
    server.shutdown().await.unwrap();

    // The stored binding records the TLS transport and the connection's address.
    let store = csta_server::store::Store::open(&dir.path().join("data")).unwrap();
    let rows = store.all_bindings().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].aor, "201@localhost");
    let bindings: Vec<Binding> = serde_json::from_slice(&rows[0].value).unwrap();
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0].transport, Transport::Tls);
    assert_eq!(bindings[0].source, me);
    assert_eq!(bindings[0].contact, "sips:201@192.0.2.1:5999");
    store.close();
}

#[tokio::test]
async fn certificate_names_are_verified() {
    let (server, cert, _dir) = start().await;
    let addr = server.sip_tls_addrs()[0];
    for name in ["localhost", "127.0.0.1", "::1", "example.test"] {
        let mut s = connect(addr, cert.certificate_der(), name)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let (_, conn) = s.get_ref();
        let version = conn.protocol_version().unwrap();
        assert!(
            [
                rustls::ProtocolVersion::TLSv1_3,
                rustls::ProtocolVersion::TLSv1_2
            ]
            .contains(&version)
        );
        options_works(&mut s, &format!("n-{}", name.len())).await;
    }
    // A name the certificate does not hold.
    let e = connect(addr, cert.certificate_der(), "other.test")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_handshakes_are_dropped_and_the_server_stays_up() {
    let (server, cert, _dir) = start().await;
    let addr = server.sip_tls_addrs()[0];

    // Plain SIP to the TLS port: closed without a SIP answer.
    let mut plain = TcpStream::connect(addr).await.unwrap();
    plain.write_all(&request("OPTIONS", "p1")).await.unwrap();
    let got = closed_by_server(&mut plain).await;
    assert!(!got.starts_with(b"SIP/2.0"), "{got:?}");

    // Bytes that are no TLS record at all.
    let mut garbage = TcpStream::connect(addr).await.unwrap();
    garbage.write_all(&[0xff; 64]).await.unwrap();
    closed_by_server(&mut garbage).await;

    // A client that does not trust the certificate gives up the handshake.
    let other = DevCertificate::generate("localhost").unwrap();
    let e = connect(addr, other.certificate_der(), "localhost")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");

    // A client that connects and says nothing is closed after the idle timeout (1 s).
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let started = std::time::Instant::now();
    assert!(closed_by_server(&mut silent).await.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(900));

    // A following good client is served.
    let mut s = connect(addr, cert.certificate_der(), "localhost")
        .await
        .unwrap();
    options_works(&mut s, "good").await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn oversize_message_over_tls_gets_413_and_close() {
    let (server, cert, _dir) = start().await;
    let addr = server.sip_tls_addrs()[0];
    let mut s = connect(addr, cert.certificate_der(), "localhost")
        .await
        .unwrap();
    let head = "OPTIONS sip:server@localhost SIP/2.0\r\n\
                Via: SIP/2.0/TLS 192.0.2.1:5999;branch=z9hG4bK-big\r\n\
                Max-Forwards: 70\r\nFrom: <sip:alice@localhost>;tag=a1\r\n\
                To: <sip:server@localhost>\r\nCall-ID: big\r\nCSeq: 1 OPTIONS\r\n\
                Content-Length: 999999\r\n\r\n";
    s.write_all(head.as_bytes()).await.unwrap();
    let got = closed_by_server(&mut s).await;
    let text = String::from_utf8(got).unwrap();
    assert!(
        text.starts_with("SIP/2.0 413 Request Entity Too Large\r\n"),
        "{text}"
    );
    assert!(text.contains("\r\nCall-ID: big\r\n"), "{text}");

    // A header section larger than the limit closes without an answer.
    let mut s = connect(addr, cert.certificate_der(), "localhost")
        .await
        .unwrap();
    let long = format!(
        "OPTIONS sip:server@localhost SIP/2.0\r\nX-Filler: {}\r\n",
        "a".repeat(5000)
    );
    s.write_all(long.as_bytes()).await.unwrap();
    assert!(closed_by_server(&mut s).await.is_empty());

    let mut s = connect(addr, cert.certificate_der(), "localhost")
        .await
        .unwrap();
    options_works(&mut s, "after-big").await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn tls_connections_count_against_the_connection_limit() {
    let (server, cert, _dir) = start().await;
    let tls = server.sip_tls_addrs()[0];
    let tcp = server.sip_tcp_addrs()[0];
    // The limit is 3, shared by TCP and TLS.
    let mut a = connect(tls, cert.certificate_der(), "localhost")
        .await
        .unwrap();
    options_works(&mut a, "l1").await;
    let mut b = TcpStream::connect(tcp).await.unwrap();
    b.write_all(&request("OPTIONS", "l2")).await.unwrap();
    assert_eq!(status_line(&response(&mut b).await), "SIP/2.0 200 OK");
    let mut c = connect(tls, cert.certificate_der(), "localhost")
        .await
        .unwrap();
    options_works(&mut c, "l3").await;
    // The fourth is closed at once, before any handshake.
    let mut d = TcpStream::connect(tls).await.unwrap();
    let _ = d.write_all(&[0x16, 0x03, 0x01]).await;
    assert!(closed_by_server(&mut d).await.is_empty());
    // Once one closes, a new one is accepted.
    drop(b);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut e = connect(tls, cert.certificate_der(), "localhost")
        .await
        .unwrap();
    options_works(&mut e, "l4").await;
    server.shutdown().await.unwrap();
}

/// The error starting a server with these TLS files.
async fn start_error(dir: &Path, files: TlsConfig) -> String {
    match Server::start(config(dir, files)).await {
        Err(StartError::Tls(e)) => {
            let text = e.to_string();
            let _: TlsError = e;
            text
        }
        Err(e) => panic!("expected a TLS error, got {e}"),
        Ok(s) => {
            s.shutdown().await.unwrap();
            panic!("the server started")
        }
    }
}

#[tokio::test]
async fn configuration_errors_name_the_key_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, good) = certificate(dir.path());
    let missing = dir.path().join("missing.pem");
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "hello\n").unwrap();
    let broken = dir.path().join("broken.pem");
    std::fs::write(
        &broken,
        "-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let unterminated = dir.path().join("unterminated.pem");
    std::fs::write(&unterminated, "-----BEGIN PRIVATE KEY-----\nAAAA\n").unwrap();
    let other_key = dir.path().join("other-key.pem");
    std::fs::write(
        &other_key,
        DevCertificate::generate("localhost")
            .unwrap()
            .private_key_pem(),
    )
    .unwrap();

    let e = start_error(
        dir.path(),
        TlsConfig {
            certificate: missing.clone(),
            ..good.clone()
        },
    )
    .await;
    assert!(
        e.starts_with(&format!(
            "invalid configuration: `tls.certificate`: cannot read {}: ",
            missing.display()
        )),
        "{e}"
    );
    let e = start_error(
        dir.path(),
        TlsConfig {
            private_key: missing.clone(),
            ..good.clone()
        },
    )
    .await;
    assert!(
        e.starts_with(&format!(
            "invalid configuration: `tls.private_key`: cannot read {}: ",
            missing.display()
        )),
        "{e}"
    );
    let e = start_error(
        dir.path(),
        TlsConfig {
            certificate: not_pem.clone(),
            ..good.clone()
        },
    )
    .await;
    assert_eq!(
        e,
        format!(
            "invalid configuration: `tls.certificate`: {} holds no certificate \
             (a PEM `BEGIN CERTIFICATE` section)",
            not_pem.display()
        )
    );
    // The certificate file where the key should be: no key in it.
    let e = start_error(
        dir.path(),
        TlsConfig {
            private_key: good.certificate.clone(),
            ..good.clone()
        },
    )
    .await;
    assert!(
        e.starts_with(&format!(
            "invalid configuration: `tls.private_key`: {} holds no unencrypted private key",
            good.certificate.display()
        )),
        "{e}"
    );
    let e = start_error(
        dir.path(),
        TlsConfig {
            certificate: broken.clone(),
            ..good.clone()
        },
    )
    .await;
    assert!(
        e.starts_with(&format!(
            "invalid configuration: `tls.certificate`: {} is not valid PEM: ",
            broken.display()
        )),
        "{e}"
    );
    let e = start_error(
        dir.path(),
        TlsConfig {
            private_key: unterminated.clone(),
            ..good.clone()
        },
    )
    .await;
    assert!(
        e.starts_with(&format!(
            "invalid configuration: `tls.private_key`: {} is not valid PEM: ",
            unterminated.display()
        )),
        "{e}"
    );
    let e = start_error(
        dir.path(),
        TlsConfig {
            private_key: other_key,
            ..good.clone()
        },
    )
    .await;
    assert!(
        e.starts_with(
            "invalid configuration: `tls`: the certificate and private key cannot be used: "
        ),
        "{e}"
    );

    // The good pair starts, and the listeners were released by the failed starts.
    let server = Server::start(config(dir.path(), good)).await.unwrap();
    let mut s = connect(
        server.sip_tls_addrs()[0],
        cert.certificate_der(),
        "localhost",
    )
    .await
    .unwrap();
    options_works(&mut s, "cfg").await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn dev_tls_generates_a_certificate_in_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), certificate(dir.path()).1);
    // The [tls] files are not used with --dev-tls.
    c.tls = None;
    c.sip.domain = "pbx.example.test".into();
    c.enable_dev_tls();
    assert_eq!(c.sip.tls, vec!["127.0.0.1:0".parse().unwrap()]);
    let server = Server::start(c).await.unwrap();
    let pem = dir.path().join("data").join(DEV_CERTIFICATE_FILE);
    let der = CertificateDer::from_pem_file(&pem).unwrap();
    let addr = server.sip_tls_addrs()[0];
    for (i, name) in ["localhost", "::1", "pbx.example.test"].iter().enumerate() {
        let mut s = connect(addr, &der, name).await.unwrap();
        options_works(&mut s, &format!("dev{i}")).await;
    }
    // Only the certificate is written, not its key.
    assert!(
        !std::fs::read_to_string(&pem)
            .unwrap()
            .contains("PRIVATE KEY")
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn tls_over_ipv6() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback here; skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (cert, files) = certificate(dir.path());
    let mut c = config(dir.path(), files);
    c.sip.tls = vec!["[::1]:0".parse().unwrap()];
    let server = Server::start(c).await.unwrap();
    let addr = server.sip_tls_addrs()[0];
    assert!(addr.is_ipv6());
    let mut s = connect(addr, cert.certificate_der(), "::1").await.unwrap();
    s.write_all(&request("OPTIONS", "v6")).await.unwrap();
    let resp = response(&mut s).await;
    assert_eq!(status_line(&resp), "SIP/2.0 200 OK", "{resp}");
    let port = s.get_ref().0.local_addr().unwrap().port();
    assert_eq!(
        top_via(&resp),
        format!("SIP/2.0/TLS 192.0.2.1:5999;branch=z9hG4bK-v6;received=::1;rport={port}")
    );
    server.shutdown().await.unwrap();
}

#[test]
fn binary_with_dev_tls_logs_the_fingerprint_and_serves_tls() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("c.toml");
    std::fs::write(
        &conf,
        "[sip]\nudp = [\"127.0.0.1:0\"]\ntcp = [\"127.0.0.1:0\"]\ntls = [\"127.0.0.1:0\"]\n\
         [clients]\ntcp = false\nwebsocket = false\n[http]\nlisten = false\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let mut child = Command::new(env!("CARGO_BIN_EXE_csta-server"))
        .arg("--config")
        .arg(&conf)
        .arg("--data-dir")
        .arg(&data)
        .arg("--dev-tls")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut tls: Option<SocketAddr> = None;
    let mut fingerprint = None;
    let mut warned = false;
    loop {
        let line = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(l) => l,
            Err(e) => {
                let _ = child.kill();
                panic!("no ready line: {e}");
            }
        };
        if let Some((_, a)) = line.split_once("SIP TLS listening on ") {
            tls = Some(a.trim().parse().unwrap());
        }
        if let Some((_, f)) = line.split_once("SHA-256 fingerprint ") {
            fingerprint = Some(f.trim().to_owned());
        }
        warned |= line.contains("WARN") && line.contains("FOR TRYING OUT ONLY");
        if line.ends_with("ready") {
            break;
        }
    }
    let der = CertificateDer::from_pem_file(data.join(DEV_CERTIFICATE_FILE)).unwrap();
    assert_eq!(
        fingerprint.as_deref(),
        Some(csta_server::tls::fingerprint(der.as_ref()).as_str())
    );
    assert!(warned);
    let tls = tls.unwrap();
    assert_ne!(tls.port(), 0);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut s = connect(tls, &der, "localhost").await.unwrap();
        options_works(&mut s, "bin").await;
    });

    let exit = common::stop_with_sigterm(&mut child);
    assert!(exit.success(), "{exit:?}");
}

#[tokio::test]
async fn csta_clients_over_tls_start_a_session_and_plain_tcp_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, files) = certificate(dir.path());
    let mut c = config(dir.path(), files);
    c.clients.tls = Some("127.0.0.1:0".parse().unwrap());
    c.client_users.push(csta_server::config::ClientUser {
        name: "crm".into(),
        password: "crm-secret".into(),
        devices: vec!["*".into()],
    });
    let server = Server::start(c).await.unwrap();
    let addr = server.client_tls_addr().unwrap();
    let start = "<StartApplicationSession xmlns=\"http://www.ecma-international.org/\
                 standards/ecma-354/appl_session\"><applicationInfo><applicationID>t\
                 </applicationID><applicationSpecificInfo><userName>crm</userName>\
                 <password>crm-secret</password></applicationSpecificInfo>\
                 </applicationInfo></StartApplicationSession>";
    let mut frame = vec![0; start.len() + csta_core::framing::HEADER_LEN];
    let id = csta_core::framing::InvokeId::new(1).unwrap();
    let n = csta_core::framing::encode(id, start.as_bytes(), &mut frame).unwrap();

    let mut s = connect(addr, cert.certificate_der(), "localhost")
        .await
        .unwrap();
    s.write_all(&frame[..n]).await.unwrap();
    let mut frames = csta_core::framing::FrameReader::new(vec![0; 8192], 8192);
    let answer = loop {
        if let Some(f) = frames.next_frame().unwrap() {
            break String::from_utf8(f.body.to_vec()).unwrap();
        }
        let n = timeout(WAIT, s.read(frames.spare()))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed before the answer");
        frames.commit(n);
    };
    assert!(
        answer.contains("<StartApplicationSessionPosResponse"),
        "{answer}"
    );

    // Plain CSTA on the TLS port is no handshake: closed without an answer.
    let mut plain = TcpStream::connect(addr).await.unwrap();
    plain.write_all(&frame[..n]).await.unwrap();
    let mut got = Vec::new();
    let _ = timeout(WAIT, plain.read_to_end(&mut got)).await.unwrap();
    // At most a TLS alert (content type 21), never a CSTA frame.
    assert!(got.is_empty() || got[0] == 21, "{got:?}");
    server.shutdown().await.unwrap();
}
