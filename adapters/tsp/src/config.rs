//! A provider instance's configuration.
//!
//! Each instance of the provider (one per `lineAddProvider`, so several may connect to
//! several servers side by side) has its own configuration: on Windows one registry key
//! per instance, elsewhere (the native tests and tapi-host) a file. Both are a list of
//! named values, read by [`ProviderConfig::from_values`]:
//!
//! | name | type | default | meaning |
//! |---|---|---|---|
//! | `role` | text | — | `client`, `remote` or `multi-line` |
//! | `server` | text | — | the server's host name or address |
//! | `port` | number | 7001 (7002 with TLS) | the server's CSTA port |
//! | `tls` | text | `off` | `off`; `on` (the server's certificate checked against `ca_file` or the system roots); `pinned` (the certificate's SHA-256 fingerprint must be `pin`) |
//! | `ca_file` | text | — | PEM file of the certificate authorities to trust (`tls = on`) |
//! | `pin` | text | — | hex SHA-256 of the server certificate (`tls = pinned`), colons allowed |
//! | `server_name` | text | `server` | the name checked in the certificate |
//! | `user` | text | — | the CSTA account (ECMA-354 `userName`) |
//! | `password` | text | — | its password (on Windows stored protected with DPAPI) |
//! | `devices` | text | — | `client`: the user's own device; `remote`: the devices, separated by `,`, `;` or new lines; `multi-line`: ignored (the server says) |
//! | `line_name` | text | `{number}` | the line name pattern: `{number}` (the device's number), `{device}` (its full ID), `{site}` |
//! | `site` | text | the server | a name for this server, used in line names |
//! | `country_code`, `area_code`, `international_prefix`, `national_prefix`, `outside_line`, `keep_e164`, `internal_max_len` | | | dialling rules ([`crate::dial::DialRules`]) |
//! | `request_timeout` | seconds | 15 | how long a CSTA request may wait for its answer |
//! | `session_duration` | seconds | 120 | the ECMA-354 session duration asked for; the keep-alive runs at half of what the server grants |
//! | `reconnect_min`, `reconnect_max` | seconds | 1, 60 | the reconnect back-off bounds (doubling, with ±25 % jitter) |
//! | `max_outstanding` | number | 32 | CSTA requests in flight at once; more wait in a queue |
//! | `device_refresh` | seconds | 0 | multi-line: also re-read the device list this often (0: only when the server says it changed) |
//! | `max_calls` | number | 8 | calls per line |
//! | `redact` | 0/1 | 1 | phone numbers in the log are shortened to their last two digits |
//! | `log_level` | text | `info` | `error`, `warn`, `info`, `debug`, `trace` |
//!
//! Names are matched without regard to case. An unknown name, a missing required
//! value or a value of the wrong form is a [`ConfigError`] naming the value: the
//! provider then logs it and reports its lines out of service, it never fails the
//! Telephony service.

use std::fmt;
use std::time::Duration;

use crate::dial::DialRules;

/// What the provider instance is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// One line, the user's own phone, with the user's own account (first-party
    /// dialling from Outlook, the Windows dialer, click-to-dial programs).
    Client,
    /// A configured list of devices, fully monitored and controlled (CRM, call
    /// centre tools).
    Remote,
    /// Every device the server account may see, discovered from the server; lines
    /// come and go as the server's list changes.
    MultiLine,
}

impl Role {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Remote => "remote",
            Role::MultiLine => "multi-line",
        }
    }
}

/// How the link to the server is protected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tls {
    /// Plain TCP.
    Off,
    /// TLS; the server's certificate is checked against these roots (PEM file), or the
    /// platform's when `None`.
    Verify {
        /// A PEM file of trusted certificate authorities.
        ca_file: Option<String>,
    },
    /// TLS; the server's certificate must have this SHA-256 fingerprint.
    Pinned {
        /// The fingerprint.
        sha256: [u8; 32],
    },
}

