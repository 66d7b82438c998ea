//! The phone user agent: one line, sans-IO. See the [crate docs](crate).

use core::fmt;
use core::time::Duration;

use csta_core::Edition;
use csta_core::message::Decoded;
use csta_core::model::phone::{CallRef, Command, Device, Divert, Forward, ModelError, Progress};
use csta_core::uacsta::phone::{PhoneConfig as SessionConfig, PhoneEvent, PhoneSession};
use heapless::{Deque, String, Vec};
use sip_lite::dialog::Dialog;
use sip_lite::digest::{CredentialsRepr, Request as DigestRequest, Secret, select_challenge};
use sip_lite::ids::IdGenerator;
use sip_lite::queue::MessageQueue;
use sip_lite::registration::{self, Registration, RegistrationEvent};
use sip_lite::time::{Instant, Timers};
use sip_lite::transaction::{self, ClientTx, Event, Received, ServerTx, Transactions, Tx};
use sip_lite::wire::{
    Emit as _, EmitError, FmtSink, HeaderIndex, HeaderName, Message, Method, NameAddr, SipUri,
    SliceSink, StatusCode, Unfolded, Uri, Writer,
};
use sip_lite::zeroed::ZeroOption;

use crate::report::{CallState, Cause, Name, Report, cut};
use crate::text::{TooLong, escape_into, fixed, format, offers_hold, sdp, unescape, user_of};

/// The arena of a call's dialog (route set, tags, URIs).
const DIALOG: usize = 1024;
/// Header slots for parsing.
const HEADERS: usize = 48;
/// How many Call-IDs of ended calls are remembered (a late BYE for them gets 200).
const ENDED_KEPT: usize = 8;
/// Datagrams waiting for [`Phone::poll_transmit`] beside the transaction layer's...
const OUT: usize = 8;
/// ... in this many times `BUF` octets.
const OUT_BUFS: usize = 2;
/// Reports waiting for [`Phone::poll_report`].
const REPORTS: usize = 16;
/// Why a phone without a configuration does nothing.
const NOT_CONFIGURED: &str = "not configured";
/// Why a datagram beside the transaction layer's was dropped.
const OUT_FULL: &str = "queue full";
/// 3xx answers an outgoing call follows before it fails (RFC 3261 section 8.1.3.4:
/// a redirection loop must end).
const MAX_REDIRECTS: u8 = 5;

type CallId = String<96>;
type Tag = String<32>;
type Target = String<128>;

/// Something the phone's user does: a button on the handset, a script line, a
/// test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action<'a> {
    /// Register (again). With [`Transport::Tcp`] the REGISTER goes out at once even
    /// when registered: on a new connection the binding must be made again.
    Register,
    /// Remove the binding.
    Unregister,
    /// Lift the handset: answers the ringing call, or starts dialling.
    OffHook,
    /// Dial a number: places the call the handset started, or a new one.
    Dial(&'a str),
    /// Place a call to a number (off hook and dial at once).
    Call(&'a str),
    /// Answer the ringing call.
    Answer,
    /// Hang up the newest call (put the handset down).
    Hangup,
    /// Hold the connected call.
    Hold,
    /// Retrieve the held call.
    Retrieve,
    /// Single-step transfer of the connected call.
    Transfer(&'a str),
    /// Consultation transfer: the held call's party is joined with the connected
    /// call's party (REFER with Replaces to the held party).
    CompleteTransfer,
    /// Joins the held and the connected call into a conference (the device is told;
    /// the phone mixes no media).
    Conference,
    /// Deflect the ringing call.
    Deflect(&'a str),
    /// Send DTMF digits in the connected call (SIP INFO, `application/dtmf-relay`).
    Digits(&'a str),
    /// Do-not-disturb on or off.
    DoNotDisturb(bool),
    /// Forwarding of a kind on (with a target) or off.
    Forward(Forward, Option<&'a str>),
    /// Answer incoming calls at once, or not.
    AutoAnswer(bool),
}

/// What a phone is made of, borrowed for [`Phone::new`] and [`Phone::configure`].
#[derive(Debug, Clone, Copy)]
pub struct Config<'a, A> {
    /// The SIP user: AOR user part, digest user name, CSTA device number.
    pub user: &'a str,
    /// The digest password.
    pub password: &'a str,
    /// The domain of the AOR and of called numbers.
    pub domain: &'a str,
    /// The outbound proxy and registrar every request goes to.
    pub proxy: A,
    /// The phone's own address as text (an IP literal; IPv6 without brackets), for
    /// Contact, Via, Call-IDs and SDP.
    pub local_host: &'a str,
    /// The phone's own UDP port.
    pub local_port: u16,
    /// The requested registration expiry, seconds.
    pub expires: u32,
    /// Whether incoming calls are answered at once.
    pub auto_answer: bool,
    /// How long a call rings before no-answer forwarding (when on) sends it on.
    pub no_answer: Duration,
    /// The User-Agent header value.
    pub user_agent: &'a str,
    /// How SIP reaches the server: datagrams, or one TCP connection (then feed
    /// [`Phone::handle_stream`] and write every transmit to the connection).
    pub transport: Transport,
    /// A seed for Call-IDs, tags, branches and cnonces: it must differ between boots
    /// and phones.
    pub seed: [u8; 32],
}

impl<'a, A> Config<'a, A> {
    /// A configuration with expiry 3600, no auto-answer, 15 s to no-answer forwarding.
    pub fn new(
        user: &'a str,
        password: &'a str,
        domain: &'a str,
        proxy: A,
        local_host: &'a str,
        local_port: u16,
        seed: [u8; 32],
    ) -> Config<'a, A> {
        Config {
            user,
            password,
            domain,
            proxy,
            local_host,
            local_port,
            expires: 3600,
            auto_answer: false,
            no_answer: Duration::from_secs(15),
            user_agent: "ucsta-phone",
            transport: Transport::Udp,
            seed,
        }
    }
}

/// How SIP reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Transport {
    /// UDP datagrams (retransmissions by the transaction layer).
    Udp,
    /// One TCP connection to the server (RFC 3261 section 18: no retransmissions;
    /// Contact with `transport=tcp`; the server sends its requests on the same
    /// connection).
    Tcp,
}

impl Transport {
    const fn reliable(self) -> bool {
        matches!(self, Transport::Tcp)
    }

    const fn via(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }
}

/// The stream from the server could not be read: it must be closed (and the phone
/// told with [`Phone::handle_connection_lost`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct StreamError(pub sip_lite::wire::ParseError);

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP stream broken: {}", self.0)
    }
}

impl core::error::Error for StreamError {}

/// Why a phone could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PhoneError {
    /// A configured string is longer than its fixed buffer (user 64, password 128,
    /// domain 128, host 64 octets).
    TooLong(&'static str),
    /// The registration client refused the configuration.
    Registration(registration::ConfigError),
    /// The uaCSTA session refused the configuration.
    Session(csta_core::uacsta::SessionError),
    /// The call model refused the device ID.
    Device(ModelError),
}

impl fmt::Display for PhoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PhoneError::TooLong(what) => write!(f, "{what} too long"),
            PhoneError::Registration(e) => write!(f, "registration configuration: {e}"),
            PhoneError::Session(e) => write!(f, "uaCSTA session configuration: {e}"),
            PhoneError::Device(e) => write!(f, "device: {e}"),
        }
    }
}

impl core::error::Error for PhoneError {}

/// Who started a client transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Register,
    Session(u32, Method<'static>),
    Call(u32, Purpose),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Invite,
    Reinvite { hold: bool },
    Bye,
    Refer,
    Dtmf,
    Other,
}

/// What a REFER of ours does once accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ReferKind {
    Single(Target),
    Consultation(u32),
}

/// A 2xx to an INVITE (in [`Call::last`]), resent with timer T1 doubling up to T2
/// until the ACK or 64*T1 (RFC 3261 section 13.3.1.4).
#[derive(Debug, Clone, Copy)]
struct Resend {
    next: Instant,
    interval: Duration,
    until: Instant,
}

struct Call<A, const BUF: usize> {
    no: u32,
    model: Option<CallRef>,
    state: CallState,
    outgoing: bool,
    peer: Name,
    call_id: CallId,
    local_tag: Tag,
    dialog: Option<Dialog<DIALOG>>,
    /// UAC: the INVITE we sent (the dialog is built from it and its 2xx; a challenge
    /// is answered by sending it again). UAS: the INVITE received, until the final
    /// answer. Empty when none.
    invite: Vec<u8, BUF>,
    invite_tx: Option<ClientTx>,
    invite_cseq: u32,
    /// UAC: the ACK for the 2xx, sent again when the 2xx comes again. UAS: the 2xx,
    /// resent until the ACK.
    last: Vec<u8, BUF>,
    auth_tried: bool,
    /// 3xx answers followed so far (a redirection loop ends the call).
    redirects: u8,
    server_tx: Option<ServerTx>,
    refer: Option<ReferKind>,
    /// The call this one replaces once answered (INVITE with Replaces).
    replaces: Option<u32>,
    /// UAS: where the INVITE came from, for the 2xx retransmissions.
    peer_addr: Option<A>,
    /// A consultation call (ConsultationCall) placed once this call is held.
    after_hold: Option<(CallRef, Target)>,
    resend: Option<Resend>,
    /// UAS: when no-answer forwarding sends the ringing call on.
    no_answer_at: Option<Instant>,
    /// DTMF digits still to send, one INFO each, one at a time.
    digits: String<32>,
    dtmf_in_flight: bool,
}

impl<A, const BUF: usize> Call<A, BUF> {
    /// A free slot (see [`Call::reset`]).
    fn idle() -> Self {
        Call {
            no: 0,
            model: None,
            state: CallState::Ended,
            outgoing: false,
            peer: Name::new(),
            call_id: CallId::new(),
            local_tag: Tag::new(),
            dialog: None,
            invite: Vec::new(),
            invite_tx: None,
            invite_cseq: 0,
            last: Vec::new(),
            auth_tried: false,
            redirects: 0,
            server_tx: None,
            refer: None,
            replaces: None,
            peer_addr: None,
            after_hold: None,
            resend: None,
            no_answer_at: None,
            digits: String::new(),
            dtmf_in_flight: false,
        }
    }

