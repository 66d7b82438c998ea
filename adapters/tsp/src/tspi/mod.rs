//! The TSPI: the `extern "system"` functions the Telephony service calls.
//!
//! A thin shell over [`Provider`] and
//! [`Instance`]:
//!
//! - every export runs behind `catch_unwind` (a panic returns
//!   `LINEERR_OPERATIONFAILED`, it never reaches svchost), checks its pointers, turns
//!   UTF-16 strings into Rust strings and calls the instance under its lock;
//! - results cross the ABI as numbers: 0, a negative `LINEERR_*`, or the positive
//!   `dwRequestID` of an asynchronous request, whose completion comes later (possibly
//!   before the function returns) through `ASYNC_COMPLETION`;
//! - a function that creates a call writes the handle before it returns, inside the
//!   instance's lock, so no completion or event for it can overtake it;
//! - TSPI versions 0x00010004 to 0x00020002 are negotiated; the structures are filled
//!   within `dwTotalSize` for the negotiated version;
//! - each provider instance (`dwPermanentProviderID`) has its own configuration and
//!   threads; `HDRVLINE` and `HDRVCALL` carry the instance in their top bits.
//!
//! The same functions are compiled on every target: on Windows they are the DLL's
//! export table, elsewhere tapi-host and the tests call them directly.
#![allow(unsafe_code, non_snake_case, clippy::missing_safety_doc)]

pub(crate) mod structs;

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::null_mut;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use windows_sys::Win32::Devices::Tapi::{
    ASYNC_COMPLETION, HDRVCALL, HDRVLINE, HPROVIDER, HTAPICALL, HTAPILINE, LINEADDRESSCAPS,
    LINEADDRESSSTATUS, LINECALLINFO, LINECALLPARAMS, LINECALLSTATUS, LINEDEVCAPS, LINEDEVSTATUS,
    LINEEVENT, LINEFORWARD, LINEFORWARDLIST, PHONEEVENT, TUISPIDLLCALLBACK, VARSTRING,
};
use windows_sys::Win32::Foundation::{HANDLE, HWND, SYSTEMTIME};
use windows_sys::core::{PCSTR, PCWSTR, PWSTR};

use crate::provider::{CallHandle, ForwardEntry, LineError, LineId, Provider, ProviderEvent};
use crate::runtime::{Instance, TapiSink};
use crate::store::{Store, StoreError, default_store};
use crate::tapi;

/// Longest string accepted from TAPI, in UTF-16 units.
const MAX_STRING: usize = 4096;

/// One provider instance in the DLL.
struct Entry {
    slot: usize,
    provider_id: u32,
    instance: Instance,
    sink: Arc<Sink>,
    /// The TSPI version of `TSPI_providerInit`.
    version: AtomicU32,
    /// The version each open line negotiated.
    line_versions: Mutex<HashMap<u32, u32>>,
}

/// The instances, by slot (the slot is in every handle).
static ENTRIES: Mutex<Vec<Option<Arc<Entry>>>> = Mutex::new(Vec::new());

fn entries() -> std::sync::MutexGuard<'static, Vec<Option<Arc<Entry>>>> {
    ENTRIES.lock().unwrap_or_else(PoisonError::into_inner)
}

fn entry_by_provider(provider_id: u32) -> Option<Arc<Entry>> {
    entries()
        .iter()
        .flatten()
        .find(|e| e.provider_id == provider_id)
        .cloned()
}

fn entry_by_slot(slot: usize) -> Option<Arc<Entry>> {
    entries().get(slot).cloned().flatten()
}

/// The instance and line that have TAPI device ID `device_id`.
fn entry_by_device(device_id: u32) -> Result<(Arc<Entry>, LineId), LineError> {
    let all: Vec<Arc<Entry>> = entries().iter().flatten().cloned().collect();
    let mut error = LineError::BadDeviceId;
    for entry in all {
        match entry.instance.with(|p, _| p.line_by_device_id(device_id)) {
            Ok(line) => return Ok((entry, line)),
            Err(LineError::NoDevice) => error = LineError::NoDevice,
            Err(_) => {}
        }
    }
    Err(error)
}

fn line_handle(slot: usize, line: LineId) -> HDRVLINE {
    ((((slot + 1) as u64) << 48) | (line.index() as u64 + 1)) as usize as HDRVLINE
}

fn decode_line(h: HDRVLINE) -> Result<(Arc<Entry>, LineId), LineError> {
    let raw = h as usize as u64;
    let slot = (raw >> 48) as usize;
    let index = raw & 0xFFFF_FFFF_FFFF;
    if slot == 0 || index == 0 || index > u64::from(u32::MAX) {
        return Err(LineError::InvalLineHandle);
    }
    let entry = entry_by_slot(slot - 1).ok_or(LineError::InvalLineHandle)?;
    Ok((entry, LineId::new((index - 1) as u32)))
}

fn call_handle(slot: usize, call: CallHandle) -> HDRVCALL {
    ((((slot + 1) as u64) << 56) | call.to_raw()) as usize as HDRVCALL
}

fn decode_call(h: HDRVCALL) -> Result<(Arc<Entry>, CallHandle), LineError> {
    let raw = h as usize as u64;
    let slot = (raw >> 56) as usize;
    let call =
        CallHandle::from_raw(raw & 0x00FF_FFFF_FFFF_FFFF).ok_or(LineError::InvalCallHandle)?;
    if slot == 0 {
        return Err(LineError::InvalCallHandle);
    }
    let entry = entry_by_slot(slot - 1).ok_or(LineError::InvalCallHandle)?;
    Ok((entry, call))
}

/// Runs an export's body: a panic becomes `LINEERR_OPERATIONFAILED`.
fn guard(f: impl FnOnce() -> Result<i32, LineError>) -> i32 {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            log::debug!("TSPI call failed: {e}");
            e.result()
        }
        Err(_) => tapi::LINEERR_OPERATIONFAILED as i32,
    }
}

/// A UTF-16 string from TAPI; `None` for a null pointer.
///
/// # Safety
///
/// `p` is null or points to a NUL-terminated UTF-16 string.
unsafe fn wstr(p: PCWSTR) -> Result<Option<String>, LineError> {
    if p.is_null() {
        return Ok(None);
    }
    let mut units = Vec::new();
    for i in 0..=MAX_STRING {
        // SAFETY: the string is NUL-terminated, and reading stops at the NUL.
        let u = unsafe { p.add(i).read_unaligned() };
        if u == 0 {
            return String::from_utf16(&units)
                .map(Some)
                .map_err(|_| LineError::InvalParam);
        }
        units.push(u);
    }
    Err(LineError::InvalParam)
}

