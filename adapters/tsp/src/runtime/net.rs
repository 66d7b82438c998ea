//! The CSTA link's transport: TCP, or TLS with rustls (the server's certificate
//! checked against trusted roots, or pinned by its SHA-256 fingerprint).

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use sha2::{Digest, Sha256};

use crate::config::{ProviderConfig, Tls};

/// How long one address may take to accept the TCP connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the link could not be opened.
#[derive(Debug)]
pub enum ConnectError {
    /// The name did not resolve, or no address accepted.
    Io(io::Error),
    /// TLS could not be set up (bad CA file, certificate refused, handshake failed).
    Tls(String),
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Io(e) => write!(f, "{e}"),
            ConnectError::Tls(e) => write!(f, "TLS: {e}"),
        }
    }
}

impl std::error::Error for ConnectError {}

impl From<io::Error> for ConnectError {
    fn from(e: io::Error) -> Self {
        ConnectError::Io(e)
    }
}

/// An open link: read from one thread, written from another.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    tcp: Arc<TcpStream>,
    tls: Option<Arc<Mutex<ClientConnection>>>,
}

impl Link {
    /// Connects to the configured server.
    pub(crate) fn connect(config: &ProviderConfig) -> Result<Link, ConnectError> {
        let tcp = tcp_connect(&config.server, config.port)?;
        let tls = match &config.tls {
            Tls::Off => None,
            tls => {
                let client = client_config(tls)?;
                let name = ServerName::try_from(config.server_name.clone())
                    .map_err(|e| ConnectError::Tls(format!("server name: {e}")))?;
                let mut conn = ClientConnection::new(Arc::new(client), name)
                    .map_err(|e| ConnectError::Tls(e.to_string()))?;
                tcp.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
                let mut stream = &tcp;
                while conn.is_handshaking() {
                    conn.complete_io(&mut stream)
                        .map_err(|e| ConnectError::Tls(e.to_string()))?;
                }
                tcp.set_read_timeout(None)?;
                Some(Arc::new(Mutex::new(conn)))
            }
        };
        Ok(Link {
            tcp: Arc::new(tcp),
            tls,
        })
    }

    /// Reads plaintext; 0 at the end of the stream.
    pub(crate) fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(tls) = &self.tls else {
            return (&*self.tcp).read(buf);
        };
        loop {
            {
                let mut conn = tls.lock().unwrap_or_else(PoisonError::into_inner);
                match conn.reader().read(buf) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
            let mut raw = [0u8; 16 * 1024];
            let n = (&*self.tcp).read(&mut raw)?;
            let mut conn = tls.lock().unwrap_or_else(PoisonError::into_inner);
            if n == 0 {
                // A close without close_notify is still an end.
                return Ok(0);
            }
            conn.read_tls(&mut &raw[..n])?;
            if let Err(e) = conn.process_new_packets() {
                // Send the alert, then report.
                let _ = conn.write_tls(&mut &*self.tcp);
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
            while conn.wants_write() {
                conn.write_tls(&mut &*self.tcp)?;
            }
        }
    }

    /// Writes all of `data`.
    pub(crate) fn write_all(&self, data: &[u8]) -> io::Result<()> {
        match &self.tls {
            None => (&*self.tcp).write_all(data),
            Some(tls) => {
                let mut conn = tls.lock().unwrap_or_else(PoisonError::into_inner);
                conn.writer().write_all(data)?;
                while conn.wants_write() {
                    conn.write_tls(&mut &*self.tcp)?;
                }
                Ok(())
            }
        }
    }

    /// Closes both directions: a blocked reader returns.
    pub(crate) fn close(&self) {
        if let Some(tls) = &self.tls {
            let mut conn = tls.lock().unwrap_or_else(PoisonError::into_inner);
            conn.send_close_notify();
            let _ = conn.write_tls(&mut &*self.tcp);
        }
        let _ = self.tcp.shutdown(Shutdown::Both);
    }
}

fn tcp_connect(host: &str, port: u16) -> Result<TcpStream, ConnectError> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the server name has no address");
    for addr in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(s) => {
                s.set_nodelay(true)?;
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(ConnectError::Io(last))
}

fn client_config(tls: &Tls) -> Result<ClientConfig, ConnectError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ConnectError::Tls(e.to_string()))?;
    let config = match tls {
        Tls::Off => unreachable!("plain TCP needs no TLS configuration"),
        Tls::Verify { ca_file } => {
            let mut roots = RootCertStore::empty();
            match ca_file {
                Some(path) => {
                    use rustls::pki_types::pem::PemObject;
                    let certs = CertificateDer::pem_file_iter(path)
                        .map_err(|e| ConnectError::Tls(format!("{path}: {e}")))?;
                    for cert in certs {
                        let cert = cert.map_err(|e| ConnectError::Tls(format!("{path}: {e}")))?;
                        roots
                            .add(cert)
                            .map_err(|e| ConnectError::Tls(format!("{path}: {e}")))?;
                    }
                }
                None => {
                    let found = rustls_native_certs::load_native_certs();
                    for cert in found.certs {
                        let _ = roots.add(cert);
                    }
                }
            }
            if roots.is_empty() {
                return Err(ConnectError::Tls("no trusted certificate authority".into()));
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        Tls::Pinned { sha256 } => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned {
                sha256: *sha256,
                provider,
            }))
            .with_no_client_auth(),
    };
    Ok(config)
}

/// Accepts exactly the server certificate with this SHA-256 fingerprint (the server's
/// `--dev-tls` certificate, or any self-signed one), with the handshake signatures
/// still verified.
#[derive(Debug)]
struct Pinned {
    sha256: [u8; 32],
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let digest: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
        if digest == self.sha256 {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
