//! `ucsta-embassy`: the board-independent runtime of a uaCSTA phone gateway on
//! embassy-net and embassy-time.
//!
//! A gateway makes a desk phone or handset controllable by CSTA: it registers the
//! line with the SIP server, accepts the uaCSTA session the server opens, and carries
//! out what the CSTA application asks. All of the protocol is the
//! [`ucsta_phone::Phone`] state machine; this crate feeds it from a UDP socket, its
//! timers and the handset, and writes out what it says:
//!
//! - [`config`]: the gateway's `key=value` configuration (boot command line or flash);
//! - [`handset`]: the handset's text commands (`offhook`, `dial 202`, `dnd on`, ...);
//! - [`run`] / [`run_tcp`]: the task body: one UDP socket (or one TCP connection to
//!   the server, re-opened when lost), one timer, one channel of handset lines, one
//!   [`Output`] per change;
//! - [`net_config`], [`wait_address`], [`phone_config`]: bringing the line up.
//!
//! The board supplies the network driver, the time driver, the executor, the seed
//! (tags, branches and cnonces must differ between boots: a board without a TRNG
//! mixes what varies, such as a host clock under emulation or an ADC's noise) and the
//! memory: every buffer is passed in, so a firmware places them in statics.
#![no_std]

pub mod config;
pub mod handset;

use core::fmt;
use core::net::Ipv4Addr;

use embassy_futures::select::{Either3, select3};
use embassy_net::tcp::TcpSocket;
use embassy_net::udp::{PacketMetadata, SendError, UdpSocket};
use embassy_net::{IpEndpoint, Ipv4Cidr, Stack, StaticConfigV4};
use embassy_sync::blocking_mutex::raw::RawMutex;
use embassy_sync::channel::Receiver;
use embassy_time::Timer;
use ucsta_phone::{CallState, Phone, Report};

use crate::config::{Addressing, GatewayConfig};
use crate::handset::{Command, HandsetError};

/// The phone line a gateway drives: a [`Phone`] on embassy-net addresses.
pub type Line<
    const CALLS: usize,
    const TXS: usize,
    const STORE: usize,
    const BUF: usize,
    const Q: usize,
> = Phone<IpEndpoint, CALLS, TXS, STORE, BUF, Q>;

/// One line typed on the handset.
pub type HandsetLine = heapless::String<80>;

/// The text of an IPv4 address (`10.0.2.15`).
pub type AddressText = heapless::String<16>;

/// The text of `a`, as its `Display` writes it (`10.0.2.15`), without `core::fmt`.
pub fn address_text(a: Ipv4Addr) -> AddressText {
    let mut text = AddressText::new();
    for (i, x) in a.octets().into_iter().enumerate() {
        // At most 15 characters: every push fits.
        if i > 0 {
            let _ = text.push('.');
        }
        if x >= 100 {
            let _ = text.push(char::from(b'0' + x / 100));
        }
        if x >= 10 {
            let _ = text.push(char::from(b'0' + x / 10 % 10));
        }
        let _ = text.push(char::from(b'0' + x % 10));
    }
    text
}

/// The embassy-net configuration for `cfg`'s addressing.
pub fn net_config(cfg: &GatewayConfig<'_>) -> embassy_net::Config {
    match cfg.addressing {
        Addressing::Dhcp => embassy_net::Config::dhcpv4(Default::default()),
        Addressing::Static {
            address,
            prefix,
            gateway,
        } => embassy_net::Config::ipv4_static(StaticConfigV4 {
            address: Ipv4Cidr::new(address, prefix),
            gateway,
            dns_servers: heapless::Vec::new(),
        }),
    }
}

/// Waits until the stack has an IPv4 address (DHCP done, or the static one), and
/// returns it with its text.
pub async fn wait_address(stack: Stack<'_>) -> (Ipv4Addr, AddressText) {
    loop {
        stack.wait_config_up().await;
        if let Some(c) = stack.config_v4() {
            let a = c.address.address();
            return (a, address_text(a));
        }
    }
}