/// The caller's structure as a byte slice of its `dwTotalSize`.
///
/// # Safety
///
/// `p` is null or points to a structure of at least `dwTotalSize` writable bytes.
unsafe fn out_struct<'a, T>(p: *mut T) -> Result<&'a mut [u8], LineError> {
    if p.is_null() {
        return Err(LineError::InvalPointer);
    }
    // SAFETY: every TSPI structure starts with its `dwTotalSize`.
    let total = unsafe { p.cast::<u32>().read_unaligned() } as usize;
    if total < 12 {
        return Err(LineError::StructureTooSmall);
    }
    // SAFETY: TAPI owns `total` bytes at `p` for the duration of the call.
    Ok(unsafe { std::slice::from_raw_parts_mut(p.cast::<u8>(), total) })
}

/// Writes a value through a pointer TAPI gave (null is `LINEERR_INVALPOINTER`).
///
/// # Safety
///
/// `p` is null or valid for a write of `T`.
unsafe fn put<T>(p: *mut T, value: T) -> Result<(), LineError> {
    if p.is_null() {
        return Err(LineError::InvalPointer);
    }
    // SAFETY: see the function's contract.
    unsafe { p.write_unaligned(value) };
    Ok(())
}

/// The current UTC time as a `SYSTEMTIME`.
fn system_time() -> SYSTEMTIME {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let days = (secs.as_secs() / 86_400) as i64;
    let rem = secs.as_secs() % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    SYSTEMTIME {
        wYear: year as u16,
        wMonth: month as u16,
        wDayOfWeek: ((days + 4).rem_euclid(7)) as u16,
        wDay: day as u16,
        wHour: (rem / 3600) as u16,
        wMinute: (rem % 3600 / 60) as u16,
        wSecond: (rem % 60) as u16,
        wMilliseconds: secs.subsec_millis() as u16,
    }
}

/// Milliseconds for `LINE_GENERATE`'s tick count.
fn tick_count() -> usize {
    #[cfg(windows)]
    {
        // SAFETY: no arguments.
        (unsafe { windows_sys::Win32::System::SystemInformation::GetTickCount() }) as usize
    }
    #[cfg(not(windows))]
    {
        use std::sync::OnceLock;
        static START: OnceLock<std::time::Instant> = OnceLock::new();
        START
            .get_or_init(std::time::Instant::now)
            .elapsed()
            .as_millis() as u32 as usize
    }
}

// ------------------------------------------------------------------ the sink

/// How the instance reaches TAPI: the callbacks TAPI gave.
struct Sink {
    slot: usize,
    provider_id: u32,
    store: Arc<dyn Store>,
    /// Each open line's `LINEEVENT`.
    events: Mutex<HashMap<u32, LINEEVENT>>,
    /// `hProvider` and the `LINEEVENT` of `TSPI_providerEnumDevices` (LINE_CREATE,
    /// LINE_REMOVE).
    create: Mutex<(usize, LINEEVENT)>,
    completion: Mutex<ASYNC_COMPLETION>,
}

impl Sink {
    fn event_proc(&self, line: LineId) -> LINEEVENT {
        *self
            .events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(line.index() as u32))
            .unwrap_or(&None)
    }
}

impl TapiSink for Sink {
    fn line_event(
        &self,
        line: LineId,
        ht_line: usize,
        ht_call: usize,
        msg: u32,
        params: [usize; 3],
    ) {
        let Some(proc_) = self.event_proc(line) else {
            return;
        };
        let mut p = params;
        if msg == tapi::msg::GENERATE {
            p[2] = tick_count();
        }
        // SAFETY: TAPI gave this callback in TSPI_lineOpen; it stays valid while the
        // provider is loaded. Called from the delivery thread only, no lock held.
        unsafe {
            proc_(
                ht_line as HTAPILINE,
                ht_call as HTAPICALL,
                msg,
                p[0],
                p[1],
                p[2],
            );
        }
    }

    fn new_call(&self, line: LineId, ht_line: usize, call: CallHandle) -> usize {
        let Some(proc_) = self.event_proc(line) else {
            return 0;
        };
        let mut ht: HTAPICALL = null_mut();
        let hd = call_handle(self.slot, call);
        // SAFETY: as in `line_event`; `ht` lives across the call, TAPI writes its
        // handle (or null) there.
        unsafe {
            proc_(
                ht_line as HTAPILINE,
                null_mut(),
                tapi::LINE_NEWCALL,
                hd as usize,
                (&mut ht as *mut HTAPICALL) as usize,
                0,
            );
        }
        ht as usize
    }

    fn create_line(&self, temp_id: u32) {
        let (h_provider, proc_) = *self.create.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(proc_) = proc_ {
            // SAFETY: TAPI gave this callback in TSPI_providerEnumDevices for LINE_CREATE.
            unsafe {
                proc_(
                    null_mut(),
                    null_mut(),
                    tapi::msg::CREATE,
                    h_provider,
                    temp_id as usize,
                    0,
                );
            }
        }
    }

    fn remove_line(&self, device_id: u32) {
        let (_, proc_) = *self.create.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(proc_) = proc_ {
            // SAFETY: as in `create_line`.
            unsafe {
                proc_(
                    null_mut(),
                    null_mut(),
                    tapi::msg::REMOVE,
                    device_id as usize,
                    0,
                    0,
                );
            }
        }
    }

    fn completion(&self, request_id: u32, result: i32) {
        let proc_ = *self
            .completion
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(proc_) = proc_ {
            // SAFETY: TAPI gave this callback in TSPI_providerInit.
            unsafe { proc_(request_id, result) };
        }
    }

    fn provider_event(&self, event: &ProviderEvent) {
        match event {
            ProviderEvent::SessionUp {
                session_id,
                edition,
            } => {
                log::info!(
                    "provider {}: CSTA session {session_id} up ({edition})",
                    self.provider_id
                )
            }
            ProviderEvent::LinkDown { reason, retry_in } => log::warn!(
                "provider {}: CSTA link down ({reason:?}); next attempt in {} ms",
                self.provider_id,
                retry_in.as_millis()
            ),
            ProviderEvent::DeviceList(devices) => {
                log::info!(
                    "provider {}: the server lists {} devices",
                    self.provider_id,
                    devices.len()
                );
                self.store.save_devices(self.provider_id, devices);
            }
            ProviderEvent::LineRefused { line, error } => {
                log::warn!(
                    "provider {}: line {} refused: {error}",
                    self.provider_id,
                    line.index()
                )
            }
            ProviderEvent::Synchronised => {
                log::info!("provider {}: all lines synchronised", self.provider_id)
            }
        }
    }
}

// ------------------------------------------------------------------ provider

