//! Loading the provider DLL (Windows): `LoadLibraryW`, then `GetProcAddress` of every
//! name of `ucsta_tsp::tspi::EXPORTS`, as the Telephony service does.
#![allow(unsafe_code)]

use std::path::Path;

use windows_sys::Win32::Foundation::HMODULE;
use windows_sys::Win32::System::LibraryLoader::{GetProcAddress, LoadLibraryW};

use crate::table::{Tspi, for_each_tspi};

/// What `GetProcAddress` returns, when it finds the name.
type Proc = unsafe extern "system" fn() -> isize;

/// A procedure address as the function pointer type `F`.
///
/// # Safety
///
/// `F` is a function pointer type, the signature of the function at `p`.
unsafe fn cast<F: Copy>(p: Proc) -> F {
    const { assert!(size_of::<F>() == size_of::<Proc>()) };
    // SAFETY: both are function pointers of the same size (checked above); the
    // caller vouches for the signature.
    unsafe { std::mem::transmute_copy::<Proc, F>(&p) }
}

/// Why the provider could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadError {
    /// `LoadLibraryW` failed, with `GetLastError`.
    Library {
        /// The path given.
        path: String,
        /// The Win32 error.
        error: u32,
    },
    /// These exports are not found by `GetProcAddress`.
    Missing(Vec<String>),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Library { path, error } => {
                write!(f, "LoadLibraryW({path}) failed: error {error}")
            }
            LoadError::Missing(names) => {
                write!(f, "the provider does not export {}", names.join(", "))
            }
        }
    }
}

impl std::error::Error for LoadError {}

/// A loaded provider DLL. It stays loaded for the life of the process (the
/// Telephony service unloads a provider only after `TSPI_providerShutdown`, and the
/// host exits right after that).
#[derive(Debug)]
pub struct Library {
    module: HMODULE,
}

impl Library {
    /// `LoadLibraryW(path)`.
    ///
    /// # Errors
    ///
    /// [`LoadError::Library`].
    pub fn open(path: &Path) -> Result<Library, LoadError> {
        let wide: Vec<u16> = path
            .as_os_str()
            .to_string_lossy()
            .encode_utf16()
            .chain([0])
            .collect();
        // SAFETY: a NUL-terminated UTF-16 path. Loading runs the DLL's entry point,
        // which is the provider's and has no preconditions.
        let module = unsafe { LoadLibraryW(wide.as_ptr()) };
        if module.is_null() {
            // SAFETY: no arguments.
            let error = unsafe { windows_sys::Win32::Foundation::GetLastError() };
            return Err(LoadError::Library {
                path: path.display().to_string(),
                error,
            });
        }
        Ok(Library { module })
    }

    /// Whether `GetProcAddress` finds `name`.
    pub fn has(&self, name: &str) -> bool {
        self.proc(name).is_some()
    }

    fn proc(&self, name: &str) -> Option<Proc> {
        let c: Vec<u8> = name.bytes().chain([0]).collect();
        // SAFETY: a module handle from LoadLibraryW and a NUL-terminated name.
        unsafe { GetProcAddress(self.module, c.as_ptr()) }
    }

    /// The names of `names` that `GetProcAddress` does not find.
    pub fn missing(&self, names: &[&str]) -> Vec<String> {
        names
            .iter()
            .filter(|n| !self.has(n))
            .map(|n| (*n).to_owned())
            .collect()
    }

    /// The function table.
    ///
    /// # Errors
    ///
    /// [`LoadError::Missing`] with every export of `ucsta_tsp::tspi::EXPORTS` (and of
    /// the table) that the DLL lacks.
    pub fn table(&self) -> Result<Tspi, LoadError> {
        let mut required: Vec<&str> = ucsta_tsp::tspi::EXPORTS.to_vec();
        for n in Tspi::names() {
            if !required.contains(&n) {
                required.push(n);
            }
        }
        let missing = self.missing(&required);
        if !missing.is_empty() {
            return Err(LoadError::Missing(missing));
        }
        macro_rules! load {
            ($($f:ident),* $(,)?) => {
                Tspi {
                    $($f: {
                        let p = self
                            .proc(concat!("TSPI_", stringify!($f)))
                            .ok_or_else(|| LoadError::Missing(vec![stringify!($f).to_owned()]))?;
                        // SAFETY: the export of this name is the TSPI function of the
                        // field's signature (the provider declares them in
                        // `ucsta_tsp::tspi`, whose signatures are the table's field
                        // types, checked by `Tspi::linked`).
                        unsafe { cast(p) }
                    }),*
                }
            };
        }
        Ok(for_each_tspi!(load))
    }
}
