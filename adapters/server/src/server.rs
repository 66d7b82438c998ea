//! Starting and stopping the server: opens the store, binds the transports and runs
//! the core in one task that owns it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, watch};

use sip_lite::wire::{Algorithm, Host, SipUri};

use crate::clients::{ClientSettings, Clients};
use crate::config::{Config, DigestAlgorithm, UpstreamConfig};
use crate::core::{Core, StoreOp, passwords};
use crate::http::{Health, HttpServer, Metrics};
use crate::hub::{Hub, HubConfig};
use crate::interface::{ClientInput, DeviceStatus, Devices};
use crate::proxy::{Proxy, ProxyConfig, Upstream};
use crate::registrar::{self, Binding, Registrar};
use crate::sessions::Sessions;
use crate::store::{Change, Store, StoreError};
use crate::transport::{TransportEvent, TransportKind, TransportSettings, Transports};

/// Events waiting for the core task.
const EVENT_QUEUE: usize = 4096;
/// How long a shutdown waits for the uaCSTA sessions to close (MonitorStop, BYE).
const SESSION_CLOSE_GRACE: Duration = Duration::from_secs(2);

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
    /// The TLS certificate or key could not be loaded (or generated).
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// The registrar could not be set up (no random source, or an invalid setting).
    #[error("registrar: {0}")]
    Registrar(#[from] registrar::NewError),
    /// The operating system gave no random numbers (for the proxy's dialog proofs).
    #[error("no random numbers from the operating system")]
    Random,
    /// The uaCSTA lines are invalid.
    #[error(transparent)]
    Sessions(#[from] crate::sessions::SessionsError),
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
    tls: Vec<SocketAddr>,
    client_tcp: Option<SocketAddr>,
    client_websocket: Option<SocketAddr>,
    client_tls: Option<SocketAddr>,
    http: Option<SocketAddr>,
    metrics: Arc<Metrics>,
    shutdown: watch::Sender<bool>,
    reload: mpsc::Sender<Config>,
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
        // One acceptor for every TLS listener (SIP here; CSTA clients share it).
        let acceptor = crate::tls::load(&config)?;
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
        if let Some(acceptor) = &acceptor
            && let Err((addr, source)) = transports.listen_tls(&config.sip.tls, acceptor).await
        {
            let _ = shutdown.send(true);
            return Err(StartError::Bind { addr, source });
        }
        let metrics = Metrics::new();
        let (client_tx, mut client_events) = mpsc::channel(EVENT_QUEUE);
        let mut clients = match Clients::bind(
            config.clients.tcp,
            config.clients.websocket,
            ClientSettings::from_config(&config),
            client_tx,
            metrics.clone(),
            shutdown_rx.clone(),
        )
        .await
        {
            Ok(c) => c,
            Err((addr, source)) => {
                let _ = shutdown.send(true);
                return Err(StartError::Bind { addr, source });
            }
        };
        if let (Some(addr), Some(acceptor)) = (config.clients.tls, &acceptor)
            && let Err((addr, source)) = clients.listen_tls(addr, acceptor).await
        {
            let _ = shutdown.send(true);
            return Err(StartError::Bind { addr, source });
        }
        let http = match config.http.listen {
            Some(addr) => match HttpServer::bind(addr, metrics.clone()).await {
                Ok(h) => Some(h),
                Err(source) => {
                    let _ = shutdown.send(true);
                    return Err(StartError::Bind { addr, source });
                }
            },
            None => None,
        };
        let client_tcp = clients.tcp_addr();
        let client_websocket = clients.websocket_addr();
        let client_tls = clients.tls_addr();
        let http_addr = http.as_ref().map(HttpServer::local_addr);
        let udp = transports.udp_addrs().to_vec();
        let tcp = transports.tcp_addrs().to_vec();
        let tls = transports.tls_addrs().to_vec();
        let listening: Vec<SocketAddr> = tcp.iter().chain(&tls).copied().collect();
        let registrar = Registrar::new(
            registrar_config(&config, &udp, &listening),
            passwords(&config),
        )?;
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut core = Core::new(
            config.limits.max_message_size,
            registrar,
            (Instant::now(), unix),
        );
        core.restore(load_bindings(&store)?);
        core.set_sessions(sessions(&config, &udp, &tcp, &tls)?);
        core.set_hub(Hub::new(HubConfig::from_config(&config)));
        let upstream = match &config.upstream {
            Some(up) => Some(resolve_upstream(up).await?),
            None => None,
        };
        core.set_proxy(Proxy::with_secret(
            proxy_config(&config, &udp, &tcp, &tls, upstream),
            route_secret(&store)?,
        ));
        let writer = StoreWriter::start(store);
        let task_metrics = metrics.clone();
        let (reload, mut reloads) = mpsc::channel::<Config>(4);
        let mut current = config.clone();
        // The core stops first (closing the uaCSTA sessions over the transports), then
        // tells the transports.
        let (stop_core, mut stop) = watch::channel(false);
        let task = tokio::spawn(async move {
            let metrics = task_metrics;
            let alive = metrics.alive();
            let mut last_published = Instant::now();
            publish(&mut core, &metrics);
            loop {
                // What the last input or timer produced: store changes, client
                // messages, SIP messages.
                while let Some(op) = core.poll_store() {
                    writer.send(op);
                }
                while let Some(out) = core.poll_client_output() {
                    clients.send(out);
                }
                while let Some(out) = core.poll_transmit() {
                    let (peer, kind) = (out.peer, out.transport);
                    match transports.send(out).await {
                        Ok(()) => metrics.sip_sent.of(kind).inc(),
                        Err(e) => tracing::debug!(%peer, error = %e, "send failed"),
                    }
                }
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
                    Some(ev) = client_events.recv() => {
                        let input = clients.handle_event(ev);
                        let from = match &input {
                            ClientInput::Frame { client, .. } => Some(*client),
                            _ => None,
                        };
                        core.handle_client_input(Instant::now(), input);
                        // A connection that logged in keeps its place (see
                        // `crate::admission`).
                        if let Some(client) = from
                            && core.hub().has_session(client)
                        {
                            clients.authenticated(client);
                        }
                        continue;
                    }
                    Some(new) = reloads.recv() => {
                        apply_reload(&mut core, &mut current, new);
                        publish(&mut core, &metrics);
                        continue;
                    }
                    () = sleep => {
                        core.handle_timeout(Instant::now());
                        metrics.registrations.set(gauge(core.registrar().len()));
                        publish(&mut core, &metrics);
                        continue;
                    }
                };
                let Some(event) = event else { break };
                let Some(msg) = transports.handle_event(event) else {
                    continue;
                };
                metrics.sip_received.of(msg.source.transport).inc();
                core.handle_input(msg.received_at, msg.source, &msg.data);
                metrics.sip_malformed.raise_to(core.stats().malformed);
                metrics.registrations.set(gauge(core.registrar().len()));
                if last_published.elapsed() >= PUBLISH_EVERY {
                    last_published = Instant::now();
                    publish(&mut core, &metrics);
                }
            }
            metrics.set_health(Health::Stopping);
            core.shutdown_clients();
            while let Some(out) = core.poll_client_output() {
                clients.send(out);
            }
            close_sessions(&mut core, &mut transports, &mut events).await;
            let _ = shutdown.send(true);
            // Drain what is left so that socket tasks blocked on the queue can stop.
            events.close();
            while let Some(ev) = events.recv().await {
                if let TransportEvent::Message(_) = ev {
                    continue;
                }
            }
            client_events.close();
            while client_events.recv().await.is_some() {}
            transports.join().await;
            clients.join().await;
            // Everything registered is written before the store closes.
            let _ = tokio::task::spawn_blocking(move || writer.finish()).await;
            if let Some(http) = http {
                http.stop().await;
            }
            drop(alive);
            tracing::info!("server stopped");
        });
        Ok(ServerHandle {
            udp,
            tcp,
            tls,
            client_tcp,
            client_websocket,
            client_tls,
            http: http_addr,
            metrics,
            shutdown: stop_core,
            reload,
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

    /// The bound SIP TLS addresses.
    pub fn sip_tls_addrs(&self) -> &[SocketAddr] {
        &self.tls
    }

    /// The bound address of CSTA XML over TCP, if it is on.
    pub fn client_tcp_addr(&self) -> Option<SocketAddr> {
        self.client_tcp
    }

    /// The bound address of JSON over WebSocket, if it is on.
    pub fn client_websocket_addr(&self) -> Option<SocketAddr> {
        self.client_websocket
    }

    /// The bound address of CSTA XML over TLS, if it is on.
    pub fn client_tls_addr(&self) -> Option<SocketAddr> {
        self.client_tls
    }

    /// The bound address of `/metrics` and `/health`, if it is on.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http
    }

    /// The server's metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Applies a new configuration (the binary does this on SIGHUP): the SIP users,
    /// the `[[csta_lines]]` (with their pick-up groups) and the `[[client_users]]`
    /// change at once (see [`Core::reconfigure`]); every other setting is logged as
    /// needing a restart. A configuration that does not validate is logged and
    /// changes nothing; so is one the session manager refuses.
    pub async fn reload(&self, config: Config) {
        if self.reload.send(config).await.is_err() {
            tracing::warn!("configuration not reloaded: the server is stopping");
        }
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

/// A count as a gauge value.
fn gauge(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// How often the hub's, the sessions' and the proxy's figures are copied to the
/// metrics while messages flow (and at every timer).
const PUBLISH_EVERY: Duration = Duration::from_millis(250);

/// Copies the hub's, the session manager's and the proxy's figures to the metrics.
fn publish(core: &mut Core, metrics: &Metrics) {
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let hub = core.hub().stats();
    let devices = core.devices();
    let online = devices
        .all()
        .into_iter()
        .filter(|d| devices.status(d) == DeviceStatus::Online)
        .count();
    let controlled = devices.all().len();
    let sessions = devices.stats();
    let mut gauges = vec![
        (
            "devices_controlled",
            "CSTA-controlled lines configured",
            gauge(controlled),
        ),
        (
            "devices_online",
            "Controlled devices whose uaCSTA session is up",
            gauge(online),
        ),
        (
            "uacsta_sessions_opened",
            "uaCSTA sessions opened since the start",
            count(sessions.opened),
        ),
        (
            "uacsta_sessions_lost",
            "uaCSTA sessions lost or failed since the start",
            count(sessions.lost),
        ),
        (
            "client_sessions",
            "ECMA-354 application sessions open",
            gauge(hub.sessions),
        ),
        ("client_monitors", "Client monitors", gauge(hub.monitors)),
        (
            "client_requests_pending",
            "Client requests waiting for a phone",
            gauge(hub.pending),
        ),
        (
            "client_requests_forwarded",
            "Client requests passed to phones since the start",
            count(hub.requests_forwarded),
        ),
        (
            "client_answers_from_view",
            "Client requests answered from the server's view since the start",
            count(hub.answered_from_view),
        ),
        (
            "client_events_delivered",
            "Events sent to clients since the start",
            count(hub.events_delivered),
        ),
        (
            "client_login_failures",
            "Failed StartApplicationSession since the start",
            count(hub.login_failures),
        ),
    ];
    let sip_guard = core.registrar().guard_stats();
    let login_guard = core.hub().guard_stats();
    for (name, help, value) in [
        (
            "sip_auth_failures_total",
            "Wrong digest answers (and unknown users) since the start",
            sip_guard.failures,
        ),
        (
            "sip_auth_blocks_total",
            "Source addresses and users blocked for wrong digest answers since the start",
            sip_guard.blocks,
        ),
        (
            "sip_auth_refused_blocked_total",
            "Digest answers refused unchecked (503) during a block since the start",
            sip_guard.refused,
        ),
        (
            "client_login_blocks_total",
            "Source addresses and users blocked for wrong ECMA-354 passwords since the start",
            login_guard.blocks,
        ),
        (
            "client_login_refused_blocked_total",
            "ECMA-354 logins refused unchecked (serverResourcesBusy) during a block since the start",
            login_guard.refused,
        ),
    ] {
        gauges.push((name, help, count(value)));
    }
    if let Some(p) = core.proxy_stats() {
        gauges.push((
            "proxy_transactions",
            "Proxy server transactions since the start",
            count(p.transactions),
        ));
        gauges.push((
            "proxy_forwarded",
            "Requests the proxy forwarded since the start",
            count(p.forwarded),
        ));
        gauges.push((
            "proxy_retransmissions_absorbed",
            "Request retransmissions the proxy absorbed since the start",
            count(p.absorbed),
        ));
        gauges.push((
            "proxy_stateless_answers",
            "Requests the proxy answered without keeping state (challenges, refusals) since the start",
            count(p.stateless),
        ));
    }
    for (name, help, value) in gauges {
        if let Err(e) = metrics.set_gauge(name, help, value) {
            tracing::debug!(name, error = %e, "gauge not set");
        }
    }
}

/// Closes the uaCSTA sessions (MonitorStop, BYE), serving the transports meanwhile,
/// for at most [`SESSION_CLOSE_GRACE`].
async fn close_sessions(
    core: &mut Core,
    transports: &mut Transports,
    events: &mut mpsc::Receiver<TransportEvent>,
) {
    core.shutdown_sessions(Instant::now());
    let deadline = tokio::time::Instant::now() + SESSION_CLOSE_GRACE;
    loop {
        while let Some(out) = core.poll_transmit() {
            let peer = out.peer;
            if let Err(e) = transports.send(out).await {
                tracing::debug!(%peer, error = %e, "send failed");
            }
        }
        if core.sessions_idle() {
            break;
        }
        let due = core
            .poll_timeout()
            .map_or(deadline, |at| tokio::time::Instant::from(at).min(deadline));
        tokio::select! {
            e = events.recv() => {
                let Some(e) = e else { break };
                if let Some(msg) = transports.handle_event(e) {
                    core.handle_input(msg.received_at, msg.source, &msg.data);
                }
            }
            () = tokio::time::sleep_until(due) => {
                if tokio::time::Instant::now() >= deadline {
                    tracing::info!("uaCSTA sessions not all closed in time");
                    break;
                }
                core.handle_timeout(Instant::now());
            }
        }
    }
}

/// Applies `new` to the core when it validates; logs what changed.
fn apply_reload(core: &mut Core, current: &mut Config, new: Config) {
    if let Err(e) = new.validate() {
        tracing::error!("configuration not reloaded: {e}");
        return;
    }
    let lines = match core.reconfigure(Instant::now(), &new) {
        Ok(change) => change,
        Err(e) => {
            tracing::error!("configuration not reloaded: {e}");
            return;
        }
    };
    let mut changes = 0;
    let mut note = |what: String| {
        tracing::info!("reload: {what}");
        changes += 1;
    };
    for aor in &lines.added {
        note(format!("csta line {aor} added"));
    }
    for aor in &lines.removed {
        note(format!("csta line {aor} removed"));
    }
    for aor in &lines.changed {
        note(format!("csta line {aor} changed"));
    }
    for l in &new.csta_lines {
        let old = current.csta_lines.iter().find(|o| o.aor == l.aor);
        if let Some(o) = old
            && o.pickup_group != l.pickup_group
        {
            note(format!(
                "csta line {} pickup group {:?} -> {:?}",
                l.aor, o.pickup_group, l.pickup_group
            ));
        }
    }
    for (label, old, new) in [
        (
            "SIP user",
            named(current.users.iter().map(|u| (&u.name, &u.password))),
            named(new.users.iter().map(|u| (&u.name, &u.password))),
        ),
        (
            "client user",
            named(
                current
                    .client_users
                    .iter()
                    .map(|u| (&u.name, (&u.password, &u.devices))),
            ),
            named(
                new.client_users
                    .iter()
                    .map(|u| (&u.name, (&u.password, &u.devices))),
            ),
        ),
    ] {
        for (name, value) in &new {
            match old.get(name) {
                None => note(format!("{label} {name} added")),
                Some(v) if v != value => note(format!("{label} {name} changed")),
                Some(_) => {}
            }
        }
        for name in old.keys().filter(|n| !new.contains_key(*n)) {
            note(format!("{label} {name} removed"));
        }
    }
    let restart = [
        ("sip", current.sip != new.sip),
        ("clients", current.clients != new.clients),
        ("http", current.http != new.http),
        ("upstream", current.upstream != new.upstream),
        ("timers", current.timers != new.timers),
        ("limits", current.limits != new.limits),
        ("tls", current.tls != new.tls),
        ("data_dir", current.data_dir != new.data_dir),
    ];
    for (section, differs) in restart {
        if differs {
            tracing::warn!("reload: [{section}] changed; it takes effect after a restart");
        }
    }
    if changes == 0 {
        tracing::info!("configuration reloaded; no line or user changed");
    } else {
        tracing::info!(changes, "configuration reloaded");
    }
    *current = new;
}

/// Entries by name, with a value to compare (hashed into a string of its debug form,
/// so that no password is kept twice in clear).
fn named<'c, V: std::fmt::Debug + 'c>(
    entries: impl Iterator<Item = (&'c String, V)>,
) -> BTreeMap<String, [u8; 32]> {
    use sha2::{Digest, Sha256};
    entries
        .map(|(name, value)| {
            let digest: [u8; 32] = Sha256::digest(format!("{value:?}").as_bytes()).into();
            (name.clone(), digest)
        })
        .collect()
}

/// The session manager's settings and lines from the configuration.
fn sessions(
    config: &Config,
    udp: &[SocketAddr],
    tcp: &[SocketAddr],
    tls: &[SocketAddr],
) -> Result<Sessions, crate::sessions::SessionsError> {
    let mut seed = [0u8; 32];
    if getrandom::fill(&mut seed).is_err() {
        // Identifiers then only need to be unique, which the time gives.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        seed[..16].copy_from_slice(&nanos.to_le_bytes());
    }
    let mut listen: Vec<(TransportKind, SocketAddr)> =
        udp.iter().map(|a| (TransportKind::Udp, *a)).collect();
    listen.extend(tcp.iter().map(|a| (TransportKind::Tcp, *a)));
    listen.extend(tls.iter().map(|a| (TransportKind::Tls, *a)));
    let settings = crate::sessions::Settings {
        domain: config.sip.domain.clone(),
        seed,
        timer: sip_lite::session_timer::Config {
            session_expires: config.timers.session_expires,
            ..sip_lite::session_timer::Config::DEFAULT
        },
        listen,
        ..crate::sessions::Settings::default()
    };
    Sessions::new(settings, &config.csta_lines, Instant::now())
}

/// The registrar's settings from the configuration: the domain is the realm, and the
/// server also answers for the addresses it listens on.
fn registrar_config(
    config: &Config,
    udp: &[SocketAddr],
    streams: &[SocketAddr],
) -> registrar::Config {
    let mut domains = vec![config.sip.domain.clone()];
    for addr in udp.iter().chain(streams) {
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
        authenticate: config.sip.authenticate,
        algorithms: config
            .sip
            .digest_algorithms
            .iter()
            .map(|a| match a {
                DigestAlgorithm::Sha256 => Algorithm::Sha256,
                DigestAlgorithm::Md5 => Algorithm::Md5,
            })
            .collect(),
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
    tls: &[SocketAddr],
    upstream: Option<Upstream>,
) -> ProxyConfig {
    let ms = |v: u32| Duration::from_millis(u64::from(v));
    ProxyConfig {
        domain: config.sip.domain.clone(),
        udp: udp.to_vec(),
        tcp: tcp.to_vec(),
        tls: tls.to_vec(),
        upstream,
        authenticate: config.sip.authenticate_calls,
        t1: ms(config.timers.sip_t1_ms),
        t2: ms(config.timers.sip_t2_ms),
        t4: ms(config.timers.sip_t4_ms),
        timer_c: Duration::from_secs(u64::from(config.timers.invite_timeout)),
        max_transactions: config.limits.max_proxy_transactions,
    }
}

/// The key of the proxy's dialog proofs in the store's key/value table.
const ROUTE_SECRET_KEY: &str = "proxy_route_secret";

/// The key of the proxy's dialog proofs: the stored one, so that calls in progress
/// keep working over a restart, or a new random one, stored.
fn route_secret(store: &Store) -> Result<[u8; 32], StartError> {
    if let Some(stored) = store.get(ROUTE_SECRET_KEY)?
        && let Ok(secret) = <[u8; 32]>::try_from(stored.as_slice())
    {
        return Ok(secret);
    }
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|_| StartError::Random)?;
    store.put(ROUTE_SECRET_KEY, &secret)?;
    Ok(secret)
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
                // Every change that piled up goes to the disk in one transaction.
                let values: Vec<Encoded> = latest.into_values().filter_map(encode).collect();
                let changes: Vec<Change<'_>> = values
                    .iter()
                    .map(|(aor, value)| match value {
                        Some((expires, value)) => Change::Put {
                            aor,
                            key: BINDINGS_KEY,
                            expires: *expires,
                            value,
                        },
                        None => Change::Remove {
                            aor,
                            key: BINDINGS_KEY,
                        },
                    })
                    .collect();
                if let Err(e) = store.apply(&changes) {
                    tracing::error!(error = %e, changes = changes.len(), "registrations not stored");
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

/// An address-of-record and what to store for it: its latest expiry and its bindings
/// as JSON, or `None` to remove them.
type Encoded = (String, Option<(u64, Vec<u8>)>);

/// What to store for `op`; `None` when it cannot be written (logged).
fn encode(op: StoreOp) -> Option<Encoded> {
    match op {
        StoreOp::Put {
            aor,
            bindings,
            expires,
        } => match serde_json::to_vec(&bindings) {
            Ok(value) => Some((aor, Some((expires, value)))),
            Err(e) => {
                tracing::error!(%aor, error = %e, "bindings not serialisable");
                None
            }
        },
        StoreOp::Remove { aor } => Some((aor, None)),
    }
}