/// Loads an instance's configuration; a configuration that cannot be used gives an
/// instance with one out-of-service line named after the problem.
fn load_instance(store: &Arc<dyn Store>, provider_id: u32) -> Instance {
    let seed = u64::from(provider_id) ^ std::process::id() as u64 ^ tick_count() as u64;
    match store.load(provider_id) {
        Ok(config) => {
            crate::logging::init(config.log_level);
            crate::logging::set_redact(config.redact);
            let devices = store.devices(provider_id);
            log::info!(
                "provider {provider_id}: {} role, server {}:{}, {} lines",
                config.role.as_str(),
                config.server,
                config.port,
                if config.role == crate::config::Role::MultiLine {
                    devices.len()
                } else {
                    config.devices.len()
                }
            );
            Instance::new(config, &devices, seed)
        }
        Err(e) => {
            crate::logging::init(log::LevelFilter::Info);
            let problem = match &e {
                StoreError::Missing(_) => "not configured".to_owned(),
                StoreError::Unreadable(_) => "configuration unreadable".to_owned(),
                StoreError::Invalid(c) => format!("`{}` is wrong", c.name),
            };
            log::error!(
                "provider {provider_id}: {e} ({}); its line stays out of service. \
                 Configure it with `ucsta-tsp-setup config --provider-id {provider_id} ...`",
                store.location(provider_id)
            );
            Instance::from_provider(Provider::unconfigured(&problem))
        }
    }
}

/// `TSPI_lineNegotiateTSPIVersion`: 0x00010004 ..= 0x00020002.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_lineNegotiateTSPIVersion(
    dwDeviceID: u32,
    dwLowVersion: u32,
    dwHighVersion: u32,
    lpdwTSPIVersion: *mut u32,
) -> i32 {
    guard(|| {
        if dwDeviceID != tapi::INITIALIZE_NEGOTIATION {
            entry_by_device(dwDeviceID)?;
        }
        let version = dwHighVersion.min(tapi::TSPI_VERSION_MAX);
        if version < dwLowVersion.max(tapi::TSPI_VERSION_MIN) {
            return Err(LineError::IncompatibleApiVersion);
        }
        // SAFETY: TAPI passes a DWORD to write.
        unsafe { put(lpdwTSPIVersion, version)? };
        Ok(0)
    })
}

/// `TSPI_lineNegotiateExtVersion`: no extensions.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_lineNegotiateExtVersion(
    _dwDeviceID: u32,
    _dwTSPIVersion: u32,
    _dwLowVersion: u32,
    _dwHighVersion: u32,
    _lpdwExtVersion: *mut u32,
) -> i32 {
    LineError::OperationUnavail.result()
}

/// `TSPI_providerEnumDevices`: reads the instance's configuration and reports its
/// lines (for multi-line, the list stored last; the server's list follows with
/// `LINE_CREATE` / `LINE_REMOVE`).
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_providerEnumDevices(
    dwPermanentProviderID: u32,
    lpdwNumLines: *mut u32,
    lpdwNumPhones: *mut u32,
    hProvider: HPROVIDER,
    lpfnLineCreateProc: LINEEVENT,
    _lpfnPhoneCreateProc: PHONEEVENT,
) -> i32 {
    guard(|| {
        let store = default_store();
        let existing = entry_by_provider(dwPermanentProviderID);
        let entry = match existing {
            Some(e) => e,
            None => {
                let instance = load_instance(&store, dwPermanentProviderID);
                let mut all = entries();
                let slot = match all.iter().position(Option::is_none) {
                    Some(s) => s,
                    None => {
                        if all.len() >= 254 {
                            return Err(LineError::ResourceUnavail);
                        }
                        all.push(None);
                        all.len() - 1
                    }
                };
                let entry = Arc::new(Entry {
                    slot,
                    provider_id: dwPermanentProviderID,
                    instance,
                    sink: Arc::new(Sink {
                        slot,
                        provider_id: dwPermanentProviderID,
                        store,
                        events: Mutex::new(HashMap::new()),
                        create: Mutex::new((0, None)),
                        completion: Mutex::new(None),
                    }),
                    version: AtomicU32::new(tapi::TSPI_VERSION_MAX),
                    line_versions: Mutex::new(HashMap::new()),
                });
                all[slot] = Some(entry.clone());
                entry
            }
        };
        *entry
            .sink
            .create
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = (hProvider as usize, lpfnLineCreateProc);
        let lines = entry.instance.with(|p, _| p.line_count());
        // SAFETY: TAPI passes DWORDs to write.
        unsafe {
            put(lpdwNumLines, lines)?;
            put(lpdwNumPhones, 0)?;
        }
        Ok(0)
    })
}

/// `TSPI_providerInit`: device IDs from `dwLineDeviceIDBase`; the threads start and
/// the link opens.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_providerInit(
    dwTSPIVersion: u32,
    dwPermanentProviderID: u32,
    dwLineDeviceIDBase: u32,
    _dwPhoneDeviceIDBase: u32,
    _dwNumLines: usize,
    _dwNumPhones: usize,
    lpfnCompletionProc: ASYNC_COMPLETION,
    lpdwTSPIOptions: *mut u32,
) -> i32 {
    guard(|| {
        let entry = entry_by_provider(dwPermanentProviderID).ok_or(LineError::NoDriver)?;
        entry.version.store(dwTSPIVersion, Ordering::SeqCst);
        *entry
            .sink
            .completion
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = lpfnCompletionProc;
        if !lpdwTSPIOptions.is_null() {
            // SAFETY: TAPI passes a DWORD to write. Re-entrant: the provider locks.
            unsafe { put(lpdwTSPIOptions, 0)? };
        }
        entry.instance.start(dwLineDeviceIDBase, entry.sink.clone());
        Ok(0)
    })
}

/// `TSPI_providerShutdown`: the session ends, every thread of the instance is joined.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_providerShutdown(
    _dwTSPIVersion: u32,
    dwPermanentProviderID: u32,
) -> i32 {
    guard(|| {
        let Some(entry) = entry_by_provider(dwPermanentProviderID) else {
            return Ok(0);
        };
        entry.instance.shutdown();
        let mut all = entries();
        if let Some(slot) = all.get_mut(entry.slot) {
            *slot = None;
        }
        log::info!("provider {dwPermanentProviderID}: shut down");
        Ok(0)
    })
}

/// `TSPI_providerCreateLineDevice`: the device ID of a line announced with
/// `LINE_CREATE`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_providerCreateLineDevice(
    dwTempID: usize,
    dwDeviceID: u32,
) -> i32 {
    guard(|| {
        let all: Vec<Arc<Entry>> = entries().iter().flatten().cloned().collect();
        // Temporary IDs are line indexes, unique only per instance: the instance that
        // announced a line with this temporary ID and no device ID yet takes it.
        for entry in all {
            let temp = u32::try_from(dwTempID).map_err(|_| LineError::BadDeviceId)?;
            if entry
                .instance
                .with(|p, _| p.create_line_device(temp, dwDeviceID))
                .is_ok()
            {
                return Ok(0);
            }
        }
        Err(LineError::BadDeviceId)
    })
}

/// `TSPI_providerUIIdentify`: the provider is its own UI DLL.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_providerUIIdentify(lpszUIDLLName: PWSTR) -> i32 {
    guard(|| {
        if lpszUIDLLName.is_null() {
            return Err(LineError::InvalPointer);
        }
        let name = crate::setup::module_path().unwrap_or_else(|| "ucsta.tsp".to_owned());
        let wide: Vec<u16> = name.encode_utf16().take(259).chain([0]).collect();
        // SAFETY: TAPI passes a buffer of MAX_PATH (260) characters.
        unsafe { std::ptr::copy_nonoverlapping(wide.as_ptr(), lpszUIDLLName, wide.len()) };
        Ok(0)
    })
}