    /// Makes the slot a new call, field by field: a `Call` is kilobytes (two
    /// messages and a dialog), and one built whole passes through the stack.
    fn reset(&mut self, no: u32, model: Option<CallRef>, state: CallState, outgoing: bool) {
        self.no = no;
        self.model = model;
        self.state = state;
        self.outgoing = outgoing;
        self.peer.clear();
        self.call_id.clear();
        self.local_tag.clear();
        self.dialog = None;
        self.invite.clear();
        self.invite_tx = None;
        self.invite_cseq = 0;
        self.last.clear();
        self.auth_tried = false;
        self.redirects = 0;
        self.server_tx = None;
        self.refer = None;
        self.replaces = None;
        self.peer_addr = None;
        self.after_hold = None;
        self.resend = None;
        self.no_answer_at = None;
        self.digits.clear();
        self.dtmf_in_flight = false;
    }

    fn live(&self) -> bool {
        self.state != CallState::Ended
    }

    /// Kept after its end only while its INVITE may still be answered; a slot
    /// not kept is free for the next call.
    fn kept(&self) -> bool {
        self.live() || self.invite_tx.is_some()
    }
}

/// One phone line: a SIP user agent with the phone side of uaCSTA. See the
/// [crate docs](crate).
///
/// - `A`: the transport address (a socket address on std, an `IpEndpoint` on
///   embassy-net).
/// - `CALLS`: calls at once (the device's call slots).
/// - `TXS`: SIP transactions at once; finished ones linger (5 s for our requests, 32 s
///   for the server's over UDP), so bursts of CSTA traffic need room.
/// - `STORE`: octets the SIP transactions share for the messages they may send
///   again (see [`sip_lite::transaction`]): sized for what is in flight at once (a
///   REGISTER, an INVITE, a few CSTA messages), not `TXS` times `BUF`.
/// - `BUF`: the largest SIP message sent or kept, octets.
/// - `Q`: CSTA events queued towards the application.
pub struct Phone<
    A,
    const CALLS: usize,
    const TXS: usize,
    const STORE: usize,
    const BUF: usize,
    const Q: usize,
> {
    user: Name,
    password: String<128>,
    domain: String<128>,
    host: String<64>,
    aor: String<200>,
    contact: String<200>,
    via: String<128>,
    user_agent: String<32>,
    /// The outbound proxy; none while the phone is not configured (the mark of a
    /// configured phone). A [`ZeroOption`], as all the state of
    /// [`Phone::unconfigured`]: all zero bits, whatever `A` is.
    proxy: ZeroOption<A>,
    transport: Transport,
    no_answer: Duration,
    ids: IdGenerator,
    tx: Transactions<A, TXS, STORE>,
    client: Vec<(ClientTx, Owner), TXS>,
    reg: Registration,
    registered: bool,
    session: PhoneSession<Q, BUF>,
    csta_peer: ZeroOption<A>,
    device: Device<CALLS, Q>,
    /// `CALLS` slots once configured (filled then, so that a new call is set up in
    /// its slot rather than built on the stack and moved); a slot whose call is not
    /// [kept](Call::kept) is free.
    calls: Vec<Call<A, BUF>, CALLS>,
    ended: Deque<CallId, ENDED_KEPT>,
    next_call: u32,
    auto_answer: bool,
    out: MessageQueue<A, BUF, OUT_BUFS, OUT>,
    reports: Deque<Report, REPORTS>,
    reports_lost: u32,
    /// Where a message is written before it goes to the transaction layer or the
    /// transmit queue: one buffer of the phone's rather than one in the frame of
    /// each function that sends, several of which are on the stack at once.
    scratch: [u8; BUF],
}

impl<A, const CALLS: usize, const TXS: usize, const STORE: usize, const BUF: usize, const Q: usize>
    fmt::Debug for Phone<A, CALLS, TXS, STORE, BUF, Q>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Phone")
            .field("user", &self.user)
            .field("registered", &self.registered)
            .field("csta", &self.session.is_open())
            .field("calls", &self.calls.iter().filter(|c| c.kept()).count())
            .finish_non_exhaustive()
    }
}

/// What the phone says of itself in an INVITE: fields of [`Phone`], borrowed beside
/// a call of its.
struct Local<'a> {
    via: &'a str,
    aor: &'a str,
    contact: &'a str,
    user_agent: &'a str,
}