/// The phone's configuration: `cfg`'s line at `local` (the text from
/// [`wait_address`]), with `seed` mixed with the configured seed.
pub fn phone_config<'a>(
    cfg: &GatewayConfig<'a>,
    local: &'a str,
    domain: &'a str,
    seed: [u8; 32],
) -> ucsta_phone::Config<'a, IpEndpoint> {
    let extra = cfg.seed_bytes();
    let mut mixed = seed;
    for (m, e) in mixed.iter_mut().zip(extra) {
        *m ^= e;
    }
    let proxy = IpEndpoint::new((*cfg.server.ip()).into(), cfg.server.port());
    let mut c = ucsta_phone::Config::new(
        cfg.user,
        cfg.password,
        domain,
        proxy,
        local,
        cfg.port,
        mixed,
    );
    c.expires = cfg.expires;
    c.auto_answer = cfg.auto_answer;
    c.transport = cfg.transport;
    c.user_agent = "ucsta-gateway";
    c
}

/// The memory of the gateway's TCP connection.
#[derive(Debug)]
pub struct TcpBuffers<'a> {
    /// The socket's receive window.
    pub rx: &'a mut [u8],
    /// The socket's send buffer.
    pub tx: &'a mut [u8],
    /// Received octets not yet delimited into messages: at least the phone's `BUF`.
    pub stream: &'a mut [u8],
}

/// The memory of the gateway's UDP socket.
#[derive(Debug)]
pub struct SocketBuffers<'a> {
    /// Metadata of queued received datagrams (one per datagram).
    pub rx_meta: &'a mut [PacketMetadata],
    /// Received datagrams.
    pub rx: &'a mut [u8],
    /// Metadata of queued datagrams to send.
    pub tx_meta: &'a mut [PacketMetadata],
    /// Datagrams to send.
    pub tx: &'a mut [u8],
}

/// Where the line stands, for the handset's `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The registration is in force.
    pub registered: bool,
    /// A uaCSTA session is up.
    pub csta: bool,
    /// Do-not-disturb is on.
    pub dnd: bool,
    /// The calls, oldest first.
    pub calls: heapless::Vec<CallState, 4>,
}

/// What the gateway has to say: one line each on a console.
#[derive(Debug)]
pub enum Output<'a> {
    /// The phone reported a change.
    Report(&'a Report),
    /// The answer to `status`.
    Status(Status),
    /// A handset line was not understood.
    Refused(HandsetError<'a>),
    /// A datagram could not be sent.
    SendFailed(SendError),
    /// The TCP connection to the server is up.
    Connected,
    /// The TCP connection to the server could not be opened or was lost; the next
    /// attempt follows after the delay.
    Disconnected {
        /// Seconds until the next attempt.
        retry_in: u32,
    },
    /// The server's stream could not be delimited (the connection is closed).
    StreamBroken(ucsta_phone::StreamError),
}

impl fmt::Display for Output<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Output::Report(r) => fmt::Display::fmt(r, f),
            Output::Status(s) => {
                let yes = |b: bool| if b { "yes" } else { "no" };
                write!(
                    f,
                    "status registered={} csta={} dnd={} calls=",
                    yes(s.registered),
                    yes(s.csta),
                    yes(s.dnd)
                )?;
                if s.calls.is_empty() {
                    f.write_str("none")?;
                }
                for (i, c) in s.calls.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    f.write_str(c.as_str())?;
                }
                Ok(())
            }
            Output::Refused(e) => {
                f.write_str("error ")?;
                fmt::Display::fmt(e, f)
            }
            // As `Debug` shows the error, without the `Debug` machinery.
            Output::SendFailed(e) => f.write_str(match e {
                SendError::NoRoute => "warning send: NoRoute",
                SendError::SocketNotBound => "warning send: SocketNotBound",
                SendError::PacketTooLarge => "warning send: PacketTooLarge",
            }),
            Output::Connected => f.write_str("link up"),
            Output::Disconnected { retry_in } => write!(f, "link down retry_in={retry_in}"),
            Output::StreamBroken(e) => {
                f.write_str("warning ")?;
                fmt::Display::fmt(e, f)
            }
        }
    }
}

fn now() -> sip_lite::time::Instant {
    sip_lite::time::Instant::from_millis(embassy_time::Instant::now().as_millis())
}