/// `TSPI_providerInstall` (TAPI 1.4; TAPI 2.x calls `TUISPI_providerInstall`).
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_providerInstall(
    _hwndOwner: HWND,
    dwPermanentProviderID: u32,
) -> i32 {
    guard(|| crate::setup::install(dwPermanentProviderID).map(|()| 0))
}

/// `TSPI_providerRemove` (TAPI 1.4).
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_providerRemove(
    _hwndOwner: HWND,
    dwPermanentProviderID: u32,
) -> i32 {
    guard(|| crate::setup::remove(dwPermanentProviderID).map(|()| 0))
}

/// `TSPI_providerConfig` (TAPI 1.4).
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_providerConfig(
    _hwndOwner: HWND,
    dwPermanentProviderID: u32,
) -> i32 {
    guard(|| crate::setup::configure(dwPermanentProviderID).map(|()| 0))
}

/// `TUISPI_providerInstall`: the configuration `ucsta-tsp-setup install` prepared
/// becomes this instance's.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TUISPI_providerInstall(
    _lpfnUIDLLCallback: TUISPIDLLCALLBACK,
    _hwndOwner: HWND,
    dwPermanentProviderID: u32,
) -> i32 {
    guard(|| crate::setup::install(dwPermanentProviderID).map(|()| 0))
}

/// `TUISPI_providerRemove`: the instance's configuration is deleted.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TUISPI_providerRemove(
    _lpfnUIDLLCallback: TUISPIDLLCALLBACK,
    _hwndOwner: HWND,
    dwPermanentProviderID: u32,
) -> i32 {
    guard(|| crate::setup::remove(dwPermanentProviderID).map(|()| 0))
}

/// `TUISPI_providerConfig`: the instance's settings open in Notepad and are stored
/// back when it closes.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TUISPI_providerConfig(
    _lpfnUIDLLCallback: TUISPIDLLCALLBACK,
    _hwndOwner: HWND,
    dwPermanentProviderID: u32,
) -> i32 {
    guard(|| crate::setup::configure(dwPermanentProviderID).map(|()| 0))
}

// ------------------------------------------------------------------ lines

fn version_of(entry: &Entry, line: LineId) -> u32 {
    entry
        .line_versions
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&(line.index() as u32))
        .copied()
        .unwrap_or_else(|| entry.version.load(Ordering::SeqCst))
}

/// `TSPI_lineGetDevCaps`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_lineGetDevCaps(
    dwDeviceID: u32,
    dwTSPIVersion: u32,
    _dwExtVersion: u32,
    lpLineDevCaps: *mut LINEDEVCAPS,
) -> i32 {
    guard(|| {
        let (entry, line) = entry_by_device(dwDeviceID)?;
        let caps = entry.instance.with(|p, _| p.dev_caps(line))?;
        // SAFETY: TAPI's structure of dwTotalSize bytes.
        let buf = unsafe { out_struct(lpLineDevCaps)? };
        structs::dev_caps(buf, dwTSPIVersion, &caps)?;
        Ok(0)
    })
}

/// `TSPI_lineGetAddressCaps`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_lineGetAddressCaps(
    dwDeviceID: u32,
    dwAddressID: u32,
    dwTSPIVersion: u32,
    _dwExtVersion: u32,
    lpAddressCaps: *mut LINEADDRESSCAPS,
) -> i32 {
    guard(|| {
        let (entry, line) = entry_by_device(dwDeviceID)?;
        let caps = entry
            .instance
            .with(|p, _| p.address_caps(line, dwAddressID))?;
        // SAFETY: TAPI's structure of dwTotalSize bytes.
        let buf = unsafe { out_struct(lpAddressCaps)? };
        structs::address_caps(buf, dwTSPIVersion, &caps)?;
        Ok(0)
    })
}

/// `TSPI_lineGetNumAddressIDs`: one address per line.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_lineGetNumAddressIDs(
    hdLine: HDRVLINE,
    lpdwNumAddressIDs: *mut u32,
) -> i32 {
    guard(|| {
        decode_line(hdLine)?;
        // SAFETY: TAPI passes a DWORD to write.
        unsafe { put(lpdwNumAddressIDs, 1)? };
        Ok(0)
    })
}

/// `TSPI_lineOpen`: ready at once; the line's existing calls are offered.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_lineOpen(
    dwDeviceID: u32,
    htLine: HTAPILINE,
    lphdLine: *mut HDRVLINE,
    dwTSPIVersion: u32,
    lpfnEventProc: LINEEVENT,
) -> i32 {
    guard(|| {
        if lphdLine.is_null() {
            return Err(LineError::InvalPointer);
        }
        let (entry, line) = entry_by_device(dwDeviceID)?;
        entry
            .sink
            .events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(line.index() as u32, lpfnEventProc);
        entry
            .line_versions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(line.index() as u32, dwTSPIVersion);
        let hd = line_handle(entry.slot, line);
        entry.instance.with(|p, _| -> Result<(), LineError> {
            p.open(line, htLine as usize)?;
            // SAFETY: checked non-null; written under the lock, before any event.
            unsafe { put(lphdLine, hd) }
        })?;
        Ok(0)
    })
}

/// `TSPI_lineClose`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_lineClose(hdLine: HDRVLINE) -> i32 {
    guard(|| {
        let (entry, line) = decode_line(hdLine)?;
        entry.instance.close_line(line);
        entry
            .sink
            .events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(line.index() as u32));
        Ok(0)
    })
}

/// `TSPI_lineSetStatusMessages`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_lineSetStatusMessages(
    hdLine: HDRVLINE,
    dwLineStates: u32,
    dwAddressStates: u32,
) -> i32 {
    guard(|| {
        let (entry, line) = decode_line(hdLine)?;
        entry
            .instance
            .with(|p, _| p.set_status_messages(line, dwLineStates, dwAddressStates))?;
        Ok(0)
    })
}

/// `TSPI_lineSetDefaultMediaDetection`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_lineSetDefaultMediaDetection(
    hdLine: HDRVLINE,
    dwMediaModes: u32,
) -> i32 {
    guard(|| {
        let (entry, line) = decode_line(hdLine)?;
        entry
            .instance
            .with(|p, _| p.set_default_media_detection(line, dwMediaModes))?;
        Ok(0)
    })
}

/// `TSPI_lineConditionalMediaDetection`: interactive voice only.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_lineConditionalMediaDetection(
    hdLine: HDRVLINE,
    dwMediaModes: u32,
    _lpCallParams: *const LINECALLPARAMS,
) -> i32 {
    guard(|| {
        decode_line(hdLine)?;
        if dwMediaModes & !(tapi::LINEMEDIAMODE_INTERACTIVEVOICE | tapi::LINEMEDIAMODE_UNKNOWN) != 0
        {
            return Err(LineError::InvalMediaMode);
        }
        Ok(0)
    })
}

