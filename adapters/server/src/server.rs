//! Starting and stopping the server: opens the store, binds the transports and runs
//! the core in one task that owns it.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::config::Config;
use crate::core::Core;
use crate::store::{Store, StoreError};
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
        let mut core = Core::new(config.limits.max_message_size);
        let mut stop = shutdown_rx;
        let task = tokio::spawn(async move {
            loop {
                let event = tokio::select! {
                    e = events.recv() => e,
                    _ = stop.changed() => None,
                };
                let Some(event) = event else { break };
                let Some(msg) = transports.handle_event(event) else {
                    continue;
                };
                core.handle_input(msg.received_at, msg.source, &msg.data);
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
            store.close();
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
