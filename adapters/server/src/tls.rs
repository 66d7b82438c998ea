//! TLS for the server's listeners: the SIP TLS listeners and the CSTA XML client
//! listener share one [`Acceptor`], built once at start by [`load`].
//!
//! The certificate chain and private key come from the PEM files of the `[tls]`
//! section, or, with `--dev-tls` ([`Config::dev_tls`]), from a self-signed certificate
//! generated at start ([`DevCertificate`]) for trying the server out: it names
//! `localhost`, `127.0.0.1`, `::1` and the configured domain, its SHA-256 fingerprint is
//! logged and the certificate (not the key) is written to the data directory as
//! [`DEV_CERTIFICATE_FILE`] so that clients can be told to trust it.
//!
//! TLS 1.2 and 1.3 only, with rustls' safe defaults and the `ring` provider. The server
//! asks no client certificate.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};

use crate::config::Config;

/// Accepts TLS connections on accepted TCP streams; cheap to clone (the configuration
/// is shared).
#[derive(Clone)]
pub struct Acceptor(tokio_rustls::TlsAcceptor);

impl Acceptor {
    /// Runs the server side of the handshake on `stream`; the future yields the TLS
    /// stream, or the I/O error that ended the handshake (a failed handshake is
    /// `InvalidData`).
    pub fn accept<IO>(&self, stream: IO) -> tokio_rustls::Accept<IO>
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        self.0.accept(stream)
    }

    /// The tokio-rustls acceptor.
    pub fn tls_acceptor(&self) -> &tokio_rustls::TlsAcceptor {
        &self.0
    }

    /// The rustls configuration.
    pub fn config(&self) -> &Arc<ServerConfig> {
        self.0.config()
    }
}

impl fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acceptor").finish_non_exhaustive()
    }
}

impl From<Acceptor> for tokio_rustls::TlsAcceptor {
    fn from(a: Acceptor) -> Self {
        a.0
    }
}

/// The file in the data directory that receives the `--dev-tls` certificate (PEM).
pub const DEV_CERTIFICATE_FILE: &str = "dev-tls-certificate.pem";

/// The configuration key of the certificate chain file.
const CERTIFICATE_KEY: &str = "tls.certificate";
/// The configuration key of the private key file.
const PRIVATE_KEY_KEY: &str = "tls.private_key";

/// Why no TLS acceptor could be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A configured file could not be read.
    #[error("invalid configuration: `{key}`: cannot read {path}: {source}")]
    Read {
        /// The configuration key naming the file.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A configured file is not valid PEM.
    #[error("invalid configuration: `{key}`: {path} is not valid PEM: {message}")]
    Pem {
        /// The configuration key naming the file.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The certificate file holds no certificate.
    #[error(
        "invalid configuration: `tls.certificate`: {0} holds no certificate \
         (a PEM `BEGIN CERTIFICATE` section)"
    )]
    NoCertificate(PathBuf),
    /// The private key file holds no private key.
    #[error(
        "invalid configuration: `tls.private_key`: {0} holds no unencrypted private key \
         (a PEM `BEGIN PRIVATE KEY`, `BEGIN RSA PRIVATE KEY` or `BEGIN EC PRIVATE KEY` section)"
    )]
    NoPrivateKey(PathBuf),
    /// rustls refused the certificate and key (unsupported or malformed key, or a key
    /// that does not belong to the certificate).
    #[error("invalid configuration: `tls`: the certificate and private key cannot be used: {0}")]
    Rejected(rustls::Error),
    /// The development certificate could not be generated.
    #[error("cannot generate the development certificate: {0}")]
    Generate(rcgen::Error),
    /// The development certificate could not be written to the data directory.
    #[error("cannot write the development certificate to {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The acceptor the configuration asks for: `None` when TLS is not configured (no
/// `[tls]` section and no `--dev-tls`). With `--dev-tls` a certificate is generated,
/// written to the data directory and announced in the log (with a warning that it is
/// for trying out only); the `[tls]` files, if any, are then not used.
///
/// Call it once at start and share the acceptor: every call with `--dev-tls` makes a
/// new certificate.
///
/// # Errors
/// A [`TlsError`] naming the configuration key and file at fault.
pub fn load(config: &Config) -> Result<Option<Acceptor>, TlsError> {
    if config.dev_tls {
        let dev = DevCertificate::generate(&config.sip.domain)?;
        let path = dev.write_certificate(&config.data_dir)?;
        if config.tls.is_some() {
            tracing::warn!("--dev-tls: the certificate and key of the [tls] section are not used");
        }
        tracing::warn!(
            "--dev-tls: TLS uses a self-signed certificate generated at start, FOR TRYING \
             OUT ONLY: clients can only trust it by trusting this very certificate, and it \
             changes at every start"
        );
        tracing::warn!(
            "--dev-tls: certificate for {} written to {}; SHA-256 fingerprint {}",
            dev.names().join(", "),
            path.display(),
            dev.fingerprint()
        );
        return dev.acceptor().map(Some);
    }
    match &config.tls {
        None => Ok(None),
        Some(t) => load_files(&t.certificate, &t.private_key).map(Some),
    }
}

