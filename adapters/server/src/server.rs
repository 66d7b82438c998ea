//! Starting and stopping the server: opens the store, binds the transports and runs
//! the core in one task that owns it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, watch};

use sip_lite::wire::{Host, SipUri};

use crate::config::{Config, UpstreamConfig};
use crate::core::{Core, Passwords, StoreOp};
use crate::proxy::{Proxy, ProxyConfig, Upstream};
use crate::registrar::{self, Binding, Registrar};
use crate::store::{Store, StoreError};
use crate::transport::TransportKind;
use crate::transport::{TransportEvent, TransportSettings, Transports};

/// Events waiting for the core task.
const EVENT_QUEUE: usize = 4096;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The registrar could not be set up (no random source, or an invalid setting).
    #[error("registrar: {0}")]
    Registrar(#[from] registrar::NewError),
    /// The upstream's host name could not be resolved.
    #[error("cannot resolve upstream {uri}: {message}")]
    Upstream {
        /// The configured URI.
        uri: String,
        /// Why.
        message: String,
    },
    /// A listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Why the server did not stop cleanly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShutdownError {
    /// The core task panicked or was cancelled.
    #[error("server task failed: {0}")]
    Task(String),
}

/// The server; see [`Server::start`].
#[derive(Debug)]
pub struct Server;

/// A running server.
#[derive(Debug)]
pub struct ServerHandle {
    udp: Vec<SocketAddr>,
    tcp: Vec<SocketAddr>,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Validates `config`, opens the store in its data directory, binds the SIP
    /// listeners and starts serving. Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// A [`StartError`]; nothing is left running.
    pub async fn start(config: Config) -> Result<ServerHandle, StartError> {
        config.validate()?;
        let store = Store::open(&config.data_dir)?;
        let (events_tx, mut events) = mpsc::channel(EVENT_QUEUE);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let settings = TransportSettings {
            max_message_size: config.limits.max_message_size,
            max_tcp_connections: config.limits.max_tcp_connections,
            tcp_idle_timeout: Duration::from_secs(u64::from(config.timers.tcp_idle_timeout)),
        };
        let mut transports = match Transports::bind(
            &config.sip.udp,
            &config.sip.tcp,
            settings,
            events_tx,
            shutdown_rx.clone(),
        )
        .await
        {
            Ok(t) => t,
            Err((addr, source)) => {
                // Stop whatever was bound before the failure.
                let _ = shutdown.send(true);
                return Err(StartError::Bind { addr, source });
            }
        };
        let udp = transports.udp_addrs().to_vec();
        let tcp = transports.tcp_addrs().to_vec();
        let registrar = Registrar::new(registrar_config(&config, &udp, &tcp), passwords(&config))?;
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut core = Core::new(
            config.limits.max_message_size,
            registrar,
            (Instant::now(), unix),
        );
        core.restore(load_bindings(&store)?);
        let upstream = match &config.upstream {
            Some(up) => Some(resolve_upstream(up).await?),
            None => None,
        };
        core.set_proxy(Proxy::new(proxy_config(&config, &udp, &tcp, upstream)));
        let writer = StoreWriter::start(store);
        let mut stop = shutdown_rx;
        let task = tokio::spawn(async move {
            loop {
                let due = core.poll_timeout();
                let sleep = async {
                    match due {
                        Some(at) => tokio::time::sleep_until(at.into()).await,
                        None => std::future::pending().await,
                    }
                };
                let event = tokio::select! {
                    e = events.recv() => e,
                    _ = stop.changed() => None,
                    () = sleep => {
                        core.handle_timeout(Instant::now());
                        while let Some(op) = core.poll_store() {
                            writer.send(op);
                        }
                        while let Some(out) = core.poll_transmit() {
                            let peer = out.peer;
                            if let Err(e) = transports.send(out).await {
                                tracing::debug!(%peer, error = %e, "send failed");
                            }
                        }
                        continue;
                    }
                };
                let Some(event) = event else { break };
                let Some(msg) = transports.handle_event(event) else {
                    continue;
                };
                core.handle_input(msg.received_at, msg.source, &msg.data);
                while let Some(op) = core.poll_store() {
                    writer.send(op);
                }
                while let Some(out) = core.poll_transmit() {
                    let peer = out.peer;
                    if let Err(e) = transports.send(out).await {
                        tracing::debug!(%peer, error = %e, "send failed");
                    }
                }
            }
            // Drain what is left so that socket tasks blocked on the queue can stop.
            events.close();
            while let Some(ev) = events.recv().await {
                if let TransportEvent::Message(_) = ev {
                    continue;
                }
            }
            transports.join().await;
            // Everything registered is written before the store closes.
            let _ = tokio::task::spawn_blocking(move || writer.finish()).await;
            tracing::info!("server stopped");
        });
        Ok(ServerHandle {
            udp,
            tcp,
            shutdown,
            task,
        })
    }
}

impl ServerHandle {
    /// The bound SIP UDP addresses.
    pub fn sip_udp_addrs(&self) -> &[SocketAddr] {
        &self.udp
    }

    /// The bound SIP TCP addresses.
    pub fn sip_tcp_addrs(&self) -> &[SocketAddr] {
        &self.tcp
    }

    /// Stops accepting, closes every connection and listener, closes the store and
    /// waits until all of it is done.
    ///
    /// # Errors
    /// [`ShutdownError::Task`] if the server task failed.
    pub async fn shutdown(self) -> Result<(), ShutdownError> {
        let _ = self.shutdown.send(true);
        self.task
            .await
            .map_err(|e| ShutdownError::Task(e.to_string()))
    }
}