/// Drives `phone` for ever: datagrams from a UDP socket bound to `port`, handset
/// lines from `handset`, its timers from embassy-time; datagrams out through the
/// socket, and every report, status or refusal to `out`. Datagrams go from the
/// socket's buffers to the phone and back without a copy in between. The phone
/// registers first.
pub async fn run<
    M,
    const N: usize,
    const CALLS: usize,
    const TXS: usize,
    const STORE: usize,
    const BUF: usize,
    const Q: usize,
>(
    stack: Stack<'_>,
    port: u16,
    buffers: SocketBuffers<'_>,
    phone: &mut Line<CALLS, TXS, STORE, BUF, Q>,
    handset: Receiver<'_, M, HandsetLine, N>,
    out: &mut impl FnMut(Output<'_>),
) -> !
where
    M: RawMutex,
{
    let mut socket = UdpSocket::new(
        stack,
        buffers.rx_meta,
        buffers.rx,
        buffers.tx_meta,
        buffers.tx,
    );
    // Bound once at start, on an unused socket: it cannot fail.
    let _ = socket.bind(port);
    phone.handle_action(now(), ucsta_phone::Action::Register);
    loop {
        while let Some((to, datagram)) = phone.poll_transmit_ref() {
            if let Err(e) = socket.send_to(datagram, to).await {
                out(Output::SendFailed(e));
            }
        }
        while let Some(r) = phone.poll_report() {
            out(Output::Report(&r));
        }
        let timer = timer_for(phone.poll_timeout());
        // The phone reads a datagram where the socket keeps it.
        let receive = socket.recv_from_with(|datagram, meta| {
            phone.handle_datagram(now(), meta.endpoint, datagram);
        });
        match select3(receive, handset.receive(), timer).await {
            Either3::First(()) => {}
            Either3::Second(line) => handle_line(phone, &line, out),
            Either3::Third(()) => phone.handle_timeout(now()),
        }
    }
}

/// Does what a handset line says.
fn handle_line<
    const CALLS: usize,
    const TXS: usize,
    const STORE: usize,
    const BUF: usize,
    const Q: usize,
>(
    phone: &mut Line<CALLS, TXS, STORE, BUF, Q>,
    line: &str,
    out: &mut impl FnMut(Output<'_>),
) {
    match handset::parse(line) {
        Ok(Command::Act(a)) => phone.handle_action(now(), a),
        Ok(Command::Status) => out(Output::Status(Status {
            registered: phone.is_registered(),
            csta: phone.csta_open(),
            dnd: phone.do_not_disturb(),
            calls: phone.call_states().take(4).collect(),
        })),
        Err(HandsetError::Empty) => {}
        Err(e) => out(Output::Refused(e)),
    }
}

async fn timer_for(deadline: Option<sip_lite::time::Instant>) {
    match deadline {
        Some(t) => Timer::at(embassy_time::Instant::from_millis(t.as_millis())).await,
        None => core::future::pending().await,
    }
}

/// The first and the longest wait between connection attempts, seconds.
const RECONNECT: (u32, u32) = (1, 32);

/// Drives `phone` over one TCP connection to `server` (the phone configured with
/// [`ucsta_phone::Transport::Tcp`]), for ever: connects (again after a loss, waiting
/// 1, 2, 4 ... 32 s between attempts), registers on every new connection, feeds what
/// arrives to [`ucsta_phone::Phone::handle_stream`] and writes every transmit to the
/// connection. Handset lines and timers are served while disconnected too; what the
/// phone sends meanwhile fails at once ([`ucsta_phone::Phone::handle_connection_lost`]).
pub async fn run_tcp<
    M,
    const N: usize,
    const CALLS: usize,
    const TXS: usize,
    const STORE: usize,
    const BUF: usize,
    const Q: usize,
>(
    stack: Stack<'_>,
    server: IpEndpoint,
    buffers: TcpBuffers<'_>,
    phone: &mut Line<CALLS, TXS, STORE, BUF, Q>,
    handset: Receiver<'_, M, HandsetLine, N>,
    out: &mut impl FnMut(Output<'_>),
) -> !
where
    M: RawMutex,
{
    let TcpBuffers { rx, tx, stream } = buffers;
    let mut wait = RECONNECT.0;
    loop {
        let mut socket = TcpSocket::new(stack, &mut *rx, &mut *tx);
        socket.set_timeout(Some(embassy_time::Duration::from_secs(90)));
        socket.set_keep_alive(Some(embassy_time::Duration::from_secs(30)));
        if socket.connect(server).await.is_ok() {
            wait = RECONNECT.0;
            out(Output::Connected);
            phone.handle_action(now(), ucsta_phone::Action::Register);
            let mut filled = 0;
            'connection: loop {
                while let Some((_, message)) = phone.poll_transmit_ref() {
                    let mut sent = 0;
                    while sent < message.len() {
                        match socket.write(&message[sent..]).await {
                            Ok(0) | Err(_) => break 'connection,
                            Ok(k) => sent += k,
                        }
                    }
                }
                while let Some(r) = phone.poll_report() {
                    out(Output::Report(&r));
                }
                let timer = timer_for(phone.poll_timeout());
                match select3(socket.read(&mut stream[filled..]), handset.receive(), timer).await {
                    Either3::First(Ok(0) | Err(_)) => break 'connection,
                    Either3::First(Ok(n)) => {
                        filled += n;
                        match phone.handle_stream(now(), server, &stream[..filled]) {
                            Ok(used) => {
                                stream.copy_within(used..filled, 0);
                                filled -= used;
                            }
                            Err(e) => {
                                out(Output::StreamBroken(e));
                                break 'connection;
                            }
                        }
                    }
                    Either3::Second(line) => handle_line(phone, &line, out),
                    Either3::Third(()) => phone.handle_timeout(now()),
                }
            }
            socket.abort();
            let _ = socket.flush().await;
            phone.handle_connection_lost(now());
        }
        drop(socket);
        out(Output::Disconnected { retry_in: wait });
        // Serve the handset and the phone's timers until the next attempt.
        let until =
            embassy_time::Instant::now() + embassy_time::Duration::from_secs(u64::from(wait));
        while embassy_time::Instant::now() < until {
            // Nothing reaches the server now: what the phone sends fails at once (a
            // call placed on the handset ends, a REGISTER backs off) instead of waiting
            // 32 s for its transaction to time out, a REGISTER outstanding that long
            // holding up the next connection's.
            while phone.poll_transmit_ref().is_some() {
                while phone.poll_transmit_ref().is_some() {}
                phone.handle_connection_lost(now());
            }
            while let Some(r) = phone.poll_report() {
                out(Output::Report(&r));
            }
            let timer = timer_for(phone.poll_timeout());
            match select3(Timer::at(until), handset.receive(), timer).await {
                Either3::First(()) => {}
                Either3::Second(line) => handle_line(phone, &line, out),
                Either3::Third(()) => phone.handle_timeout(now()),
            }
        }
        wait = (wait * 2).min(RECONNECT.1);
    }
}

#[cfg(test)]
mod tests {
    use core::fmt::Write as _;

    use super::*;

    #[test]
    fn send_failures_read_as_their_debug() {
        for e in [
            SendError::NoRoute,
            SendError::SocketNotBound,
            SendError::PacketTooLarge,
        ] {
            let (mut got, mut want) =
                (heapless::String::<64>::new(), heapless::String::<64>::new());
            write!(got, "{}", Output::SendFailed(e)).unwrap();
            write!(want, "warning send: {e:?}").unwrap();
            assert_eq!(got, want);
        }
    }

    #[test]
    fn address_texts_read_as_displayed() {
        for a in [
            [0, 0, 0, 0],
            [10, 0, 2, 15],
            [255, 255, 255, 255],
            [192, 168, 100, 9],
        ] {
            let a = Ipv4Addr::from(a);
            let mut want = heapless::String::<16>::new();
            write!(want, "{a}").unwrap();
            assert_eq!(address_text(a), want);
        }
    }

    #[test]
    fn status_line() {
        let mut s = heapless::String::<80>::new();
        let status = Status {
            registered: true,
            csta: false,
            dnd: false,
            calls: [CallState::Connected, CallState::Held]
                .into_iter()
                .collect(),
        };
        write!(s, "{}", Output::Status(status)).unwrap();
        assert_eq!(
            s.as_str(),
            "status registered=yes csta=no dnd=no calls=connected,held"
        );
    }
}
