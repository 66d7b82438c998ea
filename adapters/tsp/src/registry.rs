//! The Windows registry store and DPAPI (see [`crate::store`] for the layout).
#![allow(unsafe_code)]

use std::ptr::{null, null_mut};

use windows_sys::Win32::Foundation::{
    ERROR_FILE_NOT_FOUND, ERROR_NO_MORE_ITEMS, ERROR_SUCCESS, LocalFree,
};
use windows_sys::Win32::Security::Cryptography::{
    CRYPT_INTEGER_BLOB, CRYPTPROTECT_LOCAL_MACHINE, CRYPTPROTECT_UI_FORBIDDEN, CryptProtectData,
    CryptUnprotectData,
};
use windows_sys::Win32::System::Registry::{
    HKEY, HKEY_LOCAL_MACHINE, KEY_READ, KEY_WOW64_64KEY, KEY_WRITE, REG_BINARY, REG_DWORD,
    REG_MULTI_SZ, REG_OPTION_NON_VOLATILE, REG_SZ, RegCloseKey, RegCreateKeyExW, RegDeleteTreeW,
    RegEnumValueW, RegOpenKeyExW, RegQueryValueExW, RegSetValueExW,
};

use crate::config::{ProviderConfig, Value};
use crate::store::{Store, StoreError};

/// The key under `HKEY_LOCAL_MACHINE` that holds one subkey per provider instance.
pub const PROVIDERS_KEY: &str = r"SOFTWARE\uCSTA\TSP\Providers";
/// Where `ucsta-tsp-setup install` leaves the configuration for the instance
/// `lineAddProvider` is about to create (`TUISPI_providerInstall` moves it).
pub const PENDING_KEY: &str = r"SOFTWARE\uCSTA\TSP\Pending";
/// The value holding the stored multi-line device list.
const DEVICE_CACHE: &str = "device_cache";

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain([0]).collect()
}

/// The key of a provider instance.
pub fn provider_key(provider_id: u32) -> String {
    format!(r"{PROVIDERS_KEY}\{provider_id}")
}

/// An open registry key, closed on drop.
struct Key(HKEY);

impl Drop for Key {
    fn drop(&mut self) {
        // SAFETY: the handle came from RegOpenKeyExW/RegCreateKeyExW and is closed once.
        unsafe { RegCloseKey(self.0) };
    }
}

fn open(path: &str, write: bool) -> Result<Option<Key>, String> {
    let mut key: HKEY = null_mut();
    let access = if write {
        KEY_READ | KEY_WRITE
    } else {
        KEY_READ
    } | KEY_WOW64_64KEY;
    let path_w = wide(path);
    // SAFETY: the path is NUL-terminated; `key` receives the handle.
    let e = unsafe { RegOpenKeyExW(HKEY_LOCAL_MACHINE, path_w.as_ptr(), 0, access, &mut key) };
    match e {
        ERROR_SUCCESS => Ok(Some(Key(key))),
        ERROR_FILE_NOT_FOUND => Ok(None),
        e => Err(format!(r"HKLM\{path}: error {e}")),
    }
}

fn create(path: &str) -> Result<Key, String> {
    let mut key: HKEY = null_mut();
    let path_w = wide(path);
    // SAFETY: the path is NUL-terminated; the optional pointers are null; `key`
    // receives the handle.
    let e = unsafe {
        RegCreateKeyExW(
            HKEY_LOCAL_MACHINE,
            path_w.as_ptr(),
            0,
            null(),
            REG_OPTION_NON_VOLATILE,
            KEY_READ | KEY_WRITE | KEY_WOW64_64KEY,
            null(),
            &mut key,
            null_mut(),
        )
    };
    if e == ERROR_SUCCESS {
        Ok(Key(key))
    } else {
        Err(format!(r"HKLM\{path}: error {e}"))
    }
}

fn set(key: &Key, name: &str, kind: u32, data: &[u8]) -> Result<(), String> {
    let name_w = wide(name);
    // SAFETY: the key is open for writing; name and data are valid for their lengths.
    let e = unsafe {
        RegSetValueExW(
            key.0,
            name_w.as_ptr(),
            0,
            kind,
            data.as_ptr(),
            data.len() as u32,
        )
    };
    if e == ERROR_SUCCESS {
        Ok(())
    } else {
        Err(format!("value {name}: error {e}"))
    }
}

fn utf16_bytes(s: &str) -> Vec<u8> {
    s.encode_utf16()
        .chain([0])
        .flat_map(u16::to_le_bytes)
        .collect()
}

