//! The tokio layer: one task and one UDP socket per phone.
//!
//! Each phone has its own socket, so its Contact is its own address, as a real
//! phone's is: the registrar keeps one binding per phone, the server opens one uaCSTA
//! session per contact, and the kernel does the demultiplexing. The cost is one file
//! descriptor per phone (raise `ulimit -n` above the number of phones).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant as TokioInstant;

use crate::phone::{Action, Config, Phone};
use crate::report::{CallState, Report};

/// What a phone looks like from outside, kept current by its task.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// The registration is in force.
    pub registered: bool,
    /// A uaCSTA session is up.
    pub csta: bool,
    /// The states of the calls in progress.
    pub calls: Vec<CallState>,
    /// Do-not-disturb is on.
    pub dnd: bool,
}

/// A report with the phone's user and the milliseconds since the process started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tagged {
    /// The phone's user.
    pub phone: String,
    /// Milliseconds since the clock's start.
    pub at_ms: u64,
    /// What happened.
    pub report: Report,
}

impl Tagged {
    /// The JSON line (without newline).
    pub fn to_json_line(&self) -> String {
        self.report.to_json(&self.phone, self.at_ms).to_string()
    }
}

/// How to start a phone.
#[derive(Debug, Clone)]
pub struct PhoneSpec {
    /// The SIP user.
    pub user: String,
    /// The digest password.
    pub password: String,
    /// The domain.
    pub domain: String,
    /// The outbound proxy / registrar.
    pub proxy: SocketAddr,
    /// The local address to bind (port 0 picks one).
    pub bind: SocketAddr,
    /// The registration expiry in seconds.
    pub expires: u32,
    /// Answer incoming calls at once.
    pub auto_answer: bool,
    /// Register as soon as started.
    pub register: bool,
}

impl PhoneSpec {
    /// A spec with expiry 3600, no auto-answer, registering at start, bound to an
    /// ephemeral port on the proxy's loopback family.
    pub fn new(user: &str, password: &str, domain: &str, proxy: SocketAddr) -> PhoneSpec {
        let ip: IpAddr = if proxy.is_ipv6() {
            IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
        } else {
            IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
        };
        PhoneSpec {
            user: user.to_owned(),
            password: password.to_owned(),
            domain: domain.to_owned(),
            proxy,
            bind: SocketAddr::new(ip, 0),
            expires: 3600,
            auto_answer: false,
            register: true,
        }
    }
}

enum Input {
    Action(Action),
    Stop,
}

/// A running phone: send it actions, watch its status.
#[derive(Debug, Clone)]
pub struct PhoneHandle {
    user: String,
    local: SocketAddr,
    input: mpsc::UnboundedSender<Input>,
    status: watch::Receiver<Status>,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Input::Action(a) => write!(f, "{a:?}"),
            Input::Stop => f.write_str("Stop"),
        }
    }
}

impl PhoneHandle {
    /// The phone's user.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The phone's socket address (its Contact).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Asks the phone to do something; `false` when the phone has stopped.
    pub fn act(&self, action: Action) -> bool {
        self.input.send(Input::Action(action)).is_ok()
    }

    /// The phone's current status.
    pub fn status(&self) -> Status {
        self.status.borrow().clone()
    }

    /// Waits until `pred` holds for the status, at most `timeout`; whether it held.
    pub async fn wait_for(&self, timeout: Duration, pred: impl Fn(&Status) -> bool) -> bool {
        let mut rx = self.status.clone();
        tokio::time::timeout(timeout, async {
            loop {
                if pred(&rx.borrow_and_update()) {
                    return true;
                }
                if rx.changed().await.is_err() {
                    return pred(&rx.borrow());
                }
            }
        })
        .await
        .unwrap_or(false)
    }

    /// Unregisters (for up to a second) and stops the phone's task; returns when the
    /// task has ended.
    pub async fn stop(&self) {
        self.request_stop();
        self.stopped().await;
    }

    /// Asks the phone to unregister and stop, without waiting (stop many phones at
    /// once, then await [`PhoneHandle::stopped`] on each).
    pub fn request_stop(&self) {
        let _ = self.input.send(Input::Stop);
    }

    /// Waits until the phone's task has ended (at most two seconds).
    pub async fn stopped(&self) {
        let mut rx = self.status.clone();
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while rx.changed().await.is_ok() {}
        })
        .await;
    }
}

