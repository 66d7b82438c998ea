//! Where provider instances keep their configuration.
//!
//! On Windows each instance has the registry key
//! `HKEY_LOCAL_MACHINE\SOFTWARE\uCSTA\TSP\Providers\<dwPermanentProviderID>`: one
//! value per setting of [`crate::config`] (`REG_SZ` or `REG_DWORD`), the password
//! protected with DPAPI for the machine (`REG_BINARY` `password`), and the multi-line
//! device list the provider stored last (`REG_MULTI_SZ` `device_cache`). Elsewhere,
//! and on Windows when the environment variable `UCSTA_TSP_CONFIG_DIR` names a
//! directory, the same settings are read from `<dir>/provider-<id>.conf` (`name =
//! value` lines) and the device list kept in `<dir>/provider-<id>.devices` (one per
//! line).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::config::{ConfigError, ProviderConfig};

/// Why a configuration could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// There is no configuration for this provider instance.
    Missing(String),
    /// It could not be read (permissions, a broken file, DPAPI refused).
    Unreadable(String),
    /// It was read, and is wrong.
    Invalid(ConfigError),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Missing(w) => write!(f, "no configuration at {w}"),
            StoreError::Unreadable(w) => write!(f, "configuration unreadable: {w}"),
            StoreError::Invalid(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// A provider instances' configuration store.
pub trait Store: Send + Sync {
    /// The instance's configuration.
    ///
    /// # Errors
    ///
    /// [`StoreError`].
    fn load(&self, provider_id: u32) -> Result<ProviderConfig, StoreError>;
    /// The multi-line device list stored last (empty when none).
    fn devices(&self, provider_id: u32) -> Vec<String>;
    /// Stores the multi-line device list.
    fn save_devices(&self, provider_id: u32, devices: &[String]);
    /// Where the configuration lives, for messages.
    fn location(&self, provider_id: u32) -> String;
}

/// The file store (see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
}

impl FileStore {
    /// A store in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> FileStore {
        FileStore { dir: dir.into() }
    }

    fn config_path(&self, id: u32) -> PathBuf {
        self.dir.join(format!("provider-{id}.conf"))
    }

    fn devices_path(&self, id: u32) -> PathBuf {
        self.dir.join(format!("provider-{id}.devices"))
    }
}

impl Store for FileStore {
    fn load(&self, provider_id: u32) -> Result<ProviderConfig, StoreError> {
        let path = self.config_path(provider_id);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::Missing(path.display().to_string()));
            }
            Err(e) => return Err(StoreError::Unreadable(format!("{}: {e}", path.display()))),
        };
        ProviderConfig::from_text(&text).map_err(StoreError::Invalid)
    }

    fn devices(&self, provider_id: u32) -> Vec<String> {
        std::fs::read_to_string(self.devices_path(provider_id))
            .map(|t| {
                t.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn save_devices(&self, provider_id: u32, devices: &[String]) {
        let path = self.devices_path(provider_id);
        let mut text = devices.join("\n");
        text.push('\n');
        // Written aside and renamed, so a crash never leaves half a list.
        let temp = path.with_extension("devices.new");
        let result = std::fs::write(&temp, text).and_then(|()| std::fs::rename(&temp, &path));
        if let Err(e) = result {
            log::warn!("cannot store the device list in {}: {e}", path.display());
        }
    }

    fn location(&self, provider_id: u32) -> String {
        self.config_path(provider_id).display().to_string()
    }
}

/// The store the provider uses: `UCSTA_TSP_CONFIG_DIR` when set, else the registry
/// on Windows and `/etc/ucsta-tsp` elsewhere.
pub fn default_store() -> Arc<dyn Store> {
    if let Some(dir) = std::env::var_os("UCSTA_TSP_CONFIG_DIR") {
        return Arc::new(FileStore::new(dir));
    }
    #[cfg(windows)]
    {
        Arc::new(crate::registry::RegistryStore)
    }
    #[cfg(not(windows))]
    {
        Arc::new(FileStore::new("/etc/ucsta-tsp"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_file_store() {
        let dir = std::env::temp_dir().join(format!("ucsta-tsp-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = FileStore::new(&dir);
        assert!(matches!(store.load(7), Err(StoreError::Missing(_))));
        std::fs::write(
            dir.join("provider-7.conf"),
            "role = remote\nserver = h\nuser = u\npassword = p\ndevices = 201\n",
        )
        .unwrap();
        assert_eq!(store.load(7).unwrap().devices, ["201"]);
        std::fs::write(dir.join("provider-8.conf"), "role = remote\n").unwrap();
        assert!(matches!(store.load(8), Err(StoreError::Invalid(_))));
        assert!(store.devices(7).is_empty());
        store.save_devices(7, &["sip:201@h".into(), "sip:202@h".into()]);
        assert_eq!(store.devices(7), ["sip:201@h", "sip:202@h"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