/// A configuration value as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A string (`REG_SZ`, or a line of the configuration file).
    Text(String),
    /// A number (`REG_DWORD`).
    Number(u32),
}

impl Value {
    fn text(&self) -> String {
        match self {
            Value::Text(s) => s.trim().to_owned(),
            Value::Number(n) => n.to_string(),
        }
    }
}

/// Why a configuration was refused; names the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The value's name.
    pub name: String,
    /// What is wrong with it.
    pub problem: ConfigProblem,
}

/// What is wrong with a configuration value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigProblem {
    /// A required value is missing.
    Missing,
    /// No such setting.
    Unknown,
    /// The value does not have the form the setting needs.
    Invalid,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.problem {
            ConfigProblem::Missing => "is missing",
            ConfigProblem::Unknown => "is not a setting",
            ConfigProblem::Invalid => "has a value of the wrong form",
        };
        write!(f, "configuration value `{}` {what}", self.name)
    }
}

impl std::error::Error for ConfigError {}

/// One provider instance's settings (the table in the [module docs](self)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderConfig {
    /// The role.
    pub role: Role,
    /// The server's host.
    pub server: String,
    /// The server's CSTA port.
    pub port: u16,
    /// TLS.
    pub tls: Tls,
    /// The name checked in the server's certificate.
    pub server_name: String,
    /// The CSTA account.
    pub user: String,
    /// Its password.
    pub password: String,
    /// The configured devices (client: one; remote: the list; multi-line: none).
    pub devices: Vec<String>,
    /// The line name pattern.
    pub line_name: String,
    /// The site name used in line names.
    pub site: String,
    /// Dialling rules.
    pub dial: DialRules,
    /// How long a CSTA request may wait.
    pub request_timeout: Duration,
    /// The session duration asked for, in seconds.
    pub session_duration: u32,
    /// The shortest reconnect delay.
    pub reconnect_min: Duration,
    /// The longest reconnect delay.
    pub reconnect_max: Duration,
    /// CSTA requests in flight at once.
    pub max_outstanding: usize,
    /// Multi-line: how often the device list is re-read (`None`: on change only).
    pub device_refresh: Option<Duration>,
    /// Calls per line.
    pub max_calls: usize,
    /// Whether phone numbers are shortened in logs.
    pub redact: bool,
    /// The log level name.
    pub log_level: log::LevelFilter,
}

impl ProviderConfig {
    /// A configuration with the defaults for everything but what has none.
    pub fn new(role: Role, server: &str, user: &str, password: &str) -> ProviderConfig {
        ProviderConfig {
            role,
            server: server.to_owned(),
            port: 7001,
            tls: Tls::Off,
            server_name: server.to_owned(),
            user: user.to_owned(),
            password: password.to_owned(),
            devices: Vec::new(),
            line_name: "{number}".to_owned(),
            site: server.to_owned(),
            dial: DialRules::default(),
            request_timeout: Duration::from_secs(15),
            session_duration: 120,
            reconnect_min: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(60),
            max_outstanding: 32,
            device_refresh: None,
            max_calls: 8,
            redact: true,
            log_level: log::LevelFilter::Info,
        }
    }