fn seed(user: &str, local: SocketAddr) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let mut h = RandomState::new().build_hasher();
        h.write(user.as_bytes());
        h.write(local.to_string().as_bytes());
        h.write_usize(i);
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    out
}

/// Binds the phone's socket and starts its task; reports go to `reports`, their time
/// stamps counted from `epoch`.
///
/// # Errors
/// The socket could not be bound, or the configuration does not fit the protocol
/// machines (an `InvalidInput` error).
pub async fn spawn(
    spec: PhoneSpec,
    epoch: TokioInstant,
    reports: mpsc::UnboundedSender<Tagged>,
) -> io::Result<PhoneHandle> {
    let sock = UdpSocket::bind(spec.bind).await?;
    spawn_on(spec, sock, epoch, reports)
}

/// As [`spawn`], on a socket the caller bound (`spec.bind` is not used): so that two
/// phones can know each other's address before either starts.
///
/// # Errors
/// The socket has no local address, or the configuration does not fit the protocol
/// machines (an `InvalidInput` error).
pub fn spawn_on(
    spec: PhoneSpec,
    sock: UdpSocket,
    epoch: TokioInstant,
    reports: mpsc::UnboundedSender<Tagged>,
) -> io::Result<PhoneHandle> {
    let local = sock.local_addr()?;
    let cfg = Config {
        user: spec.user.clone(),
        password: spec.password.clone(),
        domain: spec.domain.clone(),
        proxy: spec.proxy,
        local,
        expires: spec.expires,
        auto_answer: spec.auto_answer,
        seed: seed(&spec.user, local),
    };
    let phone = Phone::new(cfg).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let (tx, rx) = mpsc::unbounded_channel();
    let (status_tx, status_rx) = watch::channel(Status::default());
    if spec.register {
        let _ = tx.send(Input::Action(Action::Register));
    }
    tokio::spawn(run(phone, sock, epoch, rx, status_tx, reports));
    Ok(PhoneHandle {
        user: spec.user,
        local,
        input: tx,
        status: status_rx,
    })
}

fn sip_now(epoch: TokioInstant) -> sip_lite::time::Instant {
    let ms = u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
    sip_lite::time::Instant::from_millis(ms)
}

async fn run(
    mut phone: Phone,
    sock: UdpSocket,
    epoch: TokioInstant,
    mut input: mpsc::UnboundedReceiver<Input>,
    status: watch::Sender<Status>,
    reports: mpsc::UnboundedSender<Tagged>,
) {
    let mut buf = vec![0u8; 65_536];
    let mut stopping: Option<TokioInstant> = None;
    loop {
        while let Some((to, bytes)) = phone.poll_transmit() {
            if let Err(e) = sock.send_to(&bytes, to).await {
                tracing::debug!(user = phone.user(), %to, "send failed: {e}");
            }
        }
        while let Some(report) = phone.poll_report() {
            let at_ms = sip_now(epoch).as_millis();
            let _ = reports.send(Tagged {
                phone: phone.user().to_owned(),
                at_ms,
                report,
            });
        }
        let now_status = Status {
            registered: phone.is_registered(),
            csta: phone.csta_open(),
            calls: phone.call_states(),
            dnd: phone.do_not_disturb(),
        };
        status.send_if_modified(|s| {
            if *s == now_status {
                false
            } else {
                *s = now_status;
                true
            }
        });
        if let Some(deadline) = stopping
            && (!phone.is_registered() || TokioInstant::now() >= deadline)
        {
            return;
        }
        let wake = phone
            .poll_timeout()
            .map(|t| epoch + Duration::from_millis(t.as_millis()))
            .into_iter()
            .chain(stopping)
            .min();
        tokio::select! {
            r = sock.recv_from(&mut buf) => match r {
                Ok((n, from)) => phone.handle_datagram(sip_now(epoch), from, &buf[..n]),
                Err(e) => tracing::debug!(user = phone.user(), "receive failed: {e}"),
            },
            i = input.recv(), if stopping.is_none() => match i {
                Some(Input::Action(a)) => phone.handle_action(sip_now(epoch), a),
                Some(Input::Stop) | None => {
                    if phone.is_registered() {
                        phone.handle_action(sip_now(epoch), Action::Unregister);
                        stopping = Some(TokioInstant::now() + Duration::from_secs(1));
                    } else {
                        return;
                    }
                }
            },
            () = sleep_until(wake) => phone.handle_timeout(sip_now(epoch)),
        }
    }
}

async fn sleep_until(at: Option<TokioInstant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
