//! `ucsta-tsp-setup`: installs, configures and removes uCSTA TSP provider instances.
//!
//! ```text
//! ucsta-tsp-setup install [--file ucsta.tsp] SETTINGS...   prepare the settings, lineAddProvider
//! ucsta-tsp-setup config --provider-id N SETTINGS...       change an instance's settings
//! ucsta-tsp-setup show --provider-id N                     print an instance's settings
//! ucsta-tsp-setup remove --provider-id N                   lineRemoveProvider, delete the settings
//! ```
//!
//! SETTINGS are `name=value` words (the names of the configuration table in the
//! crate docs: `role=remote server=pbx.example user=crm password=secret
//! devices=201,202`). On Windows they go to the registry (the password protected with
//! DPAPI); elsewhere, and when `UCSTA_TSP_CONFIG_DIR` is set, to
//! `$UCSTA_TSP_CONFIG_DIR/provider-N.conf`. Every change is validated as the provider
//! will read it; an invalid value is named and nothing is written (exit status 2).
#![allow(clippy::print_stdout)]

use std::process::ExitCode;

use ucsta_tsp::config::Value;
use ucsta_tsp::setup::{describe, validate};

const USAGE: &str = "usage:
  ucsta-tsp-setup install [--file ucsta.tsp] name=value...
  ucsta-tsp-setup config --provider-id N name=value...
  ucsta-tsp-setup show --provider-id N
  ucsta-tsp-setup remove --provider-id N
settings: role, server, port, tls, ca_file, pin, server_name, user, password, devices,
  line_name, site, dialling rules, timers (see the crate documentation)";

struct Args {
    command: String,
    provider_id: Option<u32>,
    file: String,
    settings: Vec<(String, Value)>,
}

fn parse(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
    let mut args = args.into_iter();
    let command = args.next().ok_or_else(|| USAGE.to_owned())?;
    let mut parsed = Args {
        command,
        provider_id: None,
        file: "ucsta.tsp".to_owned(),
        settings: Vec::new(),
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--provider-id" => {
                let v = args.next().ok_or("--provider-id needs a number")?;
                parsed.provider_id = Some(v.parse().map_err(|_| format!("bad provider id `{v}`"))?);
            }
            "--file" => parsed.file = args.next().ok_or("--file needs a name")?,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            setting => {
                let (name, value) = setting
                    .split_once('=')
                    .ok_or_else(|| format!("`{setting}`: settings are name=value\n{USAGE}"))?;
                parsed
                    .settings
                    .push((name.trim().to_owned(), Value::Text(value.trim().to_owned())));
            }
        }
    }
    Ok(parsed)
}

/// Merges `changes` into `current` (same names replaced, case-insensitively).
fn merge(mut current: Vec<(String, Value)>, changes: &[(String, Value)]) -> Vec<(String, Value)> {
    for (name, value) in changes {
        match current
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(slot) => slot.1 = value.clone(),
            None => current.push((name.clone(), value.clone())),
        }
    }
    current
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ucsta-tsp-setup: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let id = || {
        args.provider_id
            .ok_or_else(|| "--provider-id is needed".to_owned())
    };
    match args.command.as_str() {
        "config" => {
            let id = id()?;
            let current = store::read(id)?;
            let values = merge(current, &args.settings);
            let config = validate(&values).map_err(|e| e.to_string())?;
            store::write(id, &values)?;
            println!(
                "provider {id}: {} role, server {}:{}",
                config.role.as_str(),
                config.server,
                config.port
            );
            Ok(())
        }
        "show" => {
            let id = id()?;
            let values = store::read(id)?;
            if values.is_empty() {
                return Err(format!("provider {id} has no configuration"));
            }
            let config = validate(&values).map_err(|e| e.to_string())?;
            for (name, value) in describe(&config) {
                println!("{name} = {value}");
            }
            Ok(())
        }
        "install" => {
            validate(&args.settings).map_err(|e| e.to_string())?;
            store::install(&args.file, &args.settings)
        }
        "remove" => store::remove(id()?),
        other => Err(format!("unknown command `{other}`\n{USAGE}")),
    }
}

/// The file store: `UCSTA_TSP_CONFIG_DIR`, or the registry on Windows.
mod store {
    use super::Value;

    fn dir() -> Option<std::path::PathBuf> {
        std::env::var_os("UCSTA_TSP_CONFIG_DIR").map(Into::into)
    }