/// An acceptor from a PEM certificate chain file (the server's certificate first) and
/// a PEM private key file (PKCS#8, PKCS#1 or SEC1).
///
/// # Errors
/// [`TlsError::Read`], [`TlsError::Pem`], [`TlsError::NoCertificate`],
/// [`TlsError::NoPrivateKey`] or [`TlsError::Rejected`].
pub fn load_files(certificate: &Path, private_key: &Path) -> Result<Acceptor, TlsError> {
    let pem_error = |key: &'static str, path: &Path, e: pem::Error| match e {
        pem::Error::Io(source) => TlsError::Read {
            key,
            path: path.to_owned(),
            source,
        },
        e => TlsError::Pem {
            key,
            path: path.to_owned(),
            message: e.to_string(),
        },
    };
    let chain = CertificateDer::pem_file_iter(certificate)
        .map_err(|e| pem_error(CERTIFICATE_KEY, certificate, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(CERTIFICATE_KEY, certificate, e))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(certificate.to_owned()));
    }
    let key = match PrivateKeyDer::from_pem_file(private_key) {
        Ok(k) => k,
        Err(pem::Error::NoItemsFound) => {
            return Err(TlsError::NoPrivateKey(private_key.to_owned()));
        }
        Err(e) => return Err(pem_error(PRIVATE_KEY_KEY, private_key, e)),
    };
    acceptor(chain, key)
}

/// An acceptor from a certificate chain (the server's certificate first) and its
/// private key, with TLS 1.2 and 1.3 and the `ring` provider.
///
/// # Errors
/// [`TlsError::Rejected`] when the key is not usable or does not match the
/// certificate.
pub fn acceptor(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Acceptor, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Rejected)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(TlsError::Rejected)?;
    Ok(Acceptor(tokio_rustls::TlsAcceptor::from(Arc::new(config))))
}

/// The SHA-256 fingerprint of a DER certificate, as colon-separated upper-case hex
/// pairs (the form browsers and `openssl x509 -fingerprint -sha256` show).
pub fn fingerprint(der: &[u8]) -> String {
    let digest = Sha256::digest(der);
    let mut s = String::with_capacity(digest.len() * 3);
    for (i, b) in digest.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        s.push_str(&format!("{b:02X}"));
    }
    s
}

/// A self-signed certificate and its key, made at start by `--dev-tls`.
pub struct DevCertificate {
    names: Vec<String>,
    certificate: CertificateDer<'static>,
    certificate_pem: String,
    key: PrivatePkcs8KeyDer<'static>,
    key_pem: String,
}

impl fmt::Debug for DevCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevCertificate")
            .field("names", &self.names)
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

impl DevCertificate {
    /// Generates a certificate (ECDSA P-256) naming `localhost`, `127.0.0.1`, `::1` and
    /// `domain` (a host name or IP address, IPv6 with or without brackets).
    ///
    /// # Errors
    /// [`TlsError::Generate`] when no key can be made or `domain` is not a name a
    /// certificate can hold.
    pub fn generate(domain: &str) -> Result<DevCertificate, TlsError> {
        let mut names: Vec<String> = ["localhost", "127.0.0.1", "::1"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let domain = domain.trim_start_matches('[').trim_end_matches(']');
        let same = |n: &String| match (
            n.parse::<std::net::IpAddr>(),
            domain.parse::<std::net::IpAddr>(),
        ) {
            (Ok(a), Ok(b)) => a == b,
            _ => n.eq_ignore_ascii_case(domain),
        };
        if !domain.is_empty() && !names.iter().any(same) {
            names.push(domain.to_owned());
        }
        let mut params =
            rcgen::CertificateParams::new(names.clone()).map_err(TlsError::Generate)?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(
            rcgen::DnType::CommonName,
            "csta-server development certificate",
        );
        let key_pair = rcgen::KeyPair::generate().map_err(TlsError::Generate)?;
        let cert = params.self_signed(&key_pair).map_err(TlsError::Generate)?;
        Ok(DevCertificate {
            names,
            certificate: cert.der().clone(),
            certificate_pem: cert.pem(),
            key: PrivatePkcs8KeyDer::from(key_pair.serialize_der()),
            key_pem: key_pair.serialize_pem(),
        })
    }

    /// The names the certificate holds (DNS names and IP addresses).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The certificate, DER.
    pub fn certificate_der(&self) -> &CertificateDer<'static> {
        &self.certificate
    }