/// The registrar's settings from the configuration: the domain is the realm, and the
/// server also answers for the addresses it listens on.
fn registrar_config(config: &Config, udp: &[SocketAddr], tcp: &[SocketAddr]) -> registrar::Config {
    let mut domains = vec![config.sip.domain.clone()];
    for addr in udp.iter().chain(tcp) {
        let ip = addr.ip().to_string();
        if !domains.contains(&ip) {
            domains.push(ip);
        }
    }
    registrar::Config {
        realm: config.sip.domain.clone(),
        domains,
        default_expires: config.timers.registration_default_expires,
        min_expires: config.timers.registration_min_expires,
        max_expires: config.timers.registration_max_expires,
        ..registrar::Config::default()
    }
}

/// The upstream's address: the URI's IP address, or its host name resolved now.
async fn resolve_upstream(up: &UpstreamConfig) -> Result<Upstream, StartError> {
    let fail = |message: String| StartError::Upstream {
        uri: up.uri.clone(),
        message,
    };
    let uri = SipUri::parse(&up.uri).map_err(|e| fail(e.to_string()))?;
    let transport = match uri.transport() {
        Some(t) if t.eq_ignore_ascii_case("tcp") => TransportKind::Tcp,
        _ => TransportKind::Udp,
    };
    let port = uri.port.unwrap_or(5060);
    let addr = match uri.host {
        Host::Ipv4(a) => SocketAddr::new(a.into(), port),
        Host::Ipv6(a) => SocketAddr::new(a.into(), port),
        Host::Domain(name) => tokio::net::lookup_host((name, port))
            .await
            .map_err(|e| fail(e.to_string()))?
            .next()
            .ok_or_else(|| fail("no address".into()))?,
    };
    Ok(Upstream {
        uri: up.uri.clone(),
        addr,
        transport,
        outbound_proxy: up.outbound_proxy,
    })
}

fn proxy_config(
    config: &Config,
    udp: &[SocketAddr],
    tcp: &[SocketAddr],
    upstream: Option<Upstream>,
) -> ProxyConfig {
    let ms = |v: u32| Duration::from_millis(u64::from(v));
    ProxyConfig {
        domain: config.sip.domain.clone(),
        udp: udp.to_vec(),
        tcp: tcp.to_vec(),
        upstream,
        authenticate: config.sip.authenticate_calls,
        t1: ms(config.timers.sip_t1_ms),
        t2: ms(config.timers.sip_t2_ms),
        t4: ms(config.timers.sip_t4_ms),
        timer_c: Duration::from_secs(u64::from(config.timers.invite_timeout)),
    }
}

fn passwords(config: &Config) -> Passwords {
    config
        .users
        .iter()
        .map(|u| (u.name.clone(), u.password.clone()))
        .collect()
}

/// The key under which an address-of-record's bindings are stored.
const BINDINGS_KEY: &str = "bindings";

/// Every binding the store kept; records that do not decode are skipped (and logged).
fn load_bindings(store: &Store) -> Result<Vec<Binding>, StoreError> {
    let mut out = Vec::new();
    for row in store.all_bindings()? {
        match serde_json::from_slice::<Vec<Binding>>(&row.value) {
            Ok(bindings) => out.extend(bindings),
            Err(e) => tracing::warn!(aor = %row.aor, error = %e, "stored bindings skipped"),
        }
    }
    Ok(out)
}

/// Writes registration changes behind the core's back, on a thread of its own, so
/// that the core never waits for the disk. Changes to one address-of-record that pile
/// up are written once (the last one wins).
struct StoreWriter {
    tx: std::sync::mpsc::Sender<StoreOp>,
    thread: std::thread::JoinHandle<()>,
}

impl StoreWriter {
    fn start(store: Store) -> StoreWriter {
        let (tx, rx) = std::sync::mpsc::channel::<StoreOp>();
        let thread = std::thread::spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut latest = BTreeMap::new();
                for op in std::iter::once(first).chain(rx.try_iter()) {
                    let aor = match &op {
                        StoreOp::Put { aor, .. } | StoreOp::Remove { aor } => aor.clone(),
                    };
                    latest.insert(aor, op);
                }
                for op in latest.into_values() {
                    if let Err(e) = write(&store, &op) {
                        tracing::error!(error = %e, "registration not stored");
                    }
                }
            }
            store.close();
        });
        StoreWriter { tx, thread }
    }

    fn send(&self, op: StoreOp) {
        if self.tx.send(op).is_err() {
            tracing::error!("store writer gone; registration not stored");
        }
    }

    /// Writes what is pending and closes the store.
    fn finish(self) {
        drop(self.tx);
        if self.thread.join().is_err() {
            tracing::error!("store writer failed");
        }
    }
}

fn write(store: &Store, op: &StoreOp) -> Result<(), StoreError> {
    match op {
        StoreOp::Put {
            aor,
            bindings,
            expires,
        } => match serde_json::to_vec(bindings) {
            Ok(value) => store.put_binding(aor, BINDINGS_KEY, *expires, &value),
            Err(e) => {
                tracing::error!(%aor, error = %e, "bindings not serialisable");
                Ok(())
            }
        },
        StoreOp::Remove { aor } => store.remove_binding(aor, BINDINGS_KEY).map(|_| ()),
    }
}
