//! The Via header (RFC 3261 section 20.42, RFC 3581 `rport`).

use super::lex::{self, Scanner};
use super::sink::{Emit, Sink, display_via_emit};
use super::uri::{Host, Params, emit_hostport, parse_port, scan_header_params_with};
use crate::error::{EmitError, ValueError};

/// A Via transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Transport<'a> {
    /// `UDP`.
    Udp,
    /// `TCP`.
    Tcp,
    /// `TLS`.
    Tls,
    /// `SCTP`.
    Sctp,
    /// `TLS-SCTP`.
    TlsSctp,
    /// `WS` (RFC 7118).
    Ws,
    /// `WSS` (RFC 7118).
    Wss,
    /// Any other token, as written.
    Other(&'a str),
}

impl<'a> Transport<'a> {
    /// Classifies a transport token, case-insensitively.
    pub fn parse(s: &'a str) -> Transport<'a> {
        const KNOWN: [(&str, Transport<'static>); 7] = [
            ("UDP", Transport::Udp),
            ("TCP", Transport::Tcp),
            ("TLS", Transport::Tls),
            ("SCTP", Transport::Sctp),
            ("TLS-SCTP", Transport::TlsSctp),
            ("WS", Transport::Ws),
            ("WSS", Transport::Wss),
        ];
        KNOWN
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s))
            .map_or(Transport::Other(s), |&(_, t)| t)
    }

    /// The canonical spelling.
    pub fn as_str(&self) -> &'a str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Sctp => "SCTP",
            Transport::TlsSctp => "TLS-SCTP",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
            Transport::Other(s) => s,
        }
    }

    /// Whether the transport is connection-oriented and reliable (no retransmissions).
    pub fn is_reliable(&self) -> bool {
        !matches!(self, Transport::Udp)
    }

    /// The default port: 5061 for TLS transports, 5060 otherwise.
    pub fn default_port(&self) -> u16 {
        match self {
            Transport::Tls | Transport::TlsSctp | Transport::Wss => 5061,
            _ => 5060,
        }
    }
}

/// One Via value: `sent-protocol LWS sent-by *( SEMI via-params )`.
///
/// The well-known parameters are checked when the value is parsed, so their accessors
/// cannot fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Via<'a> {
    /// Protocol name, `SIP` in practice.
    pub protocol: &'a str,
    /// Protocol version, `2.0` in practice.
    pub version: &'a str,
    /// Transport.
    pub transport: Transport<'a>,
    /// Host of `sent-by`.
    pub host: Host<'a>,
    /// Port of `sent-by`, if written.
    pub port: Option<u16>,
    /// All parameters (`branch`, `received`, `rport`, `maddr`, `ttl`, others).
    pub params: Params<'a>,
}

impl<'a> Via<'a> {
    /// Parses one Via value.
    ///
    /// `received` may carry an IPv4 address or an IPv6 address with or without
    /// brackets (RFC 5118 section 4.5); `rport` is empty or a port; `ttl` is 0 to 255;
    /// `maddr` is a host; `branch` is a token.
    ///
    /// # Errors
    /// The problem found.
    pub fn parse(s: &'a str) -> Result<Via<'a>, ValueError> {
        let mut sc = Scanner::new(s);
        sc.skip_ws();
        let protocol = sc.token()?;
        if !sc.sep(b'/') {
            return Err(ValueError::Unexpected);
        }
        let version = sc.token()?;
        if !sc.sep(b'/') {
            return Err(ValueError::Unexpected);
        }
        let transport = Transport::parse(sc.token()?);
        sc.skip_ws();
        // sent-by = host [ COLON port ]
        let (host, end) = Host::scan(s, sc.pos())?;
        sc.set_pos(end);
        let port = if sc.sep(b':') {
            Some(parse_port(sc.take(lex::ALNUM))?)
        } else {
            None
        };
        let ps = sc.pos();
        let pe = scan_header_params_with(&mut sc, check_param)?;
        sc.finish()?;
        Ok(Via {
            protocol,
            version,
            transport,
            host,
            port,
            params: Params::from_checked(sc.slice(ps, pe)),
        })
    }

    /// The `branch` parameter.
    pub fn branch(&self) -> Option<&'a str> {
        self.params.value("branch")
    }

    /// Whether the branch carries the RFC 3261 magic cookie `z9hG4bK`.
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with("z9hG4bK"))
    }

    /// The `received` parameter.
    pub fn received(&self) -> Option<Host<'a>> {
        Host::parse_param(self.params.value("received")?).ok()
    }

    /// The `rport` parameter: `None` if absent, `Some(None)` if present without a value
    /// (a request asking for it), `Some(Some(port))` if filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        let p = self.params.get("rport")?;
        Some(p.value.and_then(|v| parse_port(v).ok()))
    }

    /// The `maddr` parameter.
    pub fn maddr(&self) -> Option<Host<'a>> {
        Host::parse_param(self.params.value("maddr")?).ok()
    }

    /// The `ttl` parameter.
    pub fn ttl(&self) -> Option<u8> {
        lex::parse_u32(self.params.value("ttl")?, 255)
            .ok()
            .map(|v| v as u8)
    }

    /// The port of `sent-by`, or the transport's default.
    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or_else(|| self.transport.default_port())
    }
}