    /// The certificate, PEM.
    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// The private key, PKCS#8 PEM (for tests and tools that write a `[tls]` pair).
    pub fn private_key_pem(&self) -> &str {
        &self.key_pem
    }

    /// The certificate's SHA-256 fingerprint (see [`fingerprint`]).
    pub fn fingerprint(&self) -> String {
        fingerprint(self.certificate.as_ref())
    }

    /// An acceptor presenting this certificate.
    ///
    /// # Errors
    /// [`TlsError::Rejected`] (not expected for a generated pair).
    pub fn acceptor(&self) -> Result<Acceptor, TlsError> {
        acceptor(
            vec![self.certificate.clone()],
            PrivateKeyDer::Pkcs8(self.key.clone_key()),
        )
    }

    /// Writes the certificate (PEM, not the key) to [`DEV_CERTIFICATE_FILE`] in `dir`,
    /// creating `dir` if needed; returns the file's path.
    ///
    /// # Errors
    /// [`TlsError::Write`].
    pub fn write_certificate(&self, dir: &Path) -> Result<PathBuf, TlsError> {
        let path = dir.join(DEV_CERTIFICATE_FILE);
        std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::write(&path, &self.certificate_pem))
            .map_err(|source| TlsError::Write {
                path: path.clone(),
                source,
            })?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_colon_separated_sha256() {
        // SHA-256 of the empty string.
        assert_eq!(
            fingerprint(b""),
            "E3:B0:C4:42:98:FC:1C:14:9A:FB:F4:C8:99:6F:B9:24:\
             27:AE:41:E4:64:9B:93:4C:A4:95:99:1B:78:52:B8:55"
        );
    }

    #[test]
    fn dev_certificate_names_loopback_and_the_domain() {
        let c = DevCertificate::generate("example.test").unwrap();
        assert_eq!(c.names(), ["localhost", "127.0.0.1", "::1", "example.test"]);
        // The domain is not repeated, and brackets are dropped.
        let c = DevCertificate::generate("localhost").unwrap();
        assert_eq!(c.names(), ["localhost", "127.0.0.1", "::1"]);
        let c = DevCertificate::generate("[::1]").unwrap();
        assert_eq!(c.names(), ["localhost", "127.0.0.1", "::1"]);
        let c = DevCertificate::generate("192.0.2.5").unwrap();
        assert_eq!(c.names()[3], "192.0.2.5");
        // The PEM forms parse back to the same certificate and a key rustls takes.
        let der = CertificateDer::from_pem_slice(c.certificate_pem().as_bytes()).unwrap();
        assert_eq!(&der, c.certificate_der());
        let key = PrivateKeyDer::from_pem_slice(c.private_key_pem().as_bytes()).unwrap();
        acceptor(vec![der], key).unwrap();
        c.acceptor().unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("PRIVATE"), "{dbg}");
        assert!(dbg.contains(&c.fingerprint()), "{dbg}");
    }

    #[test]
    fn a_key_of_another_certificate_is_rejected() {
        let a = DevCertificate::generate("a.test").unwrap();
        let b = DevCertificate::generate("b.test").unwrap();
        let key = PrivateKeyDer::from_pem_slice(b.private_key_pem().as_bytes()).unwrap();
        let e = acceptor(vec![a.certificate_der().clone()], key).unwrap_err();
        assert!(matches!(e, TlsError::Rejected(_)), "{e}");
        assert!(e.to_string().contains("`tls`"), "{e}");
    }

    #[test]
    fn dev_certificate_is_written_to_the_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("new");
        let c = DevCertificate::generate("example.test").unwrap();
        let path = c.write_certificate(&sub).unwrap();
        assert_eq!(path, sub.join(DEV_CERTIFICATE_FILE));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), c.certificate_pem());
        // A file where the directory should be: a clear error.
        let blocked = dir.path().join("file");
        std::fs::write(&blocked, b"x").unwrap();
        let e = c.write_certificate(&blocked).unwrap_err();
        assert!(matches!(e, TlsError::Write { .. }), "{e}");
    }
}