/// `TSPI_lineGetLineDevStatus`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_lineGetLineDevStatus(
    hdLine: HDRVLINE,
    lpLineDevStatus: *mut LINEDEVSTATUS,
) -> i32 {
    guard(|| {
        let (entry, line) = decode_line(hdLine)?;
        let status = entry.instance.with(|p, _| p.line_dev_status(line))?;
        // SAFETY: TAPI's structure of dwTotalSize bytes.
        let buf = unsafe { out_struct(lpLineDevStatus)? };
        structs::line_dev_status(buf, version_of(&entry, line), &status)?;
        Ok(0)
    })
}

/// `TSPI_lineGetAddressStatus`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_lineGetAddressStatus(
    hdLine: HDRVLINE,
    dwAddressID: u32,
    lpAddressStatus: *mut LINEADDRESSSTATUS,
) -> i32 {
    guard(|| {
        let (entry, line) = decode_line(hdLine)?;
        let status = entry
            .instance
            .with(|p, _| p.address_status(line, dwAddressID))?;
        // SAFETY: TAPI's structure of dwTotalSize bytes.
        let buf = unsafe { out_struct(lpAddressStatus)? };
        structs::address_status(buf, &status)?;
        Ok(0)
    })
}

/// `TSPI_lineGetAddressID`: the line's one address, by its number.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_lineGetAddressID(
    hdLine: HDRVLINE,
    lpdwAddressID: *mut u32,
    dwAddressMode: u32,
    lpsAddress: PCWSTR,
    _dwSize: u32,
) -> i32 {
    guard(|| {
        let (entry, line) = decode_line(hdLine)?;
        if dwAddressMode != tapi::LINEADDRESSMODE_DIALABLEADDR {
            return Err(LineError::InvalParam);
        }
        // SAFETY: TAPI passes a NUL-terminated string or null.
        let address = unsafe { wstr(lpsAddress)? }.ok_or(LineError::InvalPointer)?;
        let device = entry
            .instance
            .with(|p, _| p.line_device(line).map(str::to_owned))
            .ok_or(LineError::InvalLineHandle)?;
        if !csta_core::model::view::same_device(&device, &address) {
            return Err(LineError::InvalAddress);
        }
        // SAFETY: TAPI passes a DWORD to write.
        unsafe { put(lpdwAddressID, 0)? };
        Ok(0)
    })
}

/// `TSPI_lineGetID`: `tapi/line` gives the line's device ID.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_lineGetID(
    hdLine: HDRVLINE,
    dwAddressID: u32,
    hdCall: HDRVCALL,
    dwSelect: u32,
    lpDeviceID: *mut VARSTRING,
    lpszDeviceClass: PCWSTR,
    _hTargetProcess: HANDLE,
) -> i32 {
    guard(|| {
        // SAFETY: TAPI passes a NUL-terminated string or null.
        let class = unsafe { wstr(lpszDeviceClass)? }.ok_or(LineError::InvalDeviceClass)?;
        if !class.eq_ignore_ascii_case("tapi/line") {
            return Err(LineError::InvalDeviceClass);
        }
        let (entry, line) = match dwSelect {
            tapi::LINECALLSELECT_LINE => decode_line(hdLine)?,
            tapi::LINECALLSELECT_ADDRESS => {
                if dwAddressID != 0 {
                    return Err(LineError::InvalAddressId);
                }
                decode_line(hdLine)?
            }
            tapi::LINECALLSELECT_CALL => {
                let (entry, call) = decode_call(hdCall)?;
                let line = entry
                    .instance
                    .with(|p, _| p.call_line(call))
                    .ok_or(LineError::InvalCallHandle)?;
                (entry, line)
            }
            _ => return Err(LineError::InvalParam),
        };
        let device_id = entry
            .instance
            .with(|p, _| {
                p.lines()
                    .find(|(l, _, _)| *l == line)
                    .and_then(|(_, _, id)| id)
            })
            .ok_or(LineError::InvalLineHandle)?;
        // SAFETY: TAPI's structure of dwTotalSize bytes.
        let buf = unsafe { out_struct(lpDeviceID)? };
        structs::var_dword(buf, device_id)?;
        Ok(0)
    })
}

// ------------------------------------------------------------------ calls

/// `TSPI_lineGetCallInfo`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_lineGetCallInfo(
    hdCall: HDRVCALL,
    lpCallInfo: *mut LINECALLINFO,
) -> i32 {
    guard(|| {
        let (entry, call) = decode_call(hdCall)?;
        let (info, line) = entry
            .instance
            .with(|p, _| p.call_info(call).map(|i| (i, p.call_line(call))))?;
        let version = line.map_or(entry.version.load(Ordering::SeqCst), |l| {
            version_of(&entry, l)
        });
        // SAFETY: TAPI's structure of dwTotalSize bytes.
        let buf = unsafe { out_struct(lpCallInfo)? };
        structs::call_info(buf, version, &info)?;
        Ok(0)
    })
}

/// `TSPI_lineGetCallStatus`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_lineGetCallStatus(
    hdCall: HDRVCALL,
    lpCallStatus: *mut LINECALLSTATUS,
) -> i32 {
    guard(|| {
        let (entry, call) = decode_call(hdCall)?;
        let (status, line) = entry
            .instance
            .with(|p, _| p.call_status(call).map(|s| (s, p.call_line(call))))?;
        let version = line.map_or(entry.version.load(Ordering::SeqCst), |l| {
            version_of(&entry, l)
        });
        // SAFETY: TAPI's structure of dwTotalSize bytes.
        let buf = unsafe { out_struct(lpCallStatus)? };
        structs::call_status(buf, version, &status, system_time())?;
        Ok(0)
    })
}

/// `TSPI_lineGetCallAddressID`: always address 0.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_lineGetCallAddressID(
    hdCall: HDRVCALL,
    lpdwAddressID: *mut u32,
) -> i32 {
    guard(|| {
        let (entry, call) = decode_call(hdCall)?;
        entry
            .instance
            .with(|p, _| p.call_line(call))
            .ok_or(LineError::InvalCallHandle)?;
        // SAFETY: TAPI passes a DWORD to write.
        unsafe { put(lpdwAddressID, 0)? };
        Ok(0)
    })
}

/// `TSPI_lineGetCallIDs`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_lineGetCallIDs(
    hdCall: HDRVCALL,
    lpdwAddressID: *mut u32,
    lpdwCallID: *mut u32,
    lpdwRelatedCallID: *mut u32,
) -> i32 {
    guard(|| {
        let (entry, call) = decode_call(hdCall)?;
        let info = entry.instance.with(|p, _| p.call_info(call))?;
        // SAFETY: TAPI passes DWORDs to write.
        unsafe {
            put(lpdwAddressID, 0)?;
            put(lpdwCallID, info.call_id)?;
            put(lpdwRelatedCallID, info.related_call_id)?;
        }
        Ok(0)
    })
}