    /// Reads a configuration from named values (registry values or file lines).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for the first value that is missing, unknown or malformed, or
    /// for a role whose devices do not fit (a client needs exactly one device, remote
    /// at least one).
    pub fn from_values<'a>(
        values: impl IntoIterator<Item = (&'a str, Value)>,
    ) -> Result<ProviderConfig, ConfigError> {
        let mut role = None;
        let mut server = None;
        let mut user = None;
        let mut password = None;
        let mut port = None;
        let mut tls = "off".to_owned();
        let mut ca_file = None;
        let mut pin = None;
        let mut server_name = None;
        let mut site = None;
        let mut config = ProviderConfig::new(Role::Client, "", "", "");
        for (name, value) in values {
            let key = name.to_ascii_lowercase();
            let invalid = || ConfigError {
                name: name.to_owned(),
                problem: ConfigProblem::Invalid,
            };
            let text = value.text();
            let number = || -> Result<u64, ConfigError> {
                match &value {
                    Value::Number(n) => Ok(u64::from(*n)),
                    Value::Text(t) => t.trim().parse().map_err(|_| invalid()),
                }
            };
            let flag = || -> Result<bool, ConfigError> {
                match text.to_ascii_lowercase().as_str() {
                    "1" | "true" | "yes" | "on" => Ok(true),
                    "0" | "false" | "no" | "off" => Ok(false),
                    _ => Err(invalid()),
                }
            };
            let seconds = || number().map(Duration::from_secs);
            match key.as_str() {
                "role" => {
                    role = Some(match text.to_ascii_lowercase().as_str() {
                        "client" => Role::Client,
                        "remote" => Role::Remote,
                        "multi-line" | "multiline" | "multi_line" => Role::MultiLine,
                        _ => return Err(invalid()),
                    })
                }
                "server" if !text.is_empty() => server = Some(text),
                "server" => return Err(invalid()),
                "port" => port = Some(u16::try_from(number()?).map_err(|_| invalid())?),
                "tls" => tls = text.to_ascii_lowercase(),
                "ca_file" => ca_file = Some(text).filter(|t| !t.is_empty()),
                "pin" => pin = Some(parse_pin(&text).ok_or_else(invalid)?),
                "server_name" => server_name = Some(text).filter(|t| !t.is_empty()),
                "user" if !text.is_empty() => user = Some(text),
                "user" => return Err(invalid()),
                "password" => password = Some(text),
                "devices" => {
                    config.devices = text
                        .split([',', ';', '\n', '\r'])
                        .map(str::trim)
                        .filter(|d| !d.is_empty())
                        .map(str::to_owned)
                        .collect()
                }
                "line_name" if !text.is_empty() => config.line_name = text,
                "line_name" => return Err(invalid()),
                "site" => site = Some(text),
                "country_code" => config.dial.country_code = digits(&text).ok_or_else(invalid)?,
                "area_code" => config.dial.area_code = digits(&text).ok_or_else(invalid)?,
                "international_prefix" => {
                    config.dial.international_prefix =
                        digits(&text).ok_or_else(invalid)?.unwrap_or_default()
                }
                "national_prefix" => {
                    config.dial.national_prefix =
                        digits(&text).ok_or_else(invalid)?.unwrap_or_default()
                }
                "outside_line" => config.dial.outside_line = digits(&text).ok_or_else(invalid)?,
                "keep_e164" => config.dial.keep_e164 = flag()?,
                "internal_max_len" => {
                    config.dial.internal_max_len =
                        usize::try_from(number()?).map_err(|_| invalid())?
                }
                "request_timeout" => {
                    config.request_timeout = seconds()?;
                    if config.request_timeout.is_zero() {
                        return Err(invalid());
                    }
                }
                "session_duration" => {
                    config.session_duration = u32::try_from(number()?)
                        .ok()
                        .filter(|d| *d >= 10)
                        .ok_or_else(invalid)?
                }
                "reconnect_min" => config.reconnect_min = seconds()?,
                "reconnect_max" => config.reconnect_max = seconds()?,
                "max_outstanding" => {
                    config.max_outstanding = usize::try_from(number()?)
                        .ok()
                        .filter(|n| (1..=9998).contains(n))
                        .ok_or_else(invalid)?
                }
                "device_refresh" => {
                    config.device_refresh = Some(seconds()?).filter(|d| !d.is_zero())
                }
                "max_calls" => {
                    config.max_calls = usize::try_from(number()?)
                        .ok()
                        .filter(|n| (1..=64).contains(n))
                        .ok_or_else(invalid)?
                }
                "redact" => config.redact = flag()?,
                "log_level" => {
                    config.log_level = text.parse().map_err(|_| invalid())?;
                }
                _ => {
                    return Err(ConfigError {
                        name: name.to_owned(),
                        problem: ConfigProblem::Unknown,
                    });
                }
            }
        }
        let missing = |name: &str| ConfigError {
            name: name.to_owned(),
            problem: ConfigProblem::Missing,
        };
        config.role = role.ok_or_else(|| missing("role"))?;
        config.server = server.ok_or_else(|| missing("server"))?;
        config.user = user.ok_or_else(|| missing("user"))?;
        config.password = password.ok_or_else(|| missing("password"))?;
        config.tls = match tls.as_str() {
            "off" | "0" | "no" => Tls::Off,
            "on" | "1" | "yes" | "verify" => Tls::Verify { ca_file },
            "pinned" | "pin" => Tls::Pinned {
                sha256: pin.ok_or_else(|| missing("pin"))?,
            },
            _ => {
                return Err(ConfigError {
                    name: "tls".to_owned(),
                    problem: ConfigProblem::Invalid,
                });
            }
        };
        config.port = port.unwrap_or(if config.tls == Tls::Off { 7001 } else { 7002 });
        config.server_name = server_name.unwrap_or_else(|| config.server.clone());
        config.site = site.unwrap_or_else(|| config.server.clone());
        if config.reconnect_max < config.reconnect_min || config.reconnect_min.is_zero() {
            return Err(ConfigError {
                name: "reconnect_min".to_owned(),
                problem: ConfigProblem::Invalid,
            });
        }
        match (config.role, config.devices.len()) {
            (Role::Client, 1) | (Role::Remote, 1..) | (Role::MultiLine, _) => {}
            (Role::Client | Role::Remote, 0) => return Err(missing("devices")),
            (Role::Client, _) => {
                return Err(ConfigError {
                    name: "devices".to_owned(),
                    problem: ConfigProblem::Invalid,
                });
            }
        }
        Ok(config)
    }