fn from_utf16(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&units)
}

/// Protects a secret with DPAPI for this machine (any account on it can read it back:
/// the Telephony service runs under another account than the administrator who
/// configures it).
///
/// # Errors
///
/// The Windows error when DPAPI refuses.
pub fn protect(secret: &[u8]) -> Result<Vec<u8>, String> {
    let input = CRYPT_INTEGER_BLOB {
        cbData: secret.len() as u32,
        pbData: secret.as_ptr().cast_mut(),
    };
    let mut output = CRYPT_INTEGER_BLOB {
        cbData: 0,
        pbData: null_mut(),
    };
    let description = wide("uCSTA TSP");
    // SAFETY: the input blob points to `secret`; DPAPI allocates the output, freed
    // below with LocalFree.
    let ok = unsafe {
        CryptProtectData(
            &input,
            description.as_ptr(),
            null(),
            null(),
            null(),
            CRYPTPROTECT_LOCAL_MACHINE | CRYPTPROTECT_UI_FORBIDDEN,
            &mut output,
        )
    };
    if ok == 0 {
        return Err(format!(
            "CryptProtectData failed: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: DPAPI returned `cbData` bytes at `pbData`.
    let data =
        unsafe { std::slice::from_raw_parts(output.pbData, output.cbData as usize) }.to_vec();
    // SAFETY: the buffer was allocated by DPAPI with LocalAlloc.
    unsafe { LocalFree(output.pbData.cast()) };
    Ok(data)
}

/// Reads back what [`protect`] wrote.
///
/// # Errors
///
/// The Windows error when DPAPI refuses (another machine's data, corrupted).
pub fn unprotect(data: &[u8]) -> Result<Vec<u8>, String> {
    let input = CRYPT_INTEGER_BLOB {
        cbData: data.len() as u32,
        pbData: data.as_ptr().cast_mut(),
    };
    let mut output = CRYPT_INTEGER_BLOB {
        cbData: 0,
        pbData: null_mut(),
    };
    // SAFETY: as in `protect`.
    let ok = unsafe {
        CryptUnprotectData(
            &input,
            null_mut(),
            null(),
            null(),
            null(),
            CRYPTPROTECT_UI_FORBIDDEN,
            &mut output,
        )
    };
    if ok == 0 {
        return Err(format!(
            "CryptUnprotectData failed: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: DPAPI returned `cbData` bytes at `pbData`.
    let plain =
        unsafe { std::slice::from_raw_parts(output.pbData, output.cbData as usize) }.to_vec();
    // SAFETY: allocated by DPAPI with LocalAlloc.
    unsafe { LocalFree(output.pbData.cast()) };
    Ok(plain)
}

/// Every value of a key: (name, type, data).
fn values(key: &Key) -> Result<Vec<(String, u32, Vec<u8>)>, String> {
    let mut out = Vec::new();
    for index in 0.. {
        let mut name = vec![0u16; 256];
        let mut name_len = name.len() as u32;
        let mut kind = 0u32;
        let mut data = vec![0u8; 64 * 1024];
        let mut data_len = data.len() as u32;
        // SAFETY: the buffers and their lengths are valid; RegEnumValueW writes within
        // them.
        let e = unsafe {
            RegEnumValueW(
                key.0,
                index,
                name.as_mut_ptr(),
                &mut name_len,
                null(),
                &mut kind,
                data.as_mut_ptr(),
                &mut data_len,
            )
        };
        match e {
            ERROR_SUCCESS => {}
            ERROR_NO_MORE_ITEMS => break,
            e => return Err(format!("reading value {index}: error {e}")),
        }
        name.truncate(name_len as usize);
        data.truncate(data_len as usize);
        out.push((String::from_utf16_lossy(&name), kind, data));
    }
    Ok(out)
}

/// Reads the configuration values of `path` (the password unprotected).
fn read_values(path: &str) -> Result<Option<Vec<(String, Value)>>, String> {
    let Some(key) = open(path, false)? else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for (name, kind, data) in values(&key)? {
        if name.eq_ignore_ascii_case(DEVICE_CACHE) {
            continue;
        }
        let value = match kind {
            REG_DWORD if data.len() >= 4 => {
                Value::Number(u32::from_le_bytes([data[0], data[1], data[2], data[3]]))
            }
            REG_SZ => Value::Text(from_utf16(&data).trim_end_matches('\0').to_owned()),
            REG_MULTI_SZ => Value::Text(
                from_utf16(&data)
                    .split('\0')
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            REG_BINARY if name.eq_ignore_ascii_case("password") => {
                let plain = unprotect(&data)?;
                Value::Text(String::from_utf8(plain).map_err(|_| "password: not UTF-8".to_owned())?)
            }
            _ => continue,
        };
        out.push((name, value));
    }
    Ok(Some(out))
}

/// Writes configuration values into the key at `path` (created), the password
/// protected with DPAPI; numbers as `REG_DWORD`.
///
/// # Errors
///
/// The registry or DPAPI error.
pub fn write_values(path: &str, values: &[(String, Value)]) -> Result<(), String> {
    let key = create(path)?;
    for (name, value) in values {
        match value {
            Value::Text(t) if name.eq_ignore_ascii_case("password") => {
                set(&key, name, REG_BINARY, &protect(t.as_bytes())?)?
            }
            Value::Text(t) => set(&key, name, REG_SZ, &utf16_bytes(t))?,
            Value::Number(n) => set(&key, name, REG_DWORD, &n.to_le_bytes())?,
        }
    }
    Ok(())
}

/// Copies every value of `from` to `to` (the password stays protected) and deletes
/// `from`.
///
/// # Errors
///
/// The registry error.
pub fn move_key(from: &str, to: &str) -> Result<bool, String> {
    let Some(source) = open(from, false)? else {
        return Ok(false);
    };
    let target = create(to)?;
    for (name, kind, data) in values(&source)? {
        set(&target, &name, kind, &data)?;
    }
    drop(source);
    delete_key(from)?;
    Ok(true)
}

/// Deletes a key and everything below it.
///
/// # Errors
///
/// The registry error (a missing key is not one).
pub fn delete_key(path: &str) -> Result<(), String> {
    let path_w = wide(path);
    // SAFETY: the path is NUL-terminated.
    let e = unsafe { RegDeleteTreeW(HKEY_LOCAL_MACHINE, path_w.as_ptr()) };
    match e {
        ERROR_SUCCESS | ERROR_FILE_NOT_FOUND => Ok(()),
        e => Err(format!(r"HKLM\{path}: error {e}")),
    }
}

/// The registry store.
#[derive(Debug, Clone, Copy)]
pub struct RegistryStore;

impl Store for RegistryStore {
    fn load(&self, provider_id: u32) -> Result<ProviderConfig, StoreError> {
        let path = provider_key(provider_id);
        match read_values(&path) {
            Ok(Some(values)) => {
                ProviderConfig::from_values(values.iter().map(|(n, v)| (n.as_str(), v.clone())))
                    .map_err(StoreError::Invalid)
            }
            Ok(None) => Err(StoreError::Missing(format!(r"HKLM\{path}"))),
            Err(e) => Err(StoreError::Unreadable(e)),
        }
    }

    fn devices(&self, provider_id: u32) -> Vec<String> {
        let Ok(Some(key)) = open(&provider_key(provider_id), false) else {
            return Vec::new();
        };
        let name = wide(DEVICE_CACHE);
        let mut data = vec![0u8; 1 << 20];
        let mut len = data.len() as u32;
        let mut kind = 0u32;
        // SAFETY: the buffers and lengths are valid.
        let e = unsafe {
            RegQueryValueExW(
                key.0,
                name.as_ptr(),
                null(),
                &mut kind,
                data.as_mut_ptr(),
                &mut len,
            )
        };
        if e != ERROR_SUCCESS || kind != REG_MULTI_SZ {
            return Vec::new();
        }
        data.truncate(len as usize);
        from_utf16(&data)
            .split('\0')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    fn save_devices(&self, provider_id: u32, devices: &[String]) {
        let result = open(&provider_key(provider_id), true).and_then(|key| {
            let key = key.ok_or_else(|| "the provider's key is gone".to_owned())?;
            let mut data: Vec<u8> = devices
                .iter()
                .flat_map(|d| d.encode_utf16().chain([0]))
                .chain([0])
                .flat_map(u16::to_le_bytes)
                .collect();
            if devices.is_empty() {
                data = vec![0, 0, 0, 0];
            }
            set(&key, DEVICE_CACHE, REG_MULTI_SZ, &data)
        });
        if let Err(e) = result {
            log::warn!("cannot store the device list: {e}");
        }
    }

    fn location(&self, provider_id: u32) -> String {
        format!(r"HKLM\{}", provider_key(provider_id))
    }
}