/// `TSPI_lineCloseCall`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_lineCloseCall(hdCall: HDRVCALL) -> i32 {
    guard(|| {
        let (entry, call) = decode_call(hdCall)?;
        entry.instance.with(|p, _| p.close_call(call));
        Ok(0)
    })
}

/// `TSPI_lineSetAppSpecific`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_lineSetAppSpecific(hdCall: HDRVCALL, dwAppSpecific: u32) -> i32 {
    guard(|| {
        let (entry, call) = decode_call(hdCall)?;
        entry
            .instance
            .with(|p, _| p.set_app_specific(call, dwAppSpecific))?;
        Ok(0)
    })
}

/// `TSPI_lineSetMediaMode`: interactive voice is the only mode.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_lineSetMediaMode(hdCall: HDRVCALL, dwMediaMode: u32) -> i32 {
    guard(|| {
        let (entry, call) = decode_call(hdCall)?;
        entry
            .instance
            .with(|p, _| p.call_line(call))
            .ok_or(LineError::InvalCallHandle)?;
        if dwMediaMode & !(tapi::LINEMEDIAMODE_INTERACTIVEVOICE | tapi::LINEMEDIAMODE_UNKNOWN) != 0
        {
            return Err(LineError::InvalMediaMode);
        }
        Ok(0)
    })
}

/// The address ID a `LINECALLPARAMS` asks for must be 0.
///
/// # Safety
///
/// `params` is null or a `LINECALLPARAMS` of its `dwTotalSize`.
unsafe fn check_params(params: *const LINECALLPARAMS) -> Result<(), LineError> {
    if params.is_null() {
        return Ok(());
    }
    // SAFETY: see the contract; read unaligned, field by field.
    let p = unsafe { params.read_unaligned() };
    let total = p.dwTotalSize;
    if (total as usize) < std::mem::offset_of!(LINECALLPARAMS, DialParams) {
        return Err(LineError::InvalParam);
    }
    let mode = p.dwAddressMode;
    let id = p.dwAddressID;
    if mode == tapi::LINEADDRESSMODE_ADDRESSID && id != 0 {
        return Err(LineError::InvalAddressId);
    }
    let media = p.dwMediaMode;
    if media != 0 && media & tapi::LINEMEDIAMODE_INTERACTIVEVOICE == 0 {
        return Err(LineError::InvalMediaMode);
    }
    Ok(())
}

fn async_result(request_id: u32, r: Result<(), LineError>) -> Result<i32, LineError> {
    r.map(|()| request_id as i32)
}

/// `TSPI_lineMakeCall`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_lineMakeCall(
    dwRequestID: u32,
    hdLine: HDRVLINE,
    htCall: HTAPICALL,
    lphdCall: *mut HDRVCALL,
    lpszDestAddress: PCWSTR,
    _dwCountryCode: u32,
    lpCallParams: *const LINECALLPARAMS,
) -> i32 {
    guard(|| {
        let (entry, line) = decode_line(hdLine)?;
        if lphdCall.is_null() {
            return Err(LineError::InvalPointer);
        }
        // SAFETY: TAPI passes a NUL-terminated string or null, and call parameters or
        // null.
        let dest = unsafe { wstr(lpszDestAddress).map_err(|_| LineError::InvalAddress)? };
        // SAFETY: as above.
        unsafe { check_params(lpCallParams)? };
        let slot = entry.slot;
        entry.instance.with(|p, now| -> Result<(), LineError> {
            let call = p.make_call(now, dwRequestID, line, htCall as usize, dest.as_deref())?;
            // SAFETY: checked non-null; written under the lock, before any completion.
            unsafe { put(lphdCall, call_handle(slot, call)) }
        })?;
        Ok(dwRequestID as i32)
    })
}

/// `TSPI_lineDial`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_lineDial(
    dwRequestID: u32,
    hdCall: HDRVCALL,
    lpszDestAddress: PCWSTR,
    _dwCountryCode: u32,
) -> i32 {
    guard(|| {
        let (entry, call) = decode_call(hdCall)?;
        // SAFETY: TAPI passes a NUL-terminated string.
        let dest = unsafe { wstr(lpszDestAddress).map_err(|_| LineError::InvalAddress)? }
            .ok_or(LineError::InvalAddress)?;
        async_result(
            dwRequestID,
            entry
                .instance
                .with(|p, now| p.dial(now, dwRequestID, call, &dest)),
        )
    })
}

/// `TSPI_lineAnswer` (user-user information is not carried).
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_lineAnswer(
    dwRequestID: u32,
    hdCall: HDRVCALL,
    _lpsUserUserInfo: PCSTR,
    _dwSize: u32,
) -> i32 {
    guard(|| {
        let (entry, call) = decode_call(hdCall)?;
        async_result(
            dwRequestID,
            entry
                .instance
                .with(|p, now| p.answer(now, dwRequestID, call)),
        )
    })
}

/// `TSPI_lineDrop`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_lineDrop(
    dwRequestID: u32,
    hdCall: HDRVCALL,
    _lpsUserUserInfo: PCSTR,
    _dwSize: u32,
) -> i32 {
    guard(|| {
        let (entry, call) = decode_call(hdCall)?;
        async_result(
            dwRequestID,
            entry
                .instance
                .with(|p, now| p.drop_call(now, dwRequestID, call)),
        )
    })
}

/// `TSPI_lineHold`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_lineHold(dwRequestID: u32, hdCall: HDRVCALL) -> i32 {
    guard(|| {
        let (entry, call) = decode_call(hdCall)?;
        async_result(
            dwRequestID,
            entry.instance.with(|p, now| p.hold(now, dwRequestID, call)),
        )
    })
}

/// `TSPI_lineUnhold`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_lineUnhold(dwRequestID: u32, hdCall: HDRVCALL) -> i32 {
    guard(|| {
        let (entry, call) = decode_call(hdCall)?;
        async_result(
            dwRequestID,
            entry
                .instance
                .with(|p, now| p.unhold(now, dwRequestID, call)),
        )
    })
}

/// `TSPI_lineSwapHold`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_lineSwapHold(
    dwRequestID: u32,
    hdActiveCall: HDRVCALL,
    hdHeldCall: HDRVCALL,
) -> i32 {
    guard(|| {
        let (entry, active) = decode_call(hdActiveCall)?;
        let (other, held) =
            decode_call(hdHeldCall).map_err(|_| LineError::InvalConsultCallHandle)?;
        if other.slot != entry.slot {
            return Err(LineError::InvalConsultCallHandle);
        }
        async_result(
            dwRequestID,
            entry
                .instance
                .with(|p, now| p.swap_hold(now, dwRequestID, active, held)),
        )
    })
}

/// `TSPI_lineBlindTransfer`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_lineBlindTransfer(
    dwRequestID: u32,
    hdCall: HDRVCALL,
    lpszDestAddress: PCWSTR,
    _dwCountryCode: u32,
) -> i32 {
    guard(|| {
        let (entry, call) = decode_call(hdCall)?;
        // SAFETY: TAPI passes a NUL-terminated string.
        let dest = unsafe { wstr(lpszDestAddress).map_err(|_| LineError::InvalAddress)? }
            .ok_or(LineError::InvalAddress)?;
        async_result(
            dwRequestID,
            entry
                .instance
                .with(|p, now| p.blind_transfer(now, dwRequestID, call, &dest)),
        )
    })
}

