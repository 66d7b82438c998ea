//! Installing, configuring and removing provider instances.
//!
//! Used by the DLL's `TUISPI_providerInstall`/`Config`/`Remove` and by the
//! `ucsta-tsp-setup` program.
//!
//! - `ucsta-tsp-setup install ...` writes the configuration to the pending key and
//!   calls `lineAddProvider`; TAPI then calls `TUISPI_providerInstall` with the new
//!   instance's `dwPermanentProviderID`, which moves the pending configuration to the
//!   instance's key.
//! - `TUISPI_providerConfig` (Control Panel > Phone and Modem > Advanced > Configure)
//!   opens the instance's settings in Notepad, one `name = value` per line, and stores
//!   them back when Notepad closes; a value that does not validate is
//!   reported and nothing changes. The password shows as `(unchanged)`.
//! - `TUISPI_providerRemove` deletes the instance's key.

use crate::config::{ProviderConfig, Value};
use crate::provider::LineError;

/// What the password line shows instead of the password.
pub const PASSWORD_UNCHANGED: &str = "(unchanged)";

/// Validates a set of configuration values as the provider would read them.
///
/// # Errors
///
/// The configuration error, naming the value.
pub fn validate(values: &[(String, Value)]) -> Result<ProviderConfig, crate::config::ConfigError> {
    ProviderConfig::from_values(values.iter().map(|(n, v)| (n.as_str(), v.clone())))
}

/// The values of a configuration file's text (`name = value` lines).
pub fn parse_lines(text: &str) -> Result<Vec<(String, Value)>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = line
            .split_once('=')
            .ok_or_else(|| format!("line {}: `name = value` expected", n + 1))?;
        out.push((name.trim().to_owned(), Value::Text(value.trim().to_owned())));
    }
    Ok(out)
}

#[cfg(windows)]
mod imp {
    use super::*;
    use crate::registry::{self, PENDING_KEY, provider_key};
    use crate::store::Store;

    pub(crate) fn install(provider_id: u32) -> Result<(), LineError> {
        match registry::move_key(PENDING_KEY, &provider_key(provider_id)) {
            Ok(true) => {
                log::info!("provider {provider_id}: installed with the prepared configuration")
            }
            Ok(false) => log::warn!(
                "provider {provider_id}: installed without a configuration; run `ucsta-tsp-setup config --provider-id {provider_id} ...`"
            ),
            Err(e) => {
                log::error!("provider {provider_id}: cannot store its configuration: {e}");
                return Err(LineError::IniFileCorrupt);
            }
        }
        Ok(())
    }

    pub(crate) fn remove(provider_id: u32) -> Result<(), LineError> {
        registry::delete_key(&provider_key(provider_id)).map_err(|e| {
            log::error!("provider {provider_id}: cannot remove its configuration: {e}");
            LineError::OperationFailed
        })
    }

    pub(crate) fn configure(provider_id: u32) -> Result<(), LineError> {
        let store = registry::RegistryStore;
        let current = store.load(provider_id).ok();
        let mut text = String::from(
            "# uCSTA TSP: one setting per line, `name = value`. Save and close Notepad to apply.\n",
        );
        if let Some(c) = &current {
            for (name, value) in super::describe(c) {
                text.push_str(&format!("{name} = {value}\n"));
            }
        } else {
            text.push_str("role = remote\nserver = \nuser = \npassword = \ndevices = \n");
        }
        let dir = std::env::var_os("ProgramData").unwrap_or_else(|| r"C:\ProgramData".into());
        let path = std::path::PathBuf::from(dir)
            .join("uCSTA")
            .join("TSP")
            .join(format!("provider-{provider_id}.conf"));
        let _ = std::fs::create_dir_all(path.parent().unwrap_or(&path));
        std::fs::write(&path, &text).map_err(|_| LineError::OperationFailed)?;
        let status = std::process::Command::new("notepad.exe")
            .arg(&path)
            .status();
        let edited = std::fs::read_to_string(&path);
        let _ = std::fs::remove_file(&path);
        status.map_err(|_| LineError::OperationFailed)?;
        let edited = edited.map_err(|_| LineError::OperationFailed)?;
        let mut values = parse_lines(&edited).map_err(|e| {
            log::error!("provider {provider_id}: configuration not changed: {e}");
            LineError::InvalParam
        })?;
        if let Some(c) = &current {
            for (name, value) in &mut values {
                if name.eq_ignore_ascii_case("password")
                    && *value == Value::Text(PASSWORD_UNCHANGED.into())
                {
                    *value = Value::Text(c.password.clone());
                }
            }
        }
        if let Err(e) = validate(&values) {
            log::error!("provider {provider_id}: configuration not changed: {e}");
            return Err(LineError::InvalParam);
        }
        let key = provider_key(provider_id);
        let _ = registry::delete_key(&key);
        registry::write_values(&key, &values).map_err(|e| {
            log::error!("provider {provider_id}: cannot store its configuration: {e}");
            LineError::OperationFailed
        })
    }

