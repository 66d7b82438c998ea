//! The gateway's configuration: `key=value` words, from a boot command line or a
//! flash block.
//!
//! | key | value | default |
//! |---|---|---|
//! | `server` | the SIP server (registrar and outbound proxy): `A.B.C.D[:PORT]` | required |
//! | `user` | the line's SIP user, digest user name and CSTA device number | required |
//! | `password` | the digest password | required |
//! | `domain` | the domain of the AOR and of called numbers | the server's address |
//! | `ip` | `dhcp`, or a static `A.B.C.D/LEN` | `dhcp` |
//! | `gateway` | the default route with a static `ip` | none |
//! | `port` | the local SIP port | 5060 |
//! | `transport` | `udp`, or `tcp` (one connection to the server) | `udp` |
//! | `expires` | the requested registration expiry, seconds | 3600 |
//! | `auto_answer` | `on` / `off` | `off` |
//! | `seed` | hex, mixed into the seed of tags, branches and cnonces | none |
//!
//! Words are separated by white space or NUL; unknown keys are refused, so a typo is
//! not silently ignored.

use core::fmt;
use core::net::{Ipv4Addr, SocketAddrV4};

pub use ucsta_phone::Transport;

/// How the gateway gets its address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Addressing {
    /// From a DHCP server.
    Dhcp,
    /// Fixed.
    Static {
        /// The address.
        address: Ipv4Addr,
        /// The prefix length (24 for 255.255.255.0).
        prefix: u8,
        /// The default route.
        gateway: Option<Ipv4Addr>,
    },
}

/// The gateway's settings, borrowing the text they were parsed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatewayConfig<'a> {
    /// The SIP server (registrar and outbound proxy).
    pub server: SocketAddrV4,
    /// The SIP user.
    pub user: &'a str,
    /// The digest password.
    pub password: &'a str,
    /// The domain; `None` means the server's address.
    pub domain: Option<&'a str>,
    /// The addressing.
    pub addressing: Addressing,
    /// The local SIP port (UDP; the TCP connection's local port is chosen by the
    /// stack).
    pub port: u16,
    /// UDP, or one TCP connection to the server.
    pub transport: Transport,
    /// The registration expiry.
    pub expires: u32,
    /// Whether incoming calls are answered at once.
    pub auto_answer: bool,
    /// Extra seed material.
    pub seed: Option<&'a str>,
}

/// What is wrong with a configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ConfigError<'a> {
    /// A word without `=`.
    NotKeyValue(&'a str),
    /// A key this gateway does not know.
    UnknownKey(&'a str),
    /// A value that does not parse for its key.
    BadValue(&'a str),
    /// A required key is missing.
    Missing(&'static str),
}

impl fmt::Display for ConfigError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::NotKeyValue(w) => write!(f, "`{w}` is not key=value"),
            ConfigError::UnknownKey(k) => write!(f, "unknown key `{k}`"),
            ConfigError::BadValue(k) => write!(f, "bad value for `{k}`"),
            ConfigError::Missing(k) => write!(f, "`{k}` is required"),
        }
    }
}

fn on_off(v: &str) -> Option<bool> {
    match v {
        "on" | "1" | "true" | "yes" => Some(true),
        "off" | "0" | "false" | "no" => Some(false),
        _ => None,
    }
}

