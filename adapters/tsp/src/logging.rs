//! The provider's log: a rotating file, plus `OutputDebugString` on Windows.
//!
//! The file is `%ProgramData%\uCSTA\TSP\ucsta-tsp.log` on Windows (the Telephony
//! service has no console), or the path in `UCSTA_TSP_LOG`; elsewhere, without
//! `UCSTA_TSP_LOG`, standard error. It is rotated at 4 MiB, keeping three old files
//! (`.1` .. `.3`). Phone numbers pass through [`Pii`], which shows only their last two
//! digits while redaction is on (the `redact` setting, on by default).

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

/// Rotate when the file passes this size.
const ROTATE_AT: u64 = 4 * 1024 * 1024;
/// Old files kept.
const KEEP: u32 = 3;

static REDACT: AtomicBool = AtomicBool::new(true);
static LOGGER: OnceLock<Logger> = OnceLock::new();

/// A phone number or device ID in a log message: its digits but the last two hidden
/// while redaction is on.
#[derive(Debug, Clone, Copy)]
pub struct Pii<'a>(pub &'a str);

impl fmt::Display for Pii<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !REDACT.load(Ordering::Relaxed) {
            return f.write_str(self.0);
        }
        // Every digit but the last two becomes `*`; the rest (scheme, host) stays.
        let digits = self.0.chars().filter(char::is_ascii_digit).count();
        let mut seen = 0;
        for c in self.0.chars() {
            if c.is_ascii_digit() {
                seen += 1;
                if seen + 2 <= digits {
                    f.write_str("*")?;
                    continue;
                }
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

/// Turns redaction on or off (the `redact` setting of the provider instances: on if
/// any has it on).
pub fn set_redact(on: bool) {
    REDACT.store(on, Ordering::Relaxed);
}

struct Sink {
    file: Option<(PathBuf, File, u64)>,
}

struct Logger {
    sink: Mutex<Sink>,
}

impl Logger {
    fn write(&self, line: &str) {
        let mut sink = self.sink.lock().unwrap_or_else(PoisonError::into_inner);
        match &mut sink.file {
            Some((path, file, size)) => {
                if *size > ROTATE_AT {
                    let _ = file.flush();
                    for i in (1..KEEP).rev() {
                        let _ = std::fs::rename(
                            path.with_extension(format!("log.{i}")),
                            path.with_extension(format!("log.{}", i + 1)),
                        );
                    }
                    let _ = std::fs::rename(&*path, path.with_extension("log.1"));
                    if let Ok(f) = OpenOptions::new().create(true).append(true).open(&*path) {
                        *file = f;
                        *size = 0;
                    }
                }
                if file.write_all(line.as_bytes()).is_ok() {
                    *size += line.len() as u64;
                }
            }
            None => {
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
        }
        #[cfg(windows)]
        debug_string(line);
    }
}

#[cfg(windows)]
#[allow(unsafe_code)]
fn debug_string(line: &str) {
    let wide: Vec<u16> = line.encode_utf16().chain([0]).collect();
    // SAFETY: a NUL-terminated UTF-16 string.
    unsafe { windows_sys::Win32::System::Diagnostics::Debug::OutputDebugStringW(wide.as_ptr()) };
}

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let line = format!(
            "{}.{:03} {:5} [{}] {}\n",
            now.as_secs(),
            now.subsec_millis(),
            record.level(),
            std::thread::current().name().unwrap_or("tapi"),
            record.args()
        );
        self.write(&line);
    }

    fn flush(&self) {
        let mut sink = self.sink.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, f, _)) = &mut sink.file {
            let _ = f.flush();
        }
    }
}

fn log_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("UCSTA_TSP_LOG") {
        return Some(PathBuf::from(p));
    }
    if cfg!(windows) {
        let base = std::env::var_os("ProgramData").unwrap_or_else(|| r"C:\ProgramData".into());
        return Some(
            PathBuf::from(base)
                .join("uCSTA")
                .join("TSP")
                .join("ucsta-tsp.log"),
        );
    }
    None
}

/// Installs the logger once (later calls only change the level), and a panic hook
/// that logs the panic (the exports catch it; svchost must never see it).
pub fn init(level: log::LevelFilter) {
    let logger = LOGGER.get_or_init(|| {
        let file = log_path().and_then(|path| {
            if let Some(dir) = path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .ok()?;
            let size = file.metadata().map(|m| m.len()).unwrap_or(0);
            Some((path, file, size))
        });
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            log::error!("panic (caught, the call fails): {info}");
            if std::env::var_os("UCSTA_TSP_PANIC_STDERR").is_some() {
                previous(info);
            }
        }));
        Logger {
            sink: Mutex::new(Sink { file }),
        }
    });
    if log::set_logger(logger).is_ok() || log::max_level() < level {
        log::set_max_level(level);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_pii() {
        set_redact(true);
        assert_eq!(Pii("sip:201@pbx").to_string(), "sip:*01@pbx");
        assert_eq!(Pii("+49 89 1234").to_string(), "+** ** **34");
        assert_eq!(Pii("7").to_string(), "7");
        set_redact(false);
        assert_eq!(Pii("201").to_string(), "201");
        set_redact(true);
    }
}