    pub(crate) fn module_path() -> Option<String> {
        use windows_sys::Win32::System::LibraryLoader::{
            GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS, GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
            GetModuleFileNameW, GetModuleHandleExW,
        };
        let mut module = std::ptr::null_mut();
        let address = module_path as *const u16;
        #[allow(unsafe_code)]
        // SAFETY: the address is a function of this module; the handle is not counted.
        let ok = unsafe {
            GetModuleHandleExW(
                GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS
                    | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                address,
                &mut module,
            )
        };
        if ok == 0 {
            return None;
        }
        let mut buf = vec![0u16; 520];
        #[allow(unsafe_code)]
        // SAFETY: the buffer holds `buf.len()` characters.
        let n = unsafe { GetModuleFileNameW(module, buf.as_mut_ptr(), buf.len() as u32) } as usize;
        (n > 0 && n < buf.len()).then(|| String::from_utf16_lossy(&buf[..n]))
    }
}

#[cfg(not(windows))]
mod imp {
    use super::*;

    pub(crate) fn install(_provider_id: u32) -> Result<(), LineError> {
        Ok(())
    }

    pub(crate) fn remove(_provider_id: u32) -> Result<(), LineError> {
        Ok(())
    }

    pub(crate) fn configure(_provider_id: u32) -> Result<(), LineError> {
        Err(LineError::OperationUnavail)
    }

    pub(crate) fn module_path() -> Option<String> {
        None
    }
}

pub(crate) use imp::{configure, install, module_path, remove};

/// The settings of a configuration as `name = value` pairs (the password replaced by
/// [`PASSWORD_UNCHANGED`]).
pub fn describe(c: &ProviderConfig) -> Vec<(&'static str, String)> {
    use crate::config::Tls;
    let mut out = vec![
        ("role", c.role.as_str().to_owned()),
        ("server", c.server.clone()),
        ("port", c.port.to_string()),
    ];
    match &c.tls {
        Tls::Off => out.push(("tls", "off".into())),
        Tls::Verify { ca_file } => {
            out.push(("tls", "on".into()));
            if let Some(f) = ca_file {
                out.push(("ca_file", f.clone()));
            }
        }
        Tls::Pinned { sha256 } => {
            out.push(("tls", "pinned".into()));
            let hex: Vec<String> = sha256.iter().map(|b| format!("{b:02X}")).collect();
            out.push(("pin", hex.join(":")));
        }
    }
    out.push(("server_name", c.server_name.clone()));
    out.push(("user", c.user.clone()));
    out.push(("password", PASSWORD_UNCHANGED.into()));
    if !c.devices.is_empty() {
        out.push(("devices", c.devices.join(", ")));
    }
    out.push(("line_name", c.line_name.clone()));
    out.push(("site", c.site.clone()));
    out.push(("request_timeout", c.request_timeout.as_secs().to_string()));
    out.push(("session_duration", c.session_duration.to_string()));
    out.push(("reconnect_min", c.reconnect_min.as_secs().to_string()));
    out.push(("reconnect_max", c.reconnect_max.as_secs().to_string()));
    out.push(("max_outstanding", c.max_outstanding.to_string()));
    out.push((
        "device_refresh",
        c.device_refresh.map_or(0, |d| d.as_secs()).to_string(),
    ));
    out.push(("max_calls", c.max_calls.to_string()));
    out.push(("redact", u8::from(c.redact).to_string()));
    out.push(("log_level", c.log_level.to_string().to_ascii_lowercase()));
    if let Some(cc) = &c.dial.country_code {
        out.push(("country_code", cc.clone()));
    }
    if let Some(a) = &c.dial.area_code {
        out.push(("area_code", a.clone()));
    }
    out.push(("international_prefix", c.dial.international_prefix.clone()));
    out.push(("national_prefix", c.dial.national_prefix.clone()));
    if let Some(o) = &c.dial.outside_line {
        out.push(("outside_line", o.clone()));
    }
    out.push(("keep_e164", u8::from(c.dial.keep_e164).to_string()));
    out.push(("internal_max_len", c.dial.internal_max_len.to_string()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_describe_reads_back() {
        let mut c = ProviderConfig::new(crate::config::Role::Remote, "pbx", "crm", "pw");
        c.devices = vec!["201".into(), "202".into()];
        c.tls = crate::config::Tls::Pinned { sha256: [7; 32] };
        let mut values: Vec<(String, Value)> = describe(&c)
            .into_iter()
            .map(|(n, v)| (n.to_owned(), Value::Text(v)))
            .collect();
        for (n, v) in &mut values {
            if n == "password" {
                *v = Value::Text("pw".into());
            }
        }
        assert_eq!(validate(&values).unwrap(), c);
        assert!(parse_lines("role remote").is_err());
    }
}