/// `TSPI_lineRedirect`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_lineRedirect(
    dwRequestID: u32,
    hdCall: HDRVCALL,
    lpszDestAddress: PCWSTR,
    _dwCountryCode: u32,
) -> i32 {
    guard(|| {
        let (entry, call) = decode_call(hdCall)?;
        // SAFETY: TAPI passes a NUL-terminated string.
        let dest = unsafe { wstr(lpszDestAddress).map_err(|_| LineError::InvalAddress)? }
            .ok_or(LineError::InvalAddress)?;
        async_result(
            dwRequestID,
            entry
                .instance
                .with(|p, now| p.redirect(now, dwRequestID, call, &dest)),
        )
    })
}

/// `TSPI_lineSetupTransfer`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_lineSetupTransfer(
    dwRequestID: u32,
    hdCall: HDRVCALL,
    htConsultCall: HTAPICALL,
    lphdConsultCall: *mut HDRVCALL,
    lpCallParams: *const LINECALLPARAMS,
) -> i32 {
    guard(|| {
        let (entry, call) = decode_call(hdCall)?;
        if lphdConsultCall.is_null() {
            return Err(LineError::InvalPointer);
        }
        // SAFETY: call parameters or null.
        unsafe { check_params(lpCallParams)? };
        let slot = entry.slot;
        entry.instance.with(|p, now| -> Result<(), LineError> {
            let consult = p.setup_transfer(now, dwRequestID, call, htConsultCall as usize)?;
            // SAFETY: checked non-null; written under the lock.
            unsafe { put(lphdConsultCall, call_handle(slot, consult)) }
        })?;
        Ok(dwRequestID as i32)
    })
}

/// `TSPI_lineCompleteTransfer`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_lineCompleteTransfer(
    dwRequestID: u32,
    hdCall: HDRVCALL,
    hdConsultCall: HDRVCALL,
    htConfCall: HTAPICALL,
    lphdConfCall: *mut HDRVCALL,
    dwTransferMode: u32,
) -> i32 {
    guard(|| {
        let (entry, call) = decode_call(hdCall)?;
        let (other, consult) =
            decode_call(hdConsultCall).map_err(|_| LineError::InvalConsultCallHandle)?;
        if other.slot != entry.slot {
            return Err(LineError::InvalConsultCallHandle);
        }
        if dwTransferMode == tapi::LINETRANSFERMODE_CONFERENCE && lphdConfCall.is_null() {
            return Err(LineError::InvalPointer);
        }
        let slot = entry.slot;
        entry.instance.with(|p, now| -> Result<(), LineError> {
            let conf = p.complete_transfer(
                now,
                dwRequestID,
                call,
                consult,
                htConfCall as usize,
                dwTransferMode,
            )?;
            if let Some(conf) = conf {
                // SAFETY: checked non-null for conference mode; written under the lock.
                unsafe { put(lphdConfCall, call_handle(slot, conf))? };
            }
            Ok(())
        })?;
        Ok(dwRequestID as i32)
    })
}

/// `TSPI_lineSetupConference` (from an existing call only).
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_lineSetupConference(
    dwRequestID: u32,
    hdCall: HDRVCALL,
    _hdLine: HDRVLINE,
    htConfCall: HTAPICALL,
    lphdConfCall: *mut HDRVCALL,
    htConsultCall: HTAPICALL,
    lphdConsultCall: *mut HDRVCALL,
    dwNumParties: u32,
    lpCallParams: *const LINECALLPARAMS,
) -> i32 {
    guard(|| {
        let (entry, call) = decode_call(hdCall)?;
        if lphdConfCall.is_null() || lphdConsultCall.is_null() {
            return Err(LineError::InvalPointer);
        }
        // SAFETY: call parameters or null.
        unsafe { check_params(lpCallParams)? };
        let slot = entry.slot;
        entry.instance.with(|p, now| -> Result<(), LineError> {
            let (conf, consult) = p.setup_conference(
                now,
                dwRequestID,
                call,
                htConfCall as usize,
                htConsultCall as usize,
                dwNumParties,
            )?;
            // SAFETY: checked non-null; written under the lock.
            unsafe {
                put(lphdConfCall, call_handle(slot, conf))?;
                put(lphdConsultCall, call_handle(slot, consult))
            }
        })?;
        Ok(dwRequestID as i32)
    })
}

/// `TSPI_linePrepareAddToConference`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_linePrepareAddToConference(
    dwRequestID: u32,
    hdConfCall: HDRVCALL,
    htConsultCall: HTAPICALL,
    lphdConsultCall: *mut HDRVCALL,
    lpCallParams: *const LINECALLPARAMS,
) -> i32 {
    guard(|| {
        let (entry, conf) = decode_call(hdConfCall).map_err(|_| LineError::InvalConfCallHandle)?;
        if lphdConsultCall.is_null() {
            return Err(LineError::InvalPointer);
        }
        // SAFETY: call parameters or null.
        unsafe { check_params(lpCallParams)? };
        let slot = entry.slot;
        entry.instance.with(|p, now| -> Result<(), LineError> {
            let consult =
                p.prepare_add_to_conference(now, dwRequestID, conf, htConsultCall as usize)?;
            // SAFETY: checked non-null; written under the lock.
            unsafe { put(lphdConsultCall, call_handle(slot, consult)) }
        })?;
        Ok(dwRequestID as i32)
    })
}

/// `TSPI_lineAddToConference`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_lineAddToConference(
    dwRequestID: u32,
    hdConfCall: HDRVCALL,
    hdConsultCall: HDRVCALL,
) -> i32 {
    guard(|| {
        let (entry, conf) = decode_call(hdConfCall).map_err(|_| LineError::InvalConfCallHandle)?;
        let (other, consult) =
            decode_call(hdConsultCall).map_err(|_| LineError::InvalConsultCallHandle)?;
        if other.slot != entry.slot {
            return Err(LineError::InvalConsultCallHandle);
        }
        async_result(
            dwRequestID,
            entry
                .instance
                .with(|p, now| p.add_to_conference(now, dwRequestID, conf, consult)),
        )
    })
}

/// `TSPI_lineRemoveFromConference`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_lineRemoveFromConference(
    dwRequestID: u32,
    hdCall: HDRVCALL,
) -> i32 {
    guard(|| {
        let (entry, call) = decode_call(hdCall)?;
        async_result(
            dwRequestID,
            entry
                .instance
                .with(|p, now| p.remove_from_conference(now, dwRequestID, call)),
        )
    })
}