impl Emit for Via<'_> {
    fn emit<S: Sink + ?Sized>(&self, out: &mut S) -> Result<(), EmitError> {
        out.put(self.protocol.as_bytes())?;
        out.put(b"/")?;
        out.put(self.version.as_bytes())?;
        out.put(b"/")?;
        out.put(self.transport.as_str().as_bytes())?;
        out.put(b" ")?;
        emit_hostport(out, &self.host, self.port)?;
        self.params.emit(out)
    }
}

/// Checks the value of a well-known Via parameter as the parameters are scanned.
fn check_param(name: &str, value: Option<&str>) -> Result<(), ValueError> {
    let is = |n: &str| name.len() == n.len() && name.eq_ignore_ascii_case(n);
    let ok = if is("branch") {
        value.is_some_and(lex::is_token)
    } else if is("received") {
        value.is_some_and(|v| Host::parse_param(v).is_ok_and(|h| h.is_ip()))
    } else if is("rport") {
        value.is_none_or(|v| parse_port(v).is_ok())
    } else if is("maddr") {
        value.is_some_and(|v| Host::parse_param(v).is_ok())
    } else if is("ttl") {
        value.is_some_and(|v| v.len() <= 3 && lex::parse_u32(v, 255).is_ok())
    } else {
        true
    };
    if ok { Ok(()) } else { Err(ValueError::Param) }
}

display_via_emit!(Via);

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    #[test]
    fn test_via_fields() {
        let v = Via::parse(
            "SIP/2.0/UDP pc33.atlanta.com:5066;branch=z9hG4bK776asdhds;rport=5060;received=192.0.2.1;ttl=16;maddr=224.2.0.1",
        )
        .unwrap();
        assert_eq!(v.transport, Transport::Udp);
        assert_eq!(v.host, Host::Domain("pc33.atlanta.com"));
        assert_eq!(v.port, Some(5066));
        assert_eq!(v.branch(), Some("z9hG4bK776asdhds"));
        assert!(v.has_rfc3261_branch());
        assert_eq!(v.rport(), Some(Some(5060)));
        assert_eq!(v.received(), Some(Host::Ipv4(Ipv4Addr::new(192, 0, 2, 1))));
        assert_eq!(v.ttl(), Some(16));
        assert_eq!(v.maddr(), Some(Host::Ipv4(Ipv4Addr::new(224, 2, 0, 1))));
    }

    #[test]
    fn test_via_white_space_and_case() {
        // RFC 4475 3.1.1.1: LWS around the slashes, folded lines.
        let v =
            Via::parse("SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;rport;branch=390skdjuw").unwrap();
        assert_eq!(v.version, "2.0");
        assert_eq!(v.transport, Transport::Udp);
        assert_eq!(v.rport(), Some(None));
        assert!(!v.has_rfc3261_branch());
        let v = Via::parse("SIP/2.0/tls-sctp host ; branch = z9hG4bK1").unwrap();
        assert_eq!(v.transport, Transport::TlsSctp);
        assert_eq!(v.branch(), Some("z9hG4bK1"));
        let v = Via::parse("SIP/2.0/UNKNOWN [2001:db8::9:1]:6050").unwrap();
        assert_eq!(v.transport, Transport::Other("UNKNOWN"));
        assert_eq!(v.port, Some(6050));
    }

    #[test]
    fn test_via_received_ipv6_forms() {
        let a = Via::parse(
            "SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3-111",
        )
        .unwrap();
        let b =
            Via::parse("SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3")
                .unwrap();
        assert_eq!(a.received(), b.received());
        assert!(a.received().unwrap().is_ip());
    }

    #[test]
    fn test_via_errors() {
        for bad in [
            "",
            "SIP/2.0 host",
            "SIP/2.0/UDP",
            "SIP/2.0/UDP host:",
            "SIP/2.0/UDP host:99999",
            "SIP/2.0/UDP 192.0.2.15;;,;,,",
            "SIP/2.0/UDP host;received=example.com",
            "SIP/2.0/UDP host;ttl=256",
            "SIP/2.0/UDP host;rport=x",
            "SIP/2.0/UDP host;branch",
            "SIP/2.0/UDP host extra",
        ] {
            assert!(Via::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn test_via_emit() {
        let v = Via::parse("SIP / 2.0 / udp h:1 ;branch=z9hG4bKx ;rport").unwrap();
        let mut s: heapless::String<64> = heapless::String::new();
        core::fmt::write(&mut s, format_args!("{v}")).unwrap();
        assert_eq!(s, "SIP/2.0/UDP h:1;branch=z9hG4bKx;rport");
        assert_eq!(
            Via::parse(&s).unwrap(),
            Via {
                transport: Transport::Udp,
                ..v
            }
        );
    }
}