impl<'a> GatewayConfig<'a> {
    /// Parses `key=value` words.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first word or key at fault.
    pub fn parse(text: &'a str) -> Result<GatewayConfig<'a>, ConfigError<'a>> {
        let mut server = None;
        let (mut user, mut password, mut domain, mut seed) = (None, None, None, None);
        let mut ip: Option<(Ipv4Addr, u8)> = None;
        let mut gateway = None;
        let (mut port, mut expires, mut auto_answer) = (5060u16, 3600u32, false);
        let mut transport = Transport::Udp;
        let words = text
            .split(|c: char| c.is_ascii_whitespace() || c == '\0')
            .filter(|w| !w.is_empty());
        for word in words {
            let (key, value) = word.split_once('=').ok_or(ConfigError::NotKeyValue(word))?;
            let bad = ConfigError::BadValue(key);
            match key {
                "server" => {
                    server = Some(match value.parse::<SocketAddrV4>() {
                        Ok(s) => s,
                        Err(_) => SocketAddrV4::new(value.parse().map_err(|_| bad)?, 5060),
                    });
                }
                "user" if !value.is_empty() => user = Some(value),
                "password" => password = Some(value),
                "domain" if !value.is_empty() => domain = Some(value),
                "ip" if value == "dhcp" => ip = None,
                "ip" => {
                    let (a, p) = value.split_once('/').ok_or(bad)?;
                    let p: u8 = p.parse().map_err(|_| bad)?;
                    if p > 32 {
                        return Err(bad);
                    }
                    ip = Some((a.parse().map_err(|_| bad)?, p));
                }
                "gateway" => gateway = Some(value.parse().map_err(|_| bad)?),
                "port" => port = value.parse().map_err(|_| bad)?,
                "expires" => expires = value.parse().map_err(|_| bad)?,
                "auto_answer" => auto_answer = on_off(value).ok_or(bad)?,
                "transport" => {
                    transport = match value {
                        "udp" => Transport::Udp,
                        "tcp" => Transport::Tcp,
                        _ => return Err(bad),
                    }
                }
                "seed" if value.bytes().all(|b| b.is_ascii_hexdigit()) => seed = Some(value),
                "user" | "domain" | "seed" => return Err(bad),
                _ => return Err(ConfigError::UnknownKey(key)),
            }
        }
        Ok(GatewayConfig {
            server: server.ok_or(ConfigError::Missing("server"))?,
            user: user.ok_or(ConfigError::Missing("user"))?,
            password: password.ok_or(ConfigError::Missing("password"))?,
            domain,
            addressing: match ip {
                None => Addressing::Dhcp,
                Some((address, prefix)) => Addressing::Static {
                    address,
                    prefix,
                    gateway,
                },
            },
            port,
            transport,
            expires,
            auto_answer,
            seed,
        })
    }

    /// `seed` folded into 32 octets (empty when none was given).
    pub fn seed_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        let Some(hex) = self.seed else { return out };
        let digits = hex.bytes().filter_map(|b| (b as char).to_digit(16));
        for (i, d) in digits.enumerate() {
            let at = (i / 2) % 32;
            let shift = if i % 2 == 0 { 4 } else { 0 };
            out[at] ^= (d as u8) << shift;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_boot_line() {
        let c = GatewayConfig::parse(
            "server=10.0.2.2:5070 user=201 password=s3cret ip=10.0.2.15/24 gateway=10.0.2.2 \
             auto_answer=on\0seed=00ff",
        )
        .unwrap();
        assert_eq!(c.server, "10.0.2.2:5070".parse().unwrap());
        assert_eq!((c.user, c.password, c.domain), ("201", "s3cret", None));
        assert_eq!(
            c.addressing,
            Addressing::Static {
                address: Ipv4Addr::new(10, 0, 2, 15),
                prefix: 24,
                gateway: Some(Ipv4Addr::new(10, 0, 2, 2))
            }
        );
        assert!(c.auto_answer);
        assert_eq!(c.seed_bytes()[..2], [0x00, 0xff]);
        assert_eq!(c.transport, Transport::Udp);
        let t = GatewayConfig::parse("server=10.0.2.2 user=1 password= transport=tcp").unwrap();
        assert_eq!(t.transport, Transport::Tcp);
        assert_eq!(
            GatewayConfig::parse("server=10.0.2.2 user=1 password= transport=sctp").unwrap_err(),
            ConfigError::BadValue("transport")
        );
        let d = GatewayConfig::parse("server=192.0.2.1 user=7 password=").unwrap();
        assert_eq!(d.server.port(), 5060);
        assert_eq!(d.addressing, Addressing::Dhcp);
        assert_eq!((d.port, d.expires), (5060, 3600));
    }

    #[test]
    fn refuses_what_it_does_not_understand() {
        let e = |t| GatewayConfig::parse(t).unwrap_err();
        assert_eq!(e("server"), ConfigError::NotKeyValue("server"));
        assert_eq!(e("colour=red"), ConfigError::UnknownKey("colour"));
        assert_eq!(e("server=nowhere"), ConfigError::BadValue("server"));
        assert_eq!(
            e("server=1.2.3.4 ip=1.2.3.4/33"),
            ConfigError::BadValue("ip")
        );
        assert_eq!(e("server=1.2.3.4 seed=xyz"), ConfigError::BadValue("seed"));
        assert_eq!(e("server=1.2.3.4 password=x"), ConfigError::Missing("user"));
        assert_eq!(e("user=1 password=x"), ConfigError::Missing("server"));
    }
}