    fn file_read(dir: &std::path::Path, id: u32) -> Result<Vec<(String, Value)>, String> {
        let path = dir.join(format!("provider-{id}.conf"));
        match std::fs::read_to_string(&path) {
            Ok(text) => ucsta_tsp::setup::parse_lines(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    fn file_write(
        dir: &std::path::Path,
        id: u32,
        values: &[(String, Value)],
    ) -> Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = dir.join(format!("provider-{id}.conf"));
        let mut text = String::new();
        for (name, value) in values {
            let v = match value {
                Value::Text(t) => t.replace('\n', "\\n"),
                Value::Number(n) => n.to_string(),
            };
            text.push_str(&format!("{name} = {v}\n"));
        }
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub(super) fn read(id: u32) -> Result<Vec<(String, Value)>, String> {
        if let Some(dir) = dir() {
            return file_read(&dir, id);
        }
        platform::read(id)
    }

    pub(super) fn write(id: u32, values: &[(String, Value)]) -> Result<(), String> {
        if let Some(dir) = dir() {
            return file_write(&dir, id, values);
        }
        platform::write(id, values)
    }

    pub(super) fn install(file: &str, values: &[(String, Value)]) -> Result<(), String> {
        platform::install(file, values)
    }

    pub(super) fn remove(id: u32) -> Result<(), String> {
        if let Some(dir) = dir() {
            let _ = std::fs::remove_file(dir.join(format!("provider-{id}.conf")));
            let _ = std::fs::remove_file(dir.join(format!("provider-{id}.devices")));
            return Ok(());
        }
        platform::remove(id)
    }

    #[cfg(windows)]
    #[allow(unsafe_code)]
    mod platform {
        use super::Value;
        use ucsta_tsp::registry::{self, PENDING_KEY, provider_key};

        pub(super) fn read(id: u32) -> Result<Vec<(String, Value)>, String> {
            use ucsta_tsp::store::Store;
            match registry::RegistryStore.load(id) {
                Ok(c) => Ok(ucsta_tsp::setup::describe(&c)
                    .into_iter()
                    .map(|(n, v)| {
                        let v = if n == "password" {
                            c.password.clone()
                        } else {
                            v
                        };
                        (n.to_owned(), Value::Text(v))
                    })
                    .collect()),
                Err(ucsta_tsp::store::StoreError::Missing(_)) => Ok(Vec::new()),
                Err(e) => Err(e.to_string()),
            }
        }

        pub(super) fn write(id: u32, values: &[(String, Value)]) -> Result<(), String> {
            // Values are written over the key (not a new key): the stored multi-line
            // device list stays.
            registry::write_values(&provider_key(id), values)
        }

        pub(super) fn install(file: &str, values: &[(String, Value)]) -> Result<(), String> {
            registry::delete_key(PENDING_KEY)?;
            registry::write_values(PENDING_KEY, values)?;
            let name: Vec<u16> = file.encode_utf16().chain([0]).collect();
            let mut id = 0u32;
            // SAFETY: a NUL-terminated name and a DWORD to write.
            let r = unsafe {
                windows_sys::Win32::Devices::Tapi::lineAddProviderW(
                    name.as_ptr(),
                    std::ptr::null_mut(),
                    &mut id,
                )
            };
            if r != 0 {
                let _ = registry::delete_key(PENDING_KEY);
                return Err(format!(
                    "lineAddProvider({file}) failed: 0x{:08X} (is {file} in System32, copied from a 64-bit process?)",
                    r as u32
                ));
            }
            println!("installed as provider {id}");
            Ok(())
        }

        pub(super) fn remove(id: u32) -> Result<(), String> {
            // SAFETY: no pointers.
            let r = unsafe {
                windows_sys::Win32::Devices::Tapi::lineRemoveProvider(id, std::ptr::null_mut())
            };
            if r != 0 {
                eprintln!(
                    "lineRemoveProvider({id}) failed: 0x{:08X}; removing the settings anyway",
                    r as u32
                );
            }
            registry::delete_key(&provider_key(id))
        }
    }

    #[cfg(not(windows))]
    mod platform {
        use super::Value;

        fn default_dir() -> std::path::PathBuf {
            "/etc/ucsta-tsp".into()
        }

        pub(super) fn read(id: u32) -> Result<Vec<(String, Value)>, String> {
            super::file_read(&default_dir(), id)
        }

        pub(super) fn write(id: u32, values: &[(String, Value)]) -> Result<(), String> {
            super::file_write(&default_dir(), id, values)
        }

        pub(super) fn install(_file: &str, _values: &[(String, Value)]) -> Result<(), String> {
            Err("install needs Windows (lineAddProvider); use `config --provider-id N` here".into())
        }

        pub(super) fn remove(id: u32) -> Result<(), String> {
            let _ = std::fs::remove_file(default_dir().join(format!("provider-{id}.conf")));
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_parse_and_merge() {
        let a =
            parse(["config", "--provider-id", "3", "role=remote", "server=h"].map(String::from))
                .unwrap();
        assert_eq!(a.provider_id, Some(3));
        assert_eq!(a.settings.len(), 2);
        assert!(parse(["config", "oops"].map(String::from)).is_err());
        let merged = merge(
            vec![("Server".into(), Value::Text("old".into()))],
            &[("server".into(), Value::Text("new".into()))],
        );
        assert_eq!(merged, vec![("Server".into(), Value::Text("new".into()))]);
    }
}