    /// Reads the configuration file form: one `name = value` per line, `#` starts a
    /// comment, blank lines are skipped.
    ///
    /// # Errors
    ///
    /// As [`from_values`](Self::from_values); a line without `=` is
    /// [`ConfigProblem::Invalid`] named after the line's text.
    pub fn from_text(text: &str) -> Result<ProviderConfig, ConfigError> {
        let mut values = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((name, value)) = line.split_once('=') else {
                return Err(ConfigError {
                    name: line.to_owned(),
                    problem: ConfigProblem::Invalid,
                });
            };
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            values.push((name.trim(), Value::Text(value.replace("\\n", "\n"))));
        }
        ProviderConfig::from_values(values.iter().map(|(n, v)| (*n, v.clone())))
    }
}

/// `Some(None)` for an empty value, `Some(Some(digits))` for digits, `None` otherwise.
fn digits(text: &str) -> Option<Option<String>> {
    if text.is_empty() {
        Some(None)
    } else if text.bytes().all(|b| b.is_ascii_digit()) {
        Some(Some(text.to_owned()))
    } else {
        None
    }
}

/// A SHA-256 fingerprint in hex, with or without colons or spaces.
pub fn parse_pin(text: &str) -> Option<[u8; 32]> {
    let hex: Vec<u8> = text
        .bytes()
        .filter(|b| !matches!(b, b':' | b' ' | b'-'))
        .collect();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in hex.chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(pairs: &[(&str, &str)]) -> Result<ProviderConfig, ConfigError> {
        ProviderConfig::from_values(pairs.iter().map(|(n, v)| (*n, Value::Text((*v).into()))))
    }

    const BASE: [(&str, &str); 4] = [
        ("role", "remote"),
        ("server", "pbx.example"),
        ("user", "crm"),
        ("password", "s3cret"),
    ];

    #[test]
    fn test_defaults() {
        let c = text(&[
            BASE[0],
            BASE[1],
            BASE[2],
            BASE[3],
            ("devices", "201, 202;203"),
        ])
        .unwrap();
        assert_eq!(c.role, Role::Remote);
        assert_eq!(c.port, 7001);
        assert_eq!(c.tls, Tls::Off);
        assert_eq!(c.devices, ["201", "202", "203"]);
        assert_eq!(c.server_name, "pbx.example");
        assert_eq!(c.request_timeout, Duration::from_secs(15));
        assert!(c.redact);
    }

    #[test]
    fn test_tls_and_pin() {
        let pin = "AB:".repeat(31) + "AB";
        let c = text(&[
            BASE[0],
            BASE[1],
            BASE[2],
            BASE[3],
            ("devices", "201"),
            ("tls", "pinned"),
            ("pin", &pin),
        ])
        .unwrap();
        assert_eq!(c.tls, Tls::Pinned { sha256: [0xAB; 32] });
        assert_eq!(c.port, 7002);
        let e = text(&[
            BASE[0],
            BASE[1],
            BASE[2],
            BASE[3],
            ("devices", "201"),
            ("tls", "pinned"),
        ])
        .unwrap_err();
        assert_eq!(
            (e.name.as_str(), e.problem),
            ("pin", ConfigProblem::Missing)
        );
        assert_eq!(parse_pin("zz"), None);
    }

    #[test]
    fn test_errors_name_the_value() {
        let e = text(&BASE[1..]).unwrap_err();
        assert_eq!(
            (e.name.as_str(), e.problem),
            ("role", ConfigProblem::Missing)
        );
        let e = text(&[BASE[0], BASE[1], BASE[2], BASE[3]]).unwrap_err();
        assert_eq!(
            (e.name.as_str(), e.problem),
            ("devices", ConfigProblem::Missing)
        );
        let e = text(&[BASE[0], BASE[1], BASE[2], BASE[3], ("Colour", "red")]).unwrap_err();
        assert_eq!(
            (e.name.as_str(), e.problem),
            ("Colour", ConfigProblem::Unknown)
        );
        let e = text(&[BASE[0], BASE[1], BASE[2], BASE[3], ("port", "70000")]).unwrap_err();
        assert_eq!(
            (e.name.as_str(), e.problem),
            ("port", ConfigProblem::Invalid)
        );
        let e = text(&[
            ("role", "client"),
            BASE[1],
            BASE[2],
            BASE[3],
            ("devices", "1,2"),
        ])
        .unwrap_err();
        assert_eq!(
            (e.name.as_str(), e.problem),
            ("devices", ConfigProblem::Invalid)
        );
        assert!(e.to_string().contains("`devices`"));
    }

    #[test]
    fn test_file_form() {
        let c = ProviderConfig::from_text(
            "# a comment\nrole = multi-line\nserver = 127.0.0.1\nport = 7100\nuser = \"all\"\npassword = x\nREDACT = 0\nmax_outstanding = 8\n",
        )
        .unwrap();
        assert_eq!(c.role, Role::MultiLine);
        assert_eq!(c.port, 7100);
        assert_eq!(c.user, "all");
        assert!(!c.redact);
        assert_eq!(c.max_outstanding, 8);
        let e = ProviderConfig::from_text("role remote").unwrap_err();
        assert_eq!(e.problem, ConfigProblem::Invalid);
    }

    #[test]
    fn test_numbers_from_the_registry() {
        let c = ProviderConfig::from_values([
            ("role", Value::Text("client".into())),
            ("server", Value::Text("h".into())),
            ("user", Value::Text("201".into())),
            ("password", Value::Text("p".into())),
            ("devices", Value::Text("201".into())),
            ("port", Value::Number(7443)),
            ("redact", Value::Number(0)),
        ])
        .unwrap();
        assert_eq!(c.port, 7443);
        assert!(!c.redact);
    }
}