/// `TSPI_linePickup`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_linePickup(
    dwRequestID: u32,
    hdLine: HDRVLINE,
    dwAddressID: u32,
    htCall: HTAPICALL,
    lphdCall: *mut HDRVCALL,
    lpszDestAddress: PCWSTR,
    lpszGroupID: PCWSTR,
) -> i32 {
    guard(|| {
        let (entry, line) = decode_line(hdLine)?;
        if dwAddressID != 0 {
            return Err(LineError::InvalAddressId);
        }
        if lphdCall.is_null() {
            return Err(LineError::InvalPointer);
        }
        // SAFETY: TAPI passes NUL-terminated strings or null.
        let dest = unsafe { wstr(lpszDestAddress).map_err(|_| LineError::InvalAddress)? };
        // SAFETY: as above.
        let group = unsafe { wstr(lpszGroupID).map_err(|_| LineError::InvalGroupId)? };
        let slot = entry.slot;
        entry.instance.with(|p, now| -> Result<(), LineError> {
            let call = p.pickup(
                now,
                dwRequestID,
                line,
                htCall as usize,
                dest.as_deref(),
                group.as_deref(),
            )?;
            // SAFETY: checked non-null; written under the lock.
            unsafe { put(lphdCall, call_handle(slot, call)) }
        })?;
        Ok(dwRequestID as i32)
    })
}

/// Reads a `LINEFORWARDLIST` within its `dwTotalSize`.
///
/// # Safety
///
/// `list` is null or a `LINEFORWARDLIST` of its `dwTotalSize` bytes.
unsafe fn forward_list(
    list: *const LINEFORWARDLIST,
) -> Result<Option<Vec<ForwardEntry>>, LineError> {
    if list.is_null() {
        return Ok(None);
    }
    // SAFETY: the list starts with its dwTotalSize.
    let total = unsafe { list.cast::<u32>().read_unaligned() } as usize;
    if !(8..=1 << 20).contains(&total) {
        return Err(LineError::InvalParam);
    }
    // SAFETY: TAPI owns `total` bytes at `list`.
    let buf = unsafe { std::slice::from_raw_parts(list.cast::<u8>(), total) };
    let count = structs::read_u32(buf, 4).ok_or(LineError::InvalParam)? as usize;
    let size = std::mem::size_of::<LINEFORWARD>();
    let mut out = Vec::with_capacity(count.min(64));
    for i in 0..count {
        let at = 8 + i * size;
        let field = |n: usize| structs::read_u32(buf, at + n * 4).ok_or(LineError::InvalParam);
        let mode = field(0)?;
        let caller =
            structs::read_string(buf, field(1)?, field(2)?).ok_or(LineError::InvalParam)?;
        let dest = structs::read_string(buf, field(4)?, field(5)?).ok_or(LineError::InvalParam)?;
        out.push(ForwardEntry {
            mode,
            caller: Some(caller).filter(|c| !c.is_empty()),
            dest: Some(dest).filter(|d| !d.is_empty()),
        });
    }
    Ok(Some(out))
}

/// `TSPI_lineForward`: no consultation call is needed (`*lphdConsultCall` = NULL).
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_lineForward(
    dwRequestID: u32,
    hdLine: HDRVLINE,
    bAllAddresses: u32,
    dwAddressID: u32,
    lpForwardList: *const LINEFORWARDLIST,
    dwNumRingsNoAnswer: u32,
    _htConsultCall: HTAPICALL,
    lphdConsultCall: *mut HDRVCALL,
    _lpCallParams: *const LINECALLPARAMS,
) -> i32 {
    guard(|| {
        let (entry, line) = decode_line(hdLine)?;
        // SAFETY: a forward list of its dwTotalSize, or null.
        let list = unsafe { forward_list(lpForwardList)? };
        if !lphdConsultCall.is_null() {
            // SAFETY: TAPI passes a handle to write.
            unsafe { put(lphdConsultCall, null_mut())? };
        }
        let address = (bAllAddresses == 0).then_some(dwAddressID);
        async_result(
            dwRequestID,
            entry.instance.with(|p, now| {
                p.forward(
                    now,
                    dwRequestID,
                    line,
                    address,
                    list.as_deref(),
                    dwNumRingsNoAnswer,
                )
            }),
        )
    })
}

/// `TSPI_lineGenerateDigits`: synchronous; `LINE_GENERATE` reports the end.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn TSPI_lineGenerateDigits(
    hdCall: HDRVCALL,
    dwEndToEndID: u32,
    dwDigitMode: u32,
    lpszDigits: PCWSTR,
    _dwDuration: u32,
) -> i32 {
    guard(|| {
        let (entry, call) = decode_call(hdCall)?;
        // SAFETY: TAPI passes a NUL-terminated string or null (cancel).
        let digits = unsafe { wstr(lpszDigits).map_err(|_| LineError::InvalDigits)? };
        entry.instance.with(|p, now| {
            p.generate_digits(now, call, dwEndToEndID, dwDigitMode, digits.as_deref())
        })?;
        Ok(0)
    })
}

/// The functions the Telephony service needs from this provider; the DLL's export
/// table is checked against it.
pub const EXPORTS: &[&str] = &[
    "TSPI_lineNegotiateTSPIVersion",
    "TSPI_lineNegotiateExtVersion",
    "TSPI_providerEnumDevices",
    "TSPI_providerInit",
    "TSPI_providerShutdown",
    "TSPI_providerCreateLineDevice",
    "TSPI_providerUIIdentify",
    "TSPI_providerInstall",
    "TSPI_providerRemove",
    "TSPI_providerConfig",
    "TUISPI_providerInstall",
    "TUISPI_providerRemove",
    "TUISPI_providerConfig",
    "TSPI_lineGetDevCaps",
    "TSPI_lineGetAddressCaps",
    "TSPI_lineGetNumAddressIDs",
    "TSPI_lineOpen",
    "TSPI_lineClose",
    "TSPI_lineSetStatusMessages",
    "TSPI_lineSetDefaultMediaDetection",
    "TSPI_lineConditionalMediaDetection",
    "TSPI_lineGetLineDevStatus",
    "TSPI_lineGetAddressStatus",
    "TSPI_lineGetAddressID",
    "TSPI_lineGetID",
    "TSPI_lineGetCallInfo",
    "TSPI_lineGetCallStatus",
    "TSPI_lineGetCallAddressID",
    "TSPI_lineGetCallIDs",
    "TSPI_lineCloseCall",
    "TSPI_lineSetAppSpecific",
    "TSPI_lineSetMediaMode",
    "TSPI_lineMakeCall",
    "TSPI_lineDial",
    "TSPI_lineAnswer",
    "TSPI_lineDrop",
    "TSPI_lineHold",
    "TSPI_lineUnhold",
    "TSPI_lineSwapHold",
    "TSPI_lineBlindTransfer",
    "TSPI_lineRedirect",
    "TSPI_lineSetupTransfer",
    "TSPI_lineCompleteTransfer",
    "TSPI_lineSetupConference",
    "TSPI_linePrepareAddToConference",
    "TSPI_lineAddToConference",
    "TSPI_lineRemoveFromConference",
    "TSPI_linePickup",
    "TSPI_lineForward",
    "TSPI_lineGenerateDigits",
];