/// Writes call `c`'s INVITE (the next CSeq) where it is kept, `c.invite`: an
/// error when it does not fit.
fn write_invite<A, const BUF: usize>(
    c: &mut Call<A, BUF>,
    me: &Local<'_>,
    branch: &str,
    ruri: &str,
    replaces: Option<&str>,
    auth: Option<(HeaderName, &str)>,
    body: &str,
) -> fmt::Result {
    use core::fmt::Write as _;
    c.invite_cseq += 1;
    let text = &mut c.invite;
    text.clear();
    write!(
        text,
        "INVITE {ruri} SIP/2.0\r\nVia: {};rport;branch={branch}\r\nMax-Forwards: 70\r\n\
         From: <{}>;tag={}\r\nTo: <{ruri}>\r\nCall-ID: {}\r\nCSeq: {} INVITE\r\n\
         Contact: <{}>\r\n\
         Allow: INVITE, ACK, CANCEL, BYE, REFER, NOTIFY, INFO, UPDATE, OPTIONS\r\n\
         Supported: replaces\r\nUser-Agent: {}\r\n",
        me.via, me.aor, c.local_tag, c.call_id, c.invite_cseq, me.contact, me.user_agent,
    )?;
    if let Some(r) = replaces {
        write!(text, "Replaces: {r}\r\n")?;
    }
    if let Some((name, value)) = auth {
        write!(text, "{}: {value}\r\n", name.as_str())?;
    }
    write!(
        text,
        "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// The (Proxy-)Authorization answering a 401/407 to our INVITE.
fn authorization(
    ids: &mut IdGenerator,
    user: &str,
    password: &str,
    msg: &Message<'_>,
    status: u16,
    ruri: &str,
) -> Option<(HeaderName, String<1024>)> {
    let (challenge_name, answer_name) = if status == 407 {
        (
            HeaderName::ProxyAuthenticate,
            HeaderName::ProxyAuthorization,
        )
    } else {
        (HeaderName::WwwAuthenticate, HeaderName::Authorization)
    };
    let challenge = select_challenge(msg.header_lines(challenge_name))?;
    let cnonce = ids.token();
    let creds = CredentialsRepr::answer(
        &challenge,
        &DigestRequest::new("INVITE", ruri, b""),
        user,
        Secret::Password(password),
        cnonce.as_str(),
        1,
    )
    .ok()?;
    let mut sink = FmtSink(String::new());
    creds.emit(&mut sink).ok()?;
    Some((answer_name, sink.0))
}

/// Where a response's Contact and a REFER's Referred-By point.
fn bracketed(uri: &str) -> Result<String<202>, TooLong> {
    format(format_args!("<{uri}>"))
}

impl<A, const CALLS: usize, const TXS: usize, const STORE: usize, const BUF: usize, const Q: usize>
    Phone<A, CALLS, TXS, STORE, BUF, Q>
where
    A: Copy + PartialEq,
{
    /// A phone, not yet registered: [`Action::Register`] starts it.
    ///
    /// The value is built on the stack and moved: a phone is large ([`core::mem::size_of`]
    /// tells), so firmware keeps it in a `static` made with [`Phone::unconfigured`] and
    /// calls [`Phone::configure`] there instead.
    ///
    /// # Errors
    /// [`PhoneError`] when a configured string does not fit.
    pub fn new(cfg: &Config<'_, A>) -> Result<Self, PhoneError> {
        let mut phone = Self::unconfigured();
        phone.configure(cfg)?;
        Ok(phone)
    }

    /// A phone without a configuration, `const`, for a `static` that
    /// [`Phone::configure`] then sets up in place, so that the phone never passes
    /// through the stack:
    ///
    /// ```
    /// use std::sync::Mutex;
    /// use ucsta_phone::{Action, Config, Phone};
    ///
    /// type Line = Phone<u32, 2, 8, 6144, 2048, 4>;
    /// static PHONE: Mutex<Line> = Mutex::new(Line::unconfigured());
    ///
    /// let mut phone = PHONE.lock().unwrap();
    /// assert!(!phone.is_configured());
    /// let cfg = Config::new("201", "secret", "pbx.example", 7u32, "192.0.2.10", 5060, [7; 32]);
    /// phone.configure(&cfg).unwrap();
    /// assert_eq!(phone.user(), "201");
    /// ```
    ///
    /// Everything in it is zero bits (the transaction timers, the expiry and the
    /// other settings come with the configuration), so that firmware's `static` can go
    /// to `.bss` rather than take its size in flash too.
    ///
    /// Until it is configured, the phone does nothing: an action is answered with a
    /// [`Report::Warning`] (`phone: not configured`), datagrams and stream octets are
    /// dropped, and there is nothing to send and no timer.
    pub const fn unconfigured() -> Self {
        Phone {
            user: String::new(),
            password: String::new(),
            domain: String::new(),
            host: String::new(),
            aor: String::new(),
            contact: String::new(),
            via: String::new(),
            user_agent: String::new(),
            proxy: ZeroOption::None,
            transport: Transport::Udp,
            no_answer: Duration::ZERO,
            ids: IdGenerator::new([0; 32]),
            tx: Transactions::zeroed(),
            client: Vec::new(),
            reg: Registration::unconfigured(),
            registered: false,
            session: PhoneSession::unconfigured(),
            csta_peer: ZeroOption::None,
            device: Device::unconfigured(),
            calls: Vec::new(),
            ended: Deque::new(),
            next_call: 0,
            auto_answer: false,
            out: MessageQueue::new(),
            reports: Deque::new(),
            reports_lost: 0,
            scratch: [0; BUF],
        }
    }

    /// Sets the phone up in place, not yet registered ([`Action::Register`] starts
    /// it): nothing as large as the phone passes through the stack.
    ///
    /// A phone that was in use starts over, as [`Phone::new`] would make it with
    /// `cfg`: its calls, registration, uaCSTA session, transactions, device settings
    /// (do-not-disturb, forwarding), queued datagrams and reports are dropped, without
    /// a message to anyone: calls end without BYE, a binding stays at the registrar
    /// until it expires, the application finds its session gone at its next request.
    /// ([`Action::Unregister`] and hanging up first, then draining
    /// [`Phone::poll_transmit`], end them properly.)
    ///
    /// # Errors
    /// [`PhoneError`] when a configured string does not fit. The phone is left
    /// unconfigured then (it does nothing, see [`Phone::unconfigured`]) until a
    /// configuration succeeds.
    pub fn configure(&mut self, cfg: &Config<'_, A>) -> Result<(), PhoneError> {
        self.proxy = ZeroOption::None;
        self.tx.reset(transaction::Config::DEFAULT);
        let too_long = |what| move |_| PhoneError::TooLong(what);
        let user: Name = fixed(cfg.user).map_err(too_long("user"))?;
        let host: String<64> = fixed(cfg.local_host).map_err(too_long("host"))?;
        let port = cfg.local_port;
        let hostport: String<72> = if host.contains(':') {
            format(format_args!("[{host}]:{port}"))
        } else {
            format(format_args!("{host}:{port}"))
        }
        .map_err(too_long("host"))?;
        let aor =
            format(format_args!("sip:{}@{}", cfg.user, cfg.domain)).map_err(too_long("aor"))?;
        let params = match cfg.transport {
            Transport::Udp => "",
            Transport::Tcp => ";transport=tcp",
        };
        let contact = format(format_args!("sip:{}@{hostport}{params}", cfg.user))
            .map_err(too_long("contact"))?;
        let via: String<128> = format(format_args!("SIP/2.0/{} {hostport}", cfg.transport.via()))
            .map_err(too_long("via"))?;
        let via_rport: String<136> =
            format(format_args!("{via};rport")).map_err(too_long("via"))?;
        let registrar: String<136> =
            format(format_args!("sip:{}", cfg.domain)).map_err(too_long("domain"))?;
        self.ids = IdGenerator::new(cfg.seed);
        let mut rc = registration::Config::new(
            &registrar,
            &aor,
            &contact,
            &via_rport,
            cfg.user,
            Secret::Password(cfg.password),
        );
        rc.expires = cfg.expires;
        rc.user_agent = Some(cfg.user_agent);
        self.reg.configure(&rc).map_err(PhoneError::Registration)?;
        self.session
            .configure(&SessionConfig::new(&contact, &via), &mut self.ids)
            .map_err(PhoneError::Session)?;
        self.device
            .configure(cfg.user, 1)
            .map_err(PhoneError::Device)?;
        self.password = fixed(cfg.password).map_err(too_long("password"))?;
        self.domain = fixed(cfg.domain).map_err(too_long("domain"))?;
        self.user_agent = fixed(cfg.user_agent).map_err(too_long("user agent"))?;
        self.user = user;
        self.host = host;
        self.aor = aor;
        self.contact = contact;
        self.via = via;
        self.transport = cfg.transport;
        self.no_answer = cfg.no_answer;
        self.client.clear();
        self.registered = false;
        self.csta_peer = ZeroOption::None;
        self.calls.clear();
        while self.calls.push(Call::idle()).is_ok() {}
        self.ended.clear();
        self.next_call = 1;
        self.auto_answer = cfg.auto_answer;
        self.out.clear();
        self.reports.clear();
        self.reports_lost = 0;
        self.proxy = ZeroOption::Some(cfg.proxy);
        Ok(())
    }

    /// Whether the phone has a configuration ([`Phone::new`], [`Phone::configure`]).
    pub fn is_configured(&self) -> bool {
        self.proxy.is_some()
    }

    /// The phone's user.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Whether the registration is in force.
    pub fn is_registered(&self) -> bool {
        self.registered
    }

    /// Whether a uaCSTA session is up.
    pub fn csta_open(&self) -> bool {
        self.session.is_open()
    }

    /// The states of the calls in progress, oldest first.
    pub fn call_states(&self) -> impl Iterator<Item = CallState> + '_ {
        // Sorted by insertion: there are at most CALLS, and a library sort is kilobytes of
        // code in a firmware.
        let mut live: Vec<(u32, CallState), CALLS> = Vec::new();
        for c in self.calls.iter().filter(|c| c.live()) {
            let at = live.iter().position(|&(no, _)| no > c.no);
            // Cannot fail: there are no more live calls than slots.
            let _ = live.insert(at.unwrap_or(live.len()), (c.no, c.state));
        }
        live.into_iter().map(|(_, state)| state)
    }

    /// The ECMA-269 device of the line (do-not-disturb, forwarding, ...).
    pub fn device(&self) -> &Device<CALLS, Q> {
        &self.device
    }

    /// Whether do-not-disturb is on.
    pub fn do_not_disturb(&self) -> bool {
        self.device.do_not_disturb()
    }

    /// How many reports were dropped because [`Phone::poll_report`] was not called
    /// often enough.
    pub fn reports_lost(&self) -> u32 {
        self.reports_lost
    }

    /// The next datagram to send: where to send it, and its octets, lent until the
    /// phone is next called. The runtime passes them to its socket without a buffer of
    /// its own.
    #[must_use]
    pub fn poll_transmit_ref(&mut self) -> Option<(A, &[u8])> {
        if let Some(queued) = self.out.pop_front() {
            return Some(queued);
        }
        let t = self.tx.poll_transmit()?;
        Some((t.peer, t.bytes))
    }

    /// Copies the next datagram to send into `buf` (which should hold `BUF` octets):
    /// where to send it and its length. A datagram longer than `buf` is dropped with a
    /// warning.
    #[must_use]
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<(A, usize)> {
        loop {
            let (peer, bytes) = self.poll_transmit_ref()?;
            if let Some(to) = buf.get_mut(..bytes.len()) {
                to.copy_from_slice(bytes);
                return Some((peer, bytes.len()));
            }
            self.warn("transmit", "datagram larger than the buffer");
        }
    }

    /// The next report.
    #[must_use]
    pub fn poll_report(&mut self) -> Option<Report> {
        self.reports.pop_front()
    }

    /// When [`Phone::handle_timeout`] is due next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let calls = self
            .calls
            .iter()
            .filter(|c| c.kept())
            .flat_map(|c| [c.resend.map(|r| r.next), c.no_answer_at])
            .flatten()
            .min();
        [
            self.tx.poll_timeout(),
            self.reg.poll_timeout(),
            self.session.poll_timeout(),
            calls,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs the timers that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if !self.is_configured() {
            return;
        }
        if self.tx.poll_timeout().is_some_and(|t| t <= now) {
            self.tx.handle_timeout(now);
        }
        if self.reg.poll_timeout().is_some_and(|t| t <= now) {
            self.reg.handle_timeout(now);
        }
        if self.session.poll_timeout().is_some_and(|t| t <= now) {
            self.session.handle_timeout(now);
        }
        let t2 = Timers::DEFAULT.t2;
        for i in 0..self.calls.len() {
            let c = &mut self.calls[i];
            if !c.kept() {
                continue;
            }
            if c.no_answer_at.is_some_and(|t| t <= now) {
                c.no_answer_at = None;
                if c.state == CallState::Ringing
                    && let (true, Some(to)) = self.device.forwarding(Forward::NoAnswer)
                    && let Ok(to) = fixed::<128>(to)
                {
                    self.divert(now, i, &to, Divert::ForwardNoAnswer);
                    continue;
                }
            }
            let c = &mut self.calls[i];
            let (Some(mut r), Some(peer)) = (c.resend, c.peer_addr) else {
                continue;
            };
            if r.next > now {
                continue;
            }
            if now >= r.until {
                c.resend = None;
                if c.live() {
                    // No ACK came: the call is given up with a BYE (section 13.3.1.4).
                    self.in_dialog(now, i, Method::Bye, &[], None, Purpose::Bye);
                    self.progress(i, Progress::Cleared { remote: true });
                    self.call_report(i, CallState::Ended, Cause::NoAck);
                }
                continue;
            }
            r.interval = (r.interval * 2).min(t2);
            r.next = (now + r.interval).min(r.until);
            c.resend = Some(r);
            if self.out.push(peer, &self.calls[i].last).is_err() {
                self.warn("transmit", OUT_FULL);
            }
        }
        self.pump(now);
    }

    /// Sends the device's next event to the application (or drops it while no
    /// session is open); false when there was none. Not inlined: the message is built
    /// in this frame, not in that of [`Phone::pump`], which is under most of the phone.
    #[inline(never)]
    fn send_event(&mut self) -> bool {
        let Some(e) = self.device.poll_event() else {
            return false;
        };
        let msg = e.message();
        let name = msg.name();
        if self.session.is_open() {
            match self.session.send_event(&msg) {
                Ok(()) => self.push_report(Report::CstaEvent { name }),
                Err(err) => self.warn(name, err),
            }
        }
        true
    }

    fn push_report(&mut self, r: Report) {
        if self.reports.push_back(r).is_err() {
            self.reports_lost = self.reports_lost.saturating_add(1);
        }
    }

    fn warn(&mut self, what: &'static str, why: impl fmt::Display) {
        self.push_report(Report::Warning {
            what,
            why: cut(why),
        });
    }

    fn send_raw(&mut self, to: A, bytes: &[u8]) {
        if self.out.push(to, bytes).is_err() {
            self.warn("transmit", OUT_FULL);
        }
    }

    /// Sends call `idx`'s kept ACK to the proxy again.
    fn resend_ack(&mut self, idx: usize) {
        let Some(proxy) = self.proxy.get() else {
            return self.warn("transmit", NOT_CONFIGURED);
        };
        if self.out.push(proxy, &self.calls[idx].last).is_err() {
            self.warn("transmit", OUT_FULL);
        }
    }

    fn call_report(&mut self, idx: usize, state: CallState, cause: Cause) {
        let Some(c) = self.calls.get_mut(idx) else {
            return;
        };
        c.state = state;
        let report = Report::Call {
            call: c.no,
            state,
            peer: c.peer.clone(),
            cause,
        };
        if state == CallState::Ended {
            c.no_answer_at = None;
            c.digits.clear();
            if self.ended.is_full() {
                self.ended.pop_front();
            }
            let _ = self.ended.push_back(c.call_id.clone());
        }
        self.push_report(report);
    }

    fn progress(&mut self, idx: usize, p: Progress<'_>) {
        let Some(model) = self.calls.get(idx).and_then(|c| c.model) else {
            return;
        };
        if let Err(e) = self.device.handle_progress(model, p) {
            self.warn("call model", e);
        }
    }

    fn find_model(&self, r: CallRef) -> Option<usize> {
        self.calls
            .iter()
            .position(|c| c.live() && c.model == Some(r))
    }

    fn find_no(&self, no: u32) -> Option<usize> {
        self.calls.iter().position(|c| c.kept() && c.no == no)
    }

    fn remember(&mut self, c: ClientTx, owner: Owner) {
        if self.client.is_full() {
            // Entries of transactions that ended without telling us.
            let tx = &self.tx;
            self.client.retain(|(c, _)| tx.state(*c).is_some());
        }
        if self.client.push((c, owner)).is_err() {
            self.warn("transaction", "owner table full");
        }
    }

    fn owner(&self, c: ClientTx) -> Option<Owner> {
        self.client.iter().find(|(t, _)| *t == c).map(|(_, o)| *o)
    }

    fn forget(&mut self, c: ClientTx) -> Option<Owner> {
        let i = self.client.iter().position(|(t, _)| *t == c)?;
        Some(self.client.swap_remove(i).1)
    }

    /// Sends the request in `self.scratch[..len]` to the proxy.
    fn send_request(&mut self, now: Instant, len: usize, owner: Owner) -> bool {
        let Some(proxy) = self.proxy.get() else {
            self.warn("send request", NOT_CONFIGURED);
            return false;
        };
        let bytes = &self.scratch[..len];
        match self
            .tx
            .send_request(now, proxy, self.transport.reliable(), bytes)
        {
            Ok(c) => {
                self.remember(c, owner);
                true
            }
            Err(e) => {
                self.warn("send request", e);
                false
            }
        }
    }

    // ---------------------------------------------------------------------------------
    // Actions

    /// Does what the phone's user asks. What cannot be done (no ringing call to
    /// answer, or anything before the phone is configured) is reported as a warning.
    pub fn handle_action(&mut self, now: Instant, action: Action<'_>) {
        if !self.is_configured() {
            self.warn("phone", NOT_CONFIGURED);
            return;
        }
        match action {
            Action::Register => {
                // Over TCP the server reaches the phone by the connection it registered
                // over: a new connection needs a REGISTER of its own, now (not at the
                // refresh or after the back-off of a REGISTER the old one failed).
                let r = if self.transport.reliable() {
                    self.reg.register_now(now)
                } else {
                    self.reg.register(now)
                };
                if let Err(e) = r {
                    self.warn("register", e);
                }
            }
            Action::Unregister => self.reg.unregister(now),
            Action::OffHook => match self.newest(&[CallState::Ringing]) {
                Some(i) => self.answer(now, i),
                None => self.off_hook(),
            },
            Action::Dial(to) => match self.newest(&[CallState::Dialing]) {
                Some(i) => self.dial(now, i, to, None, Cause::Originated),
                None => self.call(now, to),
            },
            Action::Call(to) => self.call(now, to),
            Action::Answer => match self.newest(&[CallState::Ringing]) {
                Some(i) => self.answer(now, i),
                None => self.warn("answer", "no ringing call"),
            },
            Action::Hangup => match self.newest(&[
                CallState::Dialing,
                CallState::Calling,
                CallState::Ringback,
                CallState::Ringing,
                CallState::Connected,
                CallState::Held,
            ]) {
                Some(i) => self.clear(now, i),
                None => self.warn("hangup", "no call"),
            },
            Action::Hold => match self.newest(&[CallState::Connected]) {
                Some(i) => self.reinvite(now, i, true),
                None => self.warn("hold", "no connected call"),
            },
            Action::Retrieve => match self.newest(&[CallState::Held]) {
                Some(i) => self.reinvite(now, i, false),
                None => self.warn("retrieve", "no held call"),
            },
            Action::Transfer(to) => match self.newest(&[CallState::Connected, CallState::Held]) {
                Some(i) => match self.target_uri(to) {
                    Ok(t) => self.refer(now, i, ReferKind::Single(t)),
                    Err(_) => self.warn("transfer", "target too long"),
                },
                None => self.warn("transfer", "no connected call"),
            },
            Action::CompleteTransfer | Action::Conference => {
                let pair = (
                    self.newest(&[CallState::Held]),
                    self.newest(&[CallState::Connected]),
                );
                if let (Some(h), Some(a)) = pair {
                    if let (Some(mh), Some(ma)) = (self.calls[h].model, self.calls[a].model)
                        && let Err(e) = self.device.link_calls(mh, ma)
                    {
                        self.warn("call model", e);
                    }
                    if action == Action::Conference {
                        self.progress(h, Progress::Conferenced);
                    } else {
                        let no = self.calls[a].no;
                        self.refer(now, h, ReferKind::Consultation(no));
                    }
                } else {
                    self.warn("transfer", "needs a held and a connected call");
                }
            }
            Action::Deflect(to) => match self.newest(&[CallState::Ringing]) {
                Some(i) => self.divert(now, i, to, Divert::Deflected),
                None => self.warn("deflect", "no ringing call"),
            },
            Action::Digits(d) => match self.newest(&[CallState::Connected]) {
                Some(i) => self.queue_digits(now, i, d),
                None => self.warn("digits", "no connected call"),
            },
            Action::DoNotDisturb(on) => {
                if let Err(e) = self.device.handset_do_not_disturb(on) {
                    self.warn("do not disturb", e);
                }
            }
            Action::Forward(kind, to) => {
                if let Err(e) = self.device.handset_forwarding(kind, to.is_some(), to) {
                    self.warn("forward", e);
                }
            }
            Action::AutoAnswer(on) => self.auto_answer = on,
        }
        self.pump(now);
    }

    fn newest(&self, states: &[CallState]) -> Option<usize> {
        (0..self.calls.len())
            .filter(|&i| self.calls[i].kept() && states.contains(&self.calls[i].state))
            .max_by_key(|&i| self.calls[i].no)
    }

    // ---------------------------------------------------------------------------------
    // Device commands

    fn command(&mut self, now: Instant, command: Command) {
        match command {
            Command::Originate { call, to } => self.originate(now, Some(call), &to),
            Command::Answer { call } => {
                if let Some(i) = self.find_model(call) {
                    self.answer(now, i);
                }
            }
            Command::Clear { call } => {
                if let Some(i) = self.find_model(call) {
                    self.clear(now, i);
                }
            }
            Command::Hold { call } => {
                if let Some(i) = self.find_model(call) {
                    self.reinvite(now, i, true);
                }
            }
            Command::Retrieve { call } => {
                if let Some(i) = self.find_model(call) {
                    self.reinvite(now, i, false);
                }
            }
            Command::Consult { held, call, to } => match self.find_model(held) {
                // The consultation call starts once the hold is confirmed.
                Some(i) => match fixed(&to) {
                    Ok(to) => {
                        self.calls[i].after_hold = Some((call, to));
                        self.reinvite(now, i, true);
                    }
                    Err(_) => self.model_failed(call, "consultation target too long"),
                },
                None => self.originate(now, Some(call), &to),
            },
            Command::Transfer { held, active } => {
                if let (Some(h), Some(a)) = (self.find_model(held), self.find_model(active)) {
                    let no = self.calls[a].no;
                    self.refer(now, h, ReferKind::Consultation(no));
                }
            }
            Command::SingleStepTransfer { call, to } => {
                if let Some(i) = self.find_model(call) {
                    match self.target_uri(&to) {
                        Ok(t) => self.refer(now, i, ReferKind::Single(t)),
                        Err(_) => self.warn("transfer", "target too long"),
                    }
                }
            }
            Command::Deflect { call, to } => {
                if let Some(i) = self.find_model(call) {
                    self.divert(now, i, &to, Divert::Deflected);
                }
            }
            Command::Conference { held, .. } => {
                if let Some(i) = self.find_model(held) {
                    self.progress(i, Progress::Conferenced);
                }
            }
            Command::SendDigits { call, digits } => {
                if let Some(i) = self.find_model(call) {
                    self.queue_digits(now, i, &digits);
                }
            }
            // Already in force in the model; nothing to signal.
            Command::SetDoNotDisturb { .. }
            | Command::SetForwarding { .. }
            | Command::SetMessageWaiting { .. }
            | Command::SetSpeakerMute { .. }
            | Command::SetSpeakerVolume { .. }
            | Command::SetMicrophoneMute { .. } => {}
        }
    }

    /// A call of the model that never got SIP signalling ends at once.
    fn model_failed(&mut self, call: CallRef, why: &'static str) {
        self.warn("call", why);
        if let Err(e) = self
            .device
            .handle_progress(call, Progress::Cleared { remote: false })
        {
            self.warn("call model", e);
        }
    }

    // ---------------------------------------------------------------------------------
    // Outgoing calls

    fn target_uri(&self, to: &str) -> Result<Target, TooLong> {
        if to.starts_with("sip:") || to.starts_with("sips:") {
            fixed(to)
        } else {
            format(format_args!("sip:{to}@{}", self.domain))
        }
    }

    /// A new call entry; `None` (with a warning) when every slot is in use.
    fn new_call(
        &mut self,
        model: Option<CallRef>,
        state: CallState,
        outgoing: bool,
    ) -> Option<usize> {
        let no = self.next_call;
        let Some(idx) = self.calls.iter().position(|c| !c.kept()) else {
            self.warn("call", "no free call slot");
            return None;
        };
        let tag = fixed(self.ids.token().as_str()).unwrap_or_default();
        let call_id = if outgoing {
            let token = self.ids.token();
            format(format_args!("{}@{}", token.as_str(), self.host)).ok()?
        } else {
            CallId::new()
        };
        let call = &mut self.calls[idx];
        call.reset(no, model, state, outgoing);
        call.local_tag = tag;
        call.call_id = call_id;
        self.next_call = self.next_call.wrapping_add(1).max(1);
        Some(idx)
    }

    /// The handset went off hook: a call in state dialling.
    fn off_hook(&mut self) {
        match self.device.off_hook() {
            Ok(r) => match self.new_call(Some(r), CallState::Dialing, true) {
                Some(i) => self.call_report(i, CallState::Dialing, Cause::OffHook),
                None => self.model_failed(r, "no free call slot"),
            },
            Err(e) => self.warn("off hook", e),
        }
    }

    /// Off hook and dial at once.
    fn call(&mut self, now: Instant, to: &str) {
        match self.device.off_hook() {
            Ok(r) => self.originate(now, Some(r), to),
            Err(e) => {
                self.warn("call model refused the call", e);
                self.originate(now, None, to);
            }
        }
    }

    fn originate(&mut self, now: Instant, model: Option<CallRef>, to: &str) {
        match self.new_call(model, CallState::Calling, true) {
            Some(i) => self.dial(now, i, to, None, Cause::Originated),
            None => {
                if let Some(r) = model {
                    self.model_failed(r, "no free call slot");
                }
            }
        }
    }

    /// Places call `idx` (dialling or new) to `to`.
    fn dial(&mut self, now: Instant, idx: usize, to: &str, replaces: Option<&str>, cause: Cause) {
        let ruri = match self.target_uri(to) {
            Ok(r) => r,
            Err(_) => {
                self.warn("dial", "number too long");
                self.progress(idx, Progress::Cleared { remote: false });
                self.call_report(idx, CallState::Ended, Cause::Failed(484));
                return;
            }
        };
        let called = user_of(to);
        self.calls[idx].peer = called.clone();
        self.calls[idx].state = CallState::Calling;
        self.send_invite(now, idx, &ruri, replaces, None);
        self.progress(idx, Progress::Originated { called: &called });
        self.call_report(idx, CallState::Calling, cause);
    }

    /// Writes and sends an initial INVITE for call `idx`.
    fn send_invite(
        &mut self,
        now: Instant,
        idx: usize,
        ruri: &str,
        replaces: Option<&str>,
        auth: Option<(HeaderName, &str)>,
    ) {
        let body = sdp(&self.host, "sendrecv", 1);
        let branch = self.ids.branch();
        let Some(c) = self.calls.get_mut(idx) else {
            return;
        };
        let me = Local {
            via: &self.via,
            aor: &self.aor,
            contact: &self.contact,
            user_agent: &self.user_agent,
        };
        let written = write_invite(c, &me, branch.as_str(), ruri, replaces, auth, &body);
        self.invite_written(now, idx, written);
    }

    /// Sends call `idx`'s INVITE that [`write_invite`] just wrote (or fails the call if
    /// it could not).
    fn invite_written(&mut self, now: Instant, idx: usize, written: fmt::Result) {
        if written.is_err() {
            self.calls[idx].invite.clear();
            self.warn("send INVITE", "message too long");
            self.invite_failed(idx, 500);
            return;
        }
        let no = self.calls[idx].no;
        let Some(proxy) = self.proxy.get() else {
            self.warn("send INVITE", NOT_CONFIGURED);
            self.invite_failed(idx, 503);
            return;
        };
        match self.tx.send_request(
            now,
            proxy,
            self.transport.reliable(),
            &self.calls[idx].invite,
        ) {
            Ok(t) => {
                self.remember(t, Owner::Call(no, Purpose::Invite));
                self.calls[idx].invite_tx = Some(t);
            }
            Err(e) => {
                self.warn("send INVITE", e);
                self.invite_failed(idx, 503);
            }
        }
    }

    /// The INVITE of call `idx` could not go out: the call fails at once.
    fn invite_failed(&mut self, idx: usize, status: u16) {
        self.progress(idx, Progress::Failed { status });
        self.progress(idx, Progress::Cleared { remote: true });
        self.call_report(idx, CallState::Ended, Cause::Failed(status));
    }

    /// Sends a request in call `idx`'s dialog.
    fn in_dialog(
        &mut self,
        now: Instant,
        idx: usize,
        method: Method<'static>,
        headers: &[(&str, &str)],
        body: Option<(&str, &[u8])>,
        purpose: Purpose,
    ) -> bool {
        let Ok(via) = format::<136>(format_args!("{};rport", self.via)) else {
            return false;
        };
        let Some(c) = self.calls.get_mut(idx) else {
            return false;
        };
        let no = c.no;
        let Some(d) = c.dialog.as_mut() else {
            return false;
        };
        let r = d
            .request(method, &via, &mut self.ids, &mut self.scratch)
            .map_err(cut::<80>)
            .and_then(|mut w| {
                let r = (|| {
                    for (n, v) in headers {
                        w.header(n, v)?;
                    }
                    match body {
                        Some((t, b)) => {
                            w.header("Content-Type", t)?;
                            Ok(w.finish(b)?.len())
                        }
                        None => Ok(w.finish(b"")?.len()),
                    }
                })();
                r.map_err(|e: EmitError| cut::<80>(e))
            });
        let len = match r {
            Ok(n) => n,
            Err(e) => {
                self.warn("in-dialog request", e);
                return false;
            }
        };
        if method == Method::Ack {
            let last = &mut self.calls[idx].last;
            last.clear();
            if last.extend_from_slice(&self.scratch[..len]).is_err() {
                return false;
            }
            self.resend_ack(idx);
            true
        } else {
            self.send_request(now, len, Owner::Call(no, purpose))
        }
    }

    fn reinvite(&mut self, now: Instant, idx: usize, hold: bool) {
        let body = sdp(&self.host, if hold { "sendonly" } else { "sendrecv" }, 2);
        self.in_dialog(
            now,
            idx,
            Method::Invite,
            &[],
            Some(("application/sdp", body.as_bytes())),
            Purpose::Reinvite { hold },
        );
    }

    fn refer(&mut self, now: Instant, idx: usize, kind: ReferKind) {
        let refer_to: Result<String<400>, TooLong> = match &kind {
            ReferKind::Single(to) => format(format_args!("<{to}>")),
            ReferKind::Consultation(no) => {
                let Some(other) = self.find_no(*no).and_then(|i| self.calls.get(i)) else {
                    return;
                };
                let Some(d) = other.dialog.as_ref() else {
                    self.warn("transfer", "the consultation call has no dialog");
                    return;
                };
                (|| {
                    let replaces: String<200> = format(format_args!(
                        "{};to-tag={};from-tag={}",
                        d.call_id(),
                        d.remote_tag(),
                        d.local_tag()
                    ))?;
                    let mut v: String<400> =
                        format(format_args!("<{}?Replaces=", self.target_uri(&other.peer)?))?;
                    escape_into(&mut v, &replaces)?;
                    v.push('>').map_err(|_| TooLong)?;
                    Ok(v)
                })()
            }
        };
        let (Ok(refer_to), Ok(referred_by)) = (refer_to, bracketed(&self.aor)) else {
            self.warn("transfer", "Refer-To too long");
            return;
        };
        if let Some(c) = self.calls.get_mut(idx) {
            c.refer = Some(kind);
        }
        self.in_dialog(
            now,
            idx,
            Method::Refer,
            &[("Refer-To", &refer_to), ("Referred-By", &referred_by)],
            None,
            Purpose::Refer,
        );
    }

    fn queue_digits(&mut self, now: Instant, idx: usize, digits: &str) {
        let c = &mut self.calls[idx];
        for d in digits.chars() {
            // RFC 4733 events: 0-9, *, #, A-D.
            if !(d.is_ascii_digit() || matches!(d, '*' | '#' | 'A'..='D' | 'a'..='d')) {
                continue;
            }
            if c.digits.push(d.to_ascii_uppercase()).is_err() {
                self.warn("digits", "too many queued");
                break;
            }
        }
        self.next_digit(now, idx);
    }

    /// Sends the next queued digit of call `idx` unless one is on its way.
    fn next_digit(&mut self, now: Instant, idx: usize) {
        let c = &mut self.calls[idx];
        if c.dtmf_in_flight || c.digits.is_empty() || c.dialog.is_none() {
            return;
        }
        let d = c.digits.remove(0);
        let Ok(body) = format::<48>(format_args!("Signal={d}\r\nDuration=160\r\n")) else {
            return;
        };
        let sent = self.in_dialog(
            now,
            idx,
            Method::Info,
            &[],
            Some(("application/dtmf-relay", body.as_bytes())),
            Purpose::Dtmf,
        );
        self.calls[idx].dtmf_in_flight = sent;
    }

    // ---------------------------------------------------------------------------------
    // Answering and clearing

    fn respond_invite(
        &mut self,
        now: Instant,
        idx: usize,
        status: StatusCode,
        extra: &[(&str, &str)],
        body: Option<&str>,
    ) {
        let Ok(contact) = bracketed(&self.contact) else {
            return;
        };
        let Some(c) = self.calls.get_mut(idx) else {
            return;
        };
        let Some(stx) = c.server_tx else {
            return;
        };
        let mut hs = [HeaderIndex::EMPTY; HEADERS];
        let Ok(msg) = Message::parse(&c.invite, &mut hs) else {
            return;
        };
        let r = (|| {
            let mut w = Writer::response_to(
                SliceSink::new(&mut self.scratch),
                &msg,
                status,
                status.default_reason(),
                Some(&c.local_tag),
            )?;
            if status.as_u16() < 300 && status != StatusCode::TRYING {
                w.header("Contact", &contact)?;
                // A response that makes a dialog carries the request's Record-Route,
                // in order (RFC 3261 section 12.1.1): the caller's route set.
                for rr in msg.header_lines(HeaderName::RecordRoute) {
                    w.header_typed(HeaderName::RecordRoute, &Unfolded(rr))?;
                }
            }
            for (n, v) in extra {
                w.header(n, v)?;
            }
            match body {
                Some(b) => {
                    w.header("Content-Type", "application/sdp")?;
                    Ok(w.finish(b.as_bytes())?.len())
                }
                None => Ok(w.finish(b"")?.len()),
            }
        })();
        let len = match r {
            Ok(n) => n,
            Err::<_, EmitError>(e) => {
                self.warn("write response", e);
                return;
            }
        };
        // The dialog exists from the 2xx on, built where it is kept.
        let dialog = if status.is_success() {
            Dialog::new_uas(&msg, &c.local_tag, &self.contact).map(|d| c.dialog.insert(d).confirm())
        } else {
            Ok(())
        };
        if let Err(e) = dialog {
            self.warn("dialog", e);
        }
        if let Err(e) = self.tx.respond(now, stx, &self.scratch[..len]) {
            self.warn("respond", e);
        }
        // Out now: a final answer right after would take the provisional's place.
        if status.is_provisional() {
            while let Some(t) = self.tx.poll_transmit() {
                if self.out.push(t.peer, t.bytes).is_err() {
                    self.warn("transmit", OUT_FULL);
                }
            }
        }
        let c = &mut self.calls[idx];
        if status.is_success() {
            // The 2xx is resent until the ACK.
            c.last.clear();
            if c.last.extend_from_slice(&self.scratch[..len]).is_ok() {
                let t = Timers::DEFAULT;
                c.resend = c.peer_addr.map(|_| Resend {
                    next: now + t.t1,
                    interval: t.t1,
                    until: now + t.t1_x64(),
                });
            }
        }
        if status.is_final() {
            c.server_tx = None;
            c.invite.clear();
            c.no_answer_at = None;
        }
    }

    fn answer(&mut self, now: Instant, idx: usize) {
        let body = sdp(&self.host, "sendrecv", 1);
        self.respond_invite(now, idx, StatusCode::OK, &[], Some(&body));
        self.progress(idx, Progress::Answered);
        self.call_report(idx, CallState::Connected, Cause::Answered);
        if let Some(old) = self.calls.get(idx).and_then(|c| c.replaces)
            && let Some(o) = self.find_no(old)
            && self.calls[o].live()
        {
            self.in_dialog(now, o, Method::Bye, &[], None, Purpose::Bye);
            self.progress(o, Progress::Cleared { remote: false });
            self.call_report(o, CallState::Ended, Cause::Replaced);
        }
    }

    fn clear(&mut self, now: Instant, idx: usize) {
        let Some(c) = self.calls.get(idx) else {
            return;
        };
        match c.state {
            CallState::Dialing => {
                self.progress(idx, Progress::Cleared { remote: false });
                self.call_report(idx, CallState::Ended, Cause::Abandoned);
            }
            CallState::Ringing => {
                self.respond_invite(now, idx, StatusCode::BUSY_HERE, &[], None);
                self.progress(idx, Progress::Cleared { remote: false });
                self.call_report(idx, CallState::Ended, Cause::Rejected);
            }
            CallState::Calling | CallState::Ringback => {
                if let Some(t) = c.invite_tx {
                    let no = c.no;
                    match self.tx.cancel(now, t) {
                        Ok(ct) => self.remember(ct, Owner::Call(no, Purpose::Other)),
                        Err(e) => self.warn("cancel", e),
                    }
                }
                self.progress(idx, Progress::Cleared { remote: false });
                self.call_report(idx, CallState::Ended, Cause::Cancelled);
            }
            CallState::Connected | CallState::Held => {
                self.in_dialog(now, idx, Method::Bye, &[], None, Purpose::Bye);
                self.progress(idx, Progress::Cleared { remote: false });
                self.call_report(idx, CallState::Ended, Cause::Hangup);
            }
            CallState::Ended => {}
        }
    }

    /// Sends the ringing call `idx` to `to` with a 302 (deflection, no-answer
    /// forwarding).
    fn divert(&mut self, now: Instant, idx: usize, to: &str, how: Divert) {
        let Ok(contact) = self.target_uri(to).and_then(|t| bracketed(&t)) else {
            self.warn("deflect", "target too long");
            return;
        };
        self.respond_invite(
            now,
            idx,
            StatusCode::MOVED_TEMPORARILY,
            &[("Contact", &contact)],
            None,
        );
        self.progress(idx, Progress::Diverted { to, how });
        self.call_report(idx, CallState::Ended, Cause::Deflected);
    }

    // ---------------------------------------------------------------------------------
    // Input

    /// Takes what arrived on the TCP connection from `from` (with
    /// [`Transport::Tcp`]): every whole message at the start of `buf` is handled, and an
    /// RFC 5626 keep-alive ping answered. Returns how many octets were used; keep the
    /// rest and call again with more appended.
    ///
    /// A phone that is not configured drops the octets, as it drops datagrams: it
    /// returns `buf.len()`.
    ///
    /// # Errors
    /// [`StreamError`] when the stream cannot be delimited (no Content-Length, a
    /// broken head): close the connection, then [`Phone::handle_connection_lost`].
    pub fn handle_stream(
        &mut self,
        now: Instant,
        from: A,
        buf: &[u8],
    ) -> Result<usize, StreamError> {
        use sip_lite::wire::{KeepAlive, Status, keep_alive};
        if !self.is_configured() {
            return Ok(buf.len());
        }
        let mut used = 0;
        loop {
            let rest = &buf[used..];
            match keep_alive(rest) {
                Status::Partial => return Ok(used),
                Status::Complete(Some((kind, n))) => {
                    if kind == KeepAlive::Ping {
                        self.send_raw(from, b"\r\n");
                    }
                    used += n;
                    continue;
                }
                Status::Complete(None) => {}
            }
            if rest.is_empty() {
                return Ok(used);
            }
            let mut hs = [HeaderIndex::EMPTY; HEADERS];
            match Message::parse_stream(rest, &mut hs) {
                Ok(Status::Partial) => {
                    if rest.len() >= BUF {
                        // Longer than a message may be: it will never fit.
                        return Err(StreamError(sip_lite::wire::ParseError::HeadTruncated));
                    }
                    return Ok(used);
                }
                Ok(Status::Complete((_, n))) => {
                    self.handle_datagram(now, from, &rest[..n]);
                    used += n;
                }
                Err(e) => return Err(StreamError(e)),
            }
        }
    }

    /// The TCP connection to the server is gone (closed, reset, or broken by
    /// [`Phone::handle_stream`]): the requests in flight fail now (a call being placed
    /// ends, the registration retries later). Once a new connection is up, the driver
    /// registers again ([`Action::Register`]): the server knows the phone by its
    /// connection.
    pub fn handle_connection_lost(&mut self, now: Instant) {
        if !self.is_configured() {
            return;
        }
        for &(c, _) in self.client.iter() {
            let _ = self.tx.transport_error(c);
        }
        self.registered = false;
        self.pump(now);
    }

    /// Takes one datagram from `from`. Anything that is not a SIP message
    /// (keep-alives, garbage) is ignored; a malformed request gets 400. A phone that
    /// is not configured ignores everything.
    pub fn handle_datagram(&mut self, now: Instant, from: A, bytes: &[u8]) {
        if !self.is_configured() {
            return;
        }
        let mut hs = [HeaderIndex::EMPTY; HEADERS];
        let Ok(msg) = Message::parse(bytes, &mut hs) else {
            return;
        };
        let received = match self.tx.receive(now, from, self.transport.reliable(), &msg) {
            Ok(r) => r,
            Err(_) => {
                if msg.is_request() && msg.method() != Some(Method::Ack) {
                    self.stateless_reply(from, &msg, StatusCode::BAD_REQUEST);
                }
                return;
            }
        };
        match received {
            Received::Response(c) => {
                let owner = if msg.status().is_some_and(|s| s.is_final()) {
                    self.forget(c)
                } else {
                    self.owner(c)
                };
                match owner {
                    Some(o) => self.on_response(now, o, c, &msg),
                    None => self.stray_response(now, &msg),
                }
            }
            Received::Retransmitted2xx(_) | Received::Unmatched => self.stray_response(now, &msg),
            Received::Request(stx) => self.on_request(now, from, stx, &msg, bytes),
            Received::Ack => self.on_ack(now, &msg),
            Received::Cancel { cancel, invite } => self.on_cancel(now, cancel, invite, &msg),
            Received::Absorbed | Received::Rejected(_) => {}
        }
        self.pump(now);
    }

    fn stateless_reply(&mut self, to: A, msg: &Message<'_>, status: StatusCode) {
        if let Ok(w) = Writer::response_to(
            SliceSink::new(&mut self.scratch),
            msg,
            status,
            status.default_reason(),
            None,
        ) && let Ok(s) = w.finish(b"")
        {
            let n = s.len();
            if self.out.push(to, &self.scratch[..n]).is_err() {
                self.warn("transmit", OUT_FULL);
            }
        }
    }

    fn is_session(&self, msg: &Message<'_>) -> bool {
        self.session
            .call_id()
            .is_some_and(|id| msg.call_id().is_ok_and(|c| c == id))
    }

    fn stray_response(&mut self, now: Instant, msg: &Message<'_>) {
        if self.is_session(msg) {
            let _ = self.session.handle_response(now, msg);
            return;
        }
        // A 2xx to our INVITE again: its ACK is resent.
        let Ok(id) = msg.call_id() else { return };
        if msg.status().is_some_and(|s| s.is_success())
            && let Some(idx) = self
                .calls
                .iter()
                .position(|c| c.kept() && c.outgoing && c.call_id == id && !c.last.is_empty())
        {
            self.resend_ack(idx);
        }
    }

    fn on_response(&mut self, now: Instant, owner: Owner, c: ClientTx, msg: &Message<'_>) {
        let Some(status) = msg.status() else { return };
        match owner {
            Owner::Register => {
                if let Err(e) = self.reg.handle_response(now, msg, &mut self.ids) {
                    self.warn("REGISTER response", e);
                }
            }
            Owner::Session(..) => {
                let _ = self.session.handle_response(now, msg);
            }
            Owner::Call(no, purpose) => {
                let Some(idx) = self.find_no(no) else { return };
                // Only the INVITE of a call that ended may still be answered (a 2xx
                // that crossed our CANCEL is acknowledged and ended).
                if purpose != Purpose::Invite && !self.calls[idx].live() {
                    return;
                }
                match purpose {
                    Purpose::Invite => self.invite_response(now, idx, c, msg, status),
                    Purpose::Reinvite { hold } => self.reinvite_response(now, idx, hold, status),
                    Purpose::Refer => {
                        if status.is_success() {
                            self.refer_accepted(now, idx);
                        } else if status.is_final() {
                            self.calls[idx].refer = None;
                            self.warn("REFER refused", status);
                        }
                    }
                    Purpose::Dtmf => {
                        if status.is_final() {
                            self.calls[idx].dtmf_in_flight = false;
                            if !status.is_success() {
                                self.calls[idx].digits.clear();
                                self.warn("DTMF INFO refused", status);
                            }
                            self.next_digit(now, idx);
                        }
                    }
                    Purpose::Bye | Purpose::Other => {}
                }
            }
        }
    }

    fn reinvite_response(&mut self, now: Instant, idx: usize, hold: bool, status: StatusCode) {
        if status.is_success() {
            self.in_dialog(now, idx, Method::Ack, &[], None, Purpose::Other);
            if hold {
                self.progress(idx, Progress::Held);
                self.call_report(idx, CallState::Held, Cause::Hold);
                if let Some((r, to)) = self.calls[idx].after_hold.take() {
                    self.originate(now, Some(r), &to);
                }
            } else {
                self.progress(idx, Progress::Retrieved);
                self.call_report(idx, CallState::Connected, Cause::Retrieve);
            }
        } else if status.is_final() {
            // A non-2xx final answer to a re-INVITE is acknowledged by the
            // transaction layer; the call stays as it was.
            self.warn("re-INVITE refused", status);
            // A consultation waiting for this hold never starts.
            if let Some((r, _)) = self.calls[idx].after_hold.take() {
                self.model_failed(r, "the hold before the consultation was refused");
            }
        }
    }

    fn refer_accepted(&mut self, now: Instant, idx: usize) {
        let Some(kind) = self.calls.get_mut(idx).and_then(|c| c.refer.take()) else {
            return;
        };
        match kind {
            ReferKind::Single(to) => {
                let to = user_of(&to);
                self.progress(idx, Progress::SingleStepTransferred { to: &to });
                self.in_dialog(now, idx, Method::Bye, &[], None, Purpose::Bye);
                self.call_report(idx, CallState::Ended, Cause::Transferred);
            }
            ReferKind::Consultation(no) => {
                self.progress(idx, Progress::Transferred);
                self.in_dialog(now, idx, Method::Bye, &[], None, Purpose::Bye);
                self.call_report(idx, CallState::Ended, Cause::Transferred);
                // The target ends the consultation call once it took the transferee's
                // INVITE with Replaces; its BYE is answered from `ended`.
                if let Some(o) = self.find_no(no) {
                    self.call_report(o, CallState::Ended, Cause::Transferred);
                }
            }
        }
    }

    fn invite_response(
        &mut self,
        now: Instant,
        idx: usize,
        tx: ClientTx,
        msg: &Message<'_>,
        status: StatusCode,
    ) {
        let call = &self.calls[idx];
        if call.invite_tx != Some(tx) {
            return;
        }
        let live = call.live();
        let s = status.as_u16();
        if status.is_provisional() {
            if (s == 180 || s == 183) && call.state == CallState::Calling {
                self.progress(idx, Progress::Ringing);
                self.call_report(idx, CallState::Ringback, Cause::Ringing);
            }
            return;
        }
        self.calls[idx].invite_tx = None;
        if status.is_success() {
            let c = &mut self.calls[idx];
            let mut hs = [HeaderIndex::EMPTY; HEADERS];
            let dialog = Message::parse(&c.invite, &mut hs)
                .ok()
                .and_then(|req| Dialog::new_uac(&req, msg).ok());
            let Some(d) = dialog else {
                self.warn("2xx", "cannot build the dialog");
                return;
            };
            c.dialog = Some(d);
            self.in_dialog(now, idx, Method::Ack, &[], None, Purpose::Other);
            if live {
                self.progress(idx, Progress::Answered);
                self.call_report(idx, CallState::Connected, Cause::Answered);
            } else {
                // Cancelled, but the 2xx crossed the CANCEL: end it.
                self.in_dialog(now, idx, Method::Bye, &[], None, Purpose::Bye);
            }
            return;
        }
        if !live {
            return;
        }
        if (300..400).contains(&s)
            && self.calls[idx].redirects < MAX_REDIRECTS
            && let Some(Ok(contact)) = msg.contacts().next()
            && let Some(addr) = contact.addr()
            && let Ok(target) = format::<128>(format_args!("{}", addr.uri))
        {
            self.calls[idx].peer = user_of(&target);
            self.calls[idx].redirects += 1;
            self.call_report(idx, CallState::Calling, Cause::Redirected);
            // The new target's INVITE may be challenged again.
            self.calls[idx].auth_tried = false;
            self.send_invite(now, idx, &target, None, None);
            return;
        }
        if (s == 401 || s == 407) && !self.calls[idx].auth_tried {
            self.calls[idx].auth_tried = true;
            // The retry keeps the first INVITE's Request-URI and Replaces (a
            // transferee's call), read from a copy of it in `scratch`.
            let n = self.calls[idx].invite.len();
            self.scratch[..n].copy_from_slice(&self.calls[idx].invite);
            let mut hs = [HeaderIndex::EMPTY; HEADERS];
            if let Ok(m) = Message::parse(&self.scratch[..n], &mut hs)
                && let Some(ruri) = m.request_uri_str()
                && let Some(auth) =
                    authorization(&mut self.ids, &self.user, &self.password, msg, s, ruri)
            {
                let body = sdp(&self.host, "sendrecv", 1);
                let branch = self.ids.branch();
                let me = Local {
                    via: &self.via,
                    aor: &self.aor,
                    contact: &self.contact,
                    user_agent: &self.user_agent,
                };
                let replaces = m.header(HeaderName::Replaces);
                let auth = Some((auth.0, auth.1.as_str()));
                let c = &mut self.calls[idx];
                let written = write_invite(c, &me, branch.as_str(), ruri, replaces, auth, &body);
                self.invite_written(now, idx, written);
                return;
            }
        }
        self.invite_failed(idx, s);
    }

    fn on_ack(&mut self, now: Instant, msg: &Message<'_>) {
        if self.is_session(msg) {
            let mut serve = |_: &Decoded<'_>, _: Edition, _: &mut [u8]| Ok(0);
            let _ = self
                .session
                .handle_request(now, msg, &mut serve, &mut self.scratch);
        }
        // The ACK for our 2xx to a call ends its retransmissions.
        if let Ok(id) = msg.call_id()
            && let Some(c) = self
                .calls
                .iter_mut()
                .find(|c| c.kept() && !c.outgoing && c.call_id == id)
        {
            c.resend = None;
        }
    }

    fn on_cancel(
        &mut self,
        now: Instant,
        cancel: ServerTx,
        invite: Option<ServerTx>,
        msg: &Message<'_>,
    ) {
        let status = if invite.is_some() {
            StatusCode::OK
        } else {
            StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST
        };
        if let Ok(w) = Writer::response_to(
            SliceSink::new(&mut self.scratch),
            msg,
            status,
            status.default_reason(),
            None,
        ) && let Ok(s) = w.finish(b"")
        {
            let n = s.len();
            let _ = self.tx.respond(now, cancel, &self.scratch[..n]);
        }
        let Some(inv) = invite else { return };
        if let Some(idx) = self
            .calls
            .iter()
            .position(|c| c.live() && c.server_tx == Some(inv))
        {
            self.respond_invite(now, idx, StatusCode::REQUEST_TERMINATED, &[], None);
            self.progress(idx, Progress::Cancelled);
            self.call_report(idx, CallState::Ended, Cause::Cancelled);
        }
    }

    fn is_csta_request(msg: &Message<'_>) -> bool {
        let csta_body = !msg.body().is_empty()
            && match msg.content_type() {
                Some(Ok(t)) => {
                    t.is("application", "csta+xml")
                        || t.is("application", "xml")
                        || t.is("text", "xml")
                }
                None => msg.body().first() == Some(&b'<'),
                Some(Err(_)) => false,
            };
        match msg.method() {
            Some(Method::Invite | Method::Info) => csta_body,
            Some(Method::Notify) => msg.header(HeaderName::Event).is_some_and(|v| {
                v.split(';')
                    .next()
                    .is_some_and(|p| p.trim_ascii().eq_ignore_ascii_case("uaCSTA"))
            }),
            _ => false,
        }
    }

    fn on_request(
        &mut self,
        now: Instant,
        from: A,
        stx: ServerTx,
        msg: &Message<'_>,
        bytes: &[u8],
    ) {
        let Some(method) = msg.method() else { return };
        let call_id = msg.call_id().unwrap_or_default();
        let call_idx = self
            .calls
            .iter()
            .position(|c| c.call_id == call_id && c.live());
        let to_session = call_idx.is_none() && (self.is_session(msg) || Self::is_csta_request(msg));
        if to_session {
            self.session_request(now, from, stx, msg, method);
            return;
        }
        match (method, call_idx) {
            (Method::Invite, None) => self.incoming(now, from, stx, msg, bytes),
            (Method::Invite, Some(i)) => {
                // A re-INVITE: mirror the direction offered.
                let hold = offers_hold(msg.body());
                let body = sdp(&self.host, if hold { "recvonly" } else { "sendrecv" }, 2);
                self.plain_reply(now, stx, msg, StatusCode::OK, Some(&body), Some(i));
            }
            (Method::Bye, Some(i)) => {
                self.plain_reply(now, stx, msg, StatusCode::OK, None, Some(i));
                self.progress(i, Progress::Cleared { remote: true });
                self.call_report(i, CallState::Ended, Cause::Bye);
            }
            (Method::Refer, Some(i)) => self.refer_received(now, stx, msg, i),
            (Method::Bye, None) if self.ended.iter().any(|c| c == call_id) => {
                self.plain_reply(now, stx, msg, StatusCode::OK, None, None);
            }
            (Method::Bye | Method::Refer, None) => self.plain_reply(
                now,
                stx,
                msg,
                StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST,
                None,
                None,
            ),
            (
                Method::Options | Method::Notify | Method::Info | Method::Update | Method::Message,
                i,
            ) => self.plain_reply(now, stx, msg, StatusCode::OK, None, i),
            (_, i) => self.plain_reply(now, stx, msg, StatusCode::NOT_IMPLEMENTED, None, i),
        }
    }

    fn plain_reply(
        &mut self,
        now: Instant,
        stx: ServerTx,
        msg: &Message<'_>,
        status: StatusCode,
        sdp_body: Option<&str>,
        call: Option<usize>,
    ) {
        let tag: Tag = match call.and_then(|i| self.calls.get(i)) {
            Some(c) => c.local_tag.clone(),
            None => fixed(self.ids.token().as_str()).unwrap_or_default(),
        };
        let Ok(contact) = bracketed(&self.contact) else {
            return;
        };
        let r = (|| {
            let mut w = Writer::response_to(
                SliceSink::new(&mut self.scratch),
                msg,
                status,
                status.default_reason(),
                Some(&tag),
            )?;
            if msg.method() == Some(Method::Invite) && status.is_success() {
                w.header("Contact", &contact)?;
            }
            match sdp_body {
                Some(b) => {
                    w.header("Content-Type", "application/sdp")?;
                    Ok(w.finish(b.as_bytes())?.len())
                }
                None => Ok(w.finish(b"")?.len()),
            }
        })();
        match r {
            Ok(n) => {
                if let Err(e) = self.tx.respond(now, stx, &self.scratch[..n]) {
                    self.warn("respond", e);
                }
            }
            Err::<_, EmitError>(e) => self.warn("write response", e),
        }
    }

    fn session_request(
        &mut self,
        now: Instant,
        from: A,
        stx: ServerTx,
        msg: &Message<'_>,
        method: Method<'_>,
    ) {
        if method == Method::Invite {
            self.csta_peer = ZeroOption::Some(from);
        }
        let mut served: Option<(&'static str, &'static str)> = None;
        let device = &mut self.device;
        let mut serve = |r: &Decoded<'_>, edition: Edition, out: &mut [u8]| {
            let reply = device.handle_request(&r.message);
            let answer = reply.message();
            served = Some((r.message.name(), answer.name()));
            answer.encode(edition, out)
        };
        match self
            .session
            .handle_request(now, msg, &mut serve, &mut self.scratch)
        {
            Ok(0) => {}
            Ok(n) => {
                if let Err(e) = self.tx.respond(now, stx, &self.scratch[..n]) {
                    self.warn("respond", e);
                }
            }
            Err(e) => {
                self.warn("CSTA request", e);
                self.plain_reply(now, stx, msg, StatusCode::BAD_REQUEST, None, None);
            }
        }
        if let Some((name, answer)) = served {
            self.push_report(Report::CstaRequest { name, answer });
        }
    }

    fn incoming(
        &mut self,
        now: Instant,
        from_addr: A,
        stx: ServerTx,
        msg: &Message<'_>,
        bytes: &[u8],
    ) {
        let from = msg
            .from()
            .ok()
            .map(|f| user_of(&cut::<128>(&f.uri)))
            .unwrap_or_default();
        let called = msg
            .to()
            .ok()
            .map(|t| user_of(&cut::<128>(&t.uri)))
            .unwrap_or_else(|| self.user.clone());
        let replaces = msg.header(HeaderName::Replaces).and_then(|r| {
            let id = r.split(';').next()?.trim_ascii();
            self.calls
                .iter()
                .find(|c| c.live() && c.dialog.as_ref().is_some_and(|d| d.call_id() == id))
                .map(|c| c.no)
        });
        let busy = self.calls.iter().any(Call::live);
        let forward = |f: Forward, how: Divert| -> Option<(Target, Divert)> {
            let (on, to) = self.device.forwarding(f);
            let applies = match how {
                Divert::ForwardBusy => busy,
                _ => true,
            };
            (on && applies)
                .then(|| fixed(to.unwrap_or_default()).ok())
                .flatten()
                .map(|t| (t, how))
        };
        let redirect = if replaces.is_some() {
            None
        } else {
            forward(Forward::Immediate, Divert::ForwardImmediate)
                .or_else(|| forward(Forward::Busy, Divert::ForwardBusy))
        };
        let Ok(call_id) = fixed::<96>(msg.call_id().unwrap_or_default()) else {
            self.stateless_reject(now, stx, msg, &from, StatusCode::BUSY_HERE);
            return;
        };
        if bytes.len() > BUF {
            // More than a call keeps (RFC 3261 section 21.5.14).
            self.stateless_reject(now, stx, msg, &from, StatusCode::MESSAGE_TOO_LARGE);
            return;
        }
        let Some(idx) = self.new_call(None, CallState::Ringing, false) else {
            self.stateless_reject(now, stx, msg, &from, StatusCode::BUSY_HERE);
            return;
        };
        let c = &mut self.calls[idx];
        c.peer = from.clone();
        c.call_id = call_id;
        c.invite.clear();
        // Fits: no longer than `BUF`, as checked above.
        let _ = c.invite.extend_from_slice(bytes);
        c.server_tx = Some(stx);
        c.replaces = replaces;
        c.peer_addr = Some(from_addr);
        if replaces.is_none() && self.device.do_not_disturb() {
            self.turn_away(now, idx, from, None);
            return;
        }
        if let Some((to, how)) = redirect
            && !to.is_empty()
        {
            let Ok(contact) = self.target_uri(&to).and_then(|t| bracketed(&t)) else {
                self.turn_away(now, idx, from, None);
                return;
            };
            self.respond_invite(
                now,
                idx,
                StatusCode::MOVED_TEMPORARILY,
                &[("Contact", &contact)],
                None,
            );
            if let Err(e) = self.device.forwarded(&from, &called, &to, how) {
                self.warn("call model", e);
            }
            self.calls[idx].state = CallState::Ended;
            self.push_report(Report::Rejected {
                from,
                status: 302,
                to: Some(cut(&to)),
            });
            return;
        }
        match self.device.incoming(&from, &called) {
            Ok(r) => self.calls[idx].model = Some(r),
            Err(ModelError::NoFreeSlot) => {
                self.turn_away(now, idx, from, None);
                return;
            }
            Err(e) => self.warn("call model", e),
        }
        self.respond_invite(now, idx, StatusCode::RINGING, &[], None);
        self.call_report(idx, CallState::Ringing, Cause::Incoming);
        if self.auto_answer || replaces.is_some() {
            self.answer(now, idx);
        } else if self.device.forwarding(Forward::NoAnswer).0 {
            self.calls[idx].no_answer_at = Some(now + self.no_answer);
        }
    }

    /// Answers call `idx`'s INVITE 486 without ringing.
    fn turn_away(&mut self, now: Instant, idx: usize, from: Name, to: Option<Name>) {
        self.respond_invite(now, idx, StatusCode::BUSY_HERE, &[], None);
        self.calls[idx].state = CallState::Ended;
        self.push_report(Report::Rejected {
            from,
            status: 486,
            to,
        });
    }

    /// An INVITE we have no room for: 486 (no call slot) or 513 (too long) from the
    /// transaction alone.
    fn stateless_reject(
        &mut self,
        now: Instant,
        stx: ServerTx,
        msg: &Message<'_>,
        from: &Name,
        status: StatusCode,
    ) {
        self.plain_reply(now, stx, msg, status, None, None);
        self.push_report(Report::Rejected {
            from: from.clone(),
            status: status.as_u16(),
            to: None,
        });
    }

    fn refer_received(&mut self, now: Instant, stx: ServerTx, msg: &Message<'_>, idx: usize) {
        let Some(refer_to) = msg
            .header(HeaderName::ReferTo)
            .and_then(|v| NameAddr::parse(v).ok())
        else {
            self.plain_reply(now, stx, msg, StatusCode::BAD_REQUEST, None, Some(idx));
            return;
        };
        // The URI's headers belong in the INVITE it triggers (RFC 3515 section 2.1); the
        // one a phone acts on is Replaces (RFC 3891), the call the transfer replaces.
        let (uri, replaces) = match refer_to.uri {
            Uri::Sip(sip) => (
                Uri::Sip(SipUri {
                    headers: None,
                    ..sip
                }),
                sip.headers()
                    .find(|(name, _)| name.eq_ignore_ascii_case("Replaces"))
                    .map(|(_, value)| value),
            ),
            other => (other, None),
        };
        let replaces = match replaces.map(unescape::<200>).transpose() {
            Ok(r) => r,
            Err(_) => {
                self.plain_reply(now, stx, msg, StatusCode::BAD_REQUEST, None, Some(idx));
                return;
            }
        };
        let Ok(uri) = format::<128>(format_args!("{uri}")) else {
            self.plain_reply(now, stx, msg, StatusCode::BAD_REQUEST, None, Some(idx));
            return;
        };
        self.plain_reply(now, stx, msg, StatusCode::ACCEPTED, None, Some(idx));
        // The transferee calls the target as a new call from the handset.
        let model = self.device.off_hook().ok();
        match self.new_call(model, CallState::Calling, true) {
            Some(n) => self.dial(now, n, &uri, replaces.as_deref(), Cause::Referred),
            None => {
                if let Some(r) = model {
                    self.model_failed(r, "no free call slot for the transfer");
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------
    // Moving outputs

    fn pump(&mut self, now: Instant) {
        // Each round moves at least one output; the bound keeps a bug from spinning.
        for _ in 0..1000 {
            let mut moved = false;
            while self.send_event() {
                moved = true;
            }
            while let Some(c) = self.device.poll_command() {
                moved = true;
                self.command(now, c);
            }
            while let Some(out) = self
                .session
                .poll_request(now, &mut self.ids, &mut self.scratch)
            {
                // A message that does not fit stays due: said once, not retried here.
                let Ok(out) = out else {
                    self.warn("CSTA request", "does not fit");
                    break;
                };
                moved = true;
                let Some(peer) = self.csta_peer.get() else {
                    break;
                };
                let bytes = &self.scratch[..out.len];
                if out.transaction {
                    match self
                        .tx
                        .send_request(now, peer, self.transport.reliable(), bytes)
                    {
                        Ok(c) => self.remember(c, Owner::Session(out.cseq, out.method)),
                        Err(e) => {
                            self.session
                                .handle_request_failed(now, out.cseq, out.method);
                            self.warn("CSTA request", e);
                        }
                    }
                } else if self.out.push(peer, bytes).is_err() {
                    self.warn("transmit", OUT_FULL);
                }
            }
            while let Some(ev) = self.session.poll_event() {
                moved = true;
                match ev {
                    PhoneEvent::Opened { .. } => self.push_report(Report::CstaUp),
                    PhoneEvent::Ended(reason) => {
                        self.device.stop_monitors();
                        self.push_report(Report::CstaDown { reason });
                    }
                    PhoneEvent::EventRejected(s) => {
                        self.push_report(Report::CstaEventRejected {
                            status: s.map(StatusCode::as_u16),
                        });
                    }
                }
            }
            while let Some(proxy) = self.proxy.get() {
                match self.reg.poll_request(now, &mut self.ids, &mut self.scratch) {
                    Ok(Some(n)) => {
                        moved = true;
                        match self.tx.send_request(
                            now,
                            proxy,
                            self.transport.reliable(),
                            &self.scratch[..n],
                        ) {
                            Ok(c) => self.remember(c, Owner::Register),
                            Err(e) => {
                                self.warn("REGISTER", e);
                                let _ = self.reg.handle_transaction_timeout(now, &mut self.ids);
                            }
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        self.warn("REGISTER", e);
                        break;
                    }
                }
            }
            while let Some(ev) = self.reg.poll_event() {
                moved = true;
                match ev {
                    RegistrationEvent::Registered { expires, .. } => {
                        self.registered = true;
                        self.push_report(Report::Registered { expires });
                    }
                    RegistrationEvent::Failed { reason, retry_at } => {
                        self.registered = false;
                        self.push_report(Report::RegistrationFailed {
                            reason,
                            retrying: retry_at.is_some(),
                        });
                    }
                    RegistrationEvent::Unregistered => {
                        self.registered = false;
                        self.push_report(Report::Unregistered);
                    }
                    _ => {}
                }
            }
            while let Some(e) = self.tx.poll_event() {
                moved = true;
                // RFC 3261 section 8.1.3.1: no answer is a 408, a transport error a 503.
                let (c, status) = match e {
                    Event::Timeout(Tx::Client(c)) => (c, 408),
                    Event::TransportError(Tx::Client(c)) => (c, 503),
                    _ => continue,
                };
                match self.forget(c) {
                    Some(Owner::Register) if status == 503 => {
                        let _ = self.reg.handle_transport_error(now, &mut self.ids);
                    }
                    Some(Owner::Register) => {
                        let _ = self.reg.handle_transaction_timeout(now, &mut self.ids);
                    }
                    Some(Owner::Session(cseq, m)) => {
                        self.session.handle_request_failed(now, cseq, m);
                    }
                    Some(Owner::Call(no, Purpose::Invite)) => {
                        if let Some(i) = self.find_no(no) {
                            self.calls[i].invite_tx = None;
                            if self.calls[i].live() {
                                self.invite_failed(i, status);
                            }
                        }
                    }
                    Some(Owner::Call(no, Purpose::Dtmf)) => {
                        if let Some(i) = self.find_no(no) {
                            self.calls[i].dtmf_in_flight = false;
                            self.calls[i].digits.clear();
                        }
                    }
                    Some(Owner::Call(..)) | None => {}
                }
            }
            if !moved {
                return;
            }
        }
    }
}
