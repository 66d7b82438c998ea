//! The callbacks the host hands the provider, as TAPISRV does: `ASYNC_COMPLETION`
//! (`TSPI_providerInit`), `LINEEVENT` for `LINE_CREATE`/`LINE_REMOVE`
//! (`TSPI_providerEnumDevices`) and the `LINEEVENT` of each open line
//! (`TSPI_lineOpen`), and a `PHONEEVENT` that expects nothing.
//!
//! The callbacks carry no context pointer (TAPI's own design), so what they receive
//! goes to one process-wide inbox; the host's thread takes it from there. A callback
//! only records: it takes the inbox lock for a push and never calls back into the
//! provider. The one thing done inside is what TAPI must do synchronously: for
//! `LINE_NEWCALL`, writing a fresh `HTAPICALL` through `dwParam2`.
//!
//! The callbacks also check two rules of the TSPI contract that only they can see:
//! no callback while another one is running, and none after
//! `TSPI_providerShutdown` returned (a [`Raw::Violation`] is recorded).
#![allow(unsafe_code)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use ucsta_tsp::tapi::{HTAPICALL, HTAPILINE, HTAPIPHONE};

/// What a callback received, stamped with its time and its order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Milliseconds since [`start_clock`].
    pub t: u64,
    /// The order of arrival (from 1).
    pub seq: u64,
    /// What it was.
    pub raw: Raw,
}

/// A callback's parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Raw {
    /// A line's `LINEEVENT(htLine, htCall, dwMsg, p1, p2, p3)`. For `LINE_NEWCALL`,
    /// `new_call` is the `HTAPICALL` written through `p2` (`None` when `p2` was null).
    Line {
        /// `htLine`.
        ht_line: usize,
        /// `htCall`.
        ht_call: usize,
        /// `dwMsg`.
        msg: u32,
        /// `dwParam1..3`.
        params: [usize; 3],
        /// The handle given to a `LINE_NEWCALL`.
        new_call: Option<usize>,
    },
    /// The `LINEEVENT` of `TSPI_providerEnumDevices` (`LINE_CREATE`, `LINE_REMOVE`).
    Provider {
        /// `htLine` (must be null).
        ht_line: usize,
        /// `dwMsg`.
        msg: u32,
        /// `dwParam1..3`.
        params: [usize; 3],
    },
    /// A `PHONEEVENT` (the provider has no phones: never expected).
    Phone {
        /// `dwMsg`.
        msg: u32,
    },
    /// `ASYNC_COMPLETION(dwRequestID, lResult)`.
    Completion {
        /// `dwRequestID`.
        request_id: u32,
        /// `lResult`.
        result: i32,
    },
    /// A rule of the contract broken where only a callback can see it.
    Violation(&'static str),
}

struct Inbox {
    queue: Mutex<VecDeque<Record>>,
    ready: Condvar,
}

static INBOX: Inbox = Inbox {
    queue: Mutex::new(VecDeque::new()),
    ready: Condvar::new(),
};
static CLOCK: OnceLock<Instant> = OnceLock::new();
static SEQ: AtomicU64 = AtomicU64::new(0);
static NEXT_HT_CALL: AtomicUsize = AtomicUsize::new(1);
static IN_CALLBACK: AtomicUsize = AtomicUsize::new(0);
static SHUT_DOWN: AtomicBool = AtomicBool::new(false);

/// Starts the clock of the `t` stamps (the first call wins).
pub fn start_clock() {
    let _ = CLOCK.get_or_init(Instant::now);
}

/// Milliseconds since [`start_clock`].
pub fn now_ms() -> u64 {
    CLOCK.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// The sequence number the next record will have, minus one: records after this
/// moment have a greater `seq`.
pub fn seq_now() -> u64 {
    SEQ.load(Ordering::SeqCst)
}

/// A fresh `HTAPICALL` (1, 2, 3, ...), for `LINE_NEWCALL` and for the calls the host
/// creates itself.
pub fn next_call_handle() -> usize {
    NEXT_HT_CALL.fetch_add(1, Ordering::SeqCst)
}

/// Tells the callbacks that `TSPI_providerShutdown` returned (or not any more).
pub fn set_shut_down(done: bool) {
    SHUT_DOWN.store(done, Ordering::SeqCst);
}

fn push(raw: Raw) {
    let record = Record {
        t: now_ms(),
        seq: SEQ.fetch_add(1, Ordering::SeqCst) + 1,
        raw,
    };
    INBOX
        .queue
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push_back(record);
    INBOX.ready.notify_all();
}

/// Takes what the callbacks recorded; waits up to `wait` for the first record when
/// there is none yet.
pub fn take(wait: Duration) -> Vec<Record> {
    let mut queue = INBOX.queue.lock().unwrap_or_else(PoisonError::into_inner);
    if queue.is_empty() && !wait.is_zero() {
        queue = INBOX
            .ready
            .wait_timeout(queue, wait)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
    queue.drain(..).collect()
}

/// Marks a callback running for its lifetime; records the rule violations.
struct Entered;

impl Entered {
    fn new() -> Entered {
        if IN_CALLBACK.fetch_add(1, Ordering::SeqCst) > 0 {
            push(Raw::Violation(
                "a callback was entered while another was running",
            ));
        }
        if SHUT_DOWN.load(Ordering::SeqCst) {
            push(Raw::Violation(
                "a callback came after TSPI_providerShutdown returned",
            ));
        }
        Entered
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        IN_CALLBACK.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The `LINEEVENT` of every open line.
///
/// # Safety
///
/// For `LINE_NEWCALL`, `dwParam2` is null or points to a writable `HTAPICALL` (the
/// TSPI contract); nothing else is dereferenced.
pub unsafe extern "system" fn line_event(
    ht_line: HTAPILINE,
    ht_call: HTAPICALL,
    msg: u32,
    p1: usize,
    p2: usize,
    p3: usize,
) {
    let _entered = Entered::new();
    let mut new_call = None;
    if msg == ucsta_tsp::tapi::LINE_NEWCALL && p2 != 0 {
        let ht = next_call_handle();
        // SAFETY: the provider passes where TAPI writes its handle of the new call
        // (see the function's contract); written unaligned, as TAPI would not assume
        // more.
        unsafe { (p2 as *mut HTAPICALL).write_unaligned(ht as HTAPICALL) };
        new_call = Some(ht);
    }
    push(Raw::Line {
        ht_line: ht_line as usize,
        ht_call: ht_call as usize,
        msg,
        params: [p1, p2, p3],
        new_call,
    });
}

/// The `LINEEVENT` given to `TSPI_providerEnumDevices` (`LINE_CREATE`,
/// `LINE_REMOVE`).
///
/// # Safety
///
/// None: nothing is dereferenced.
pub unsafe extern "system" fn provider_event(
    ht_line: HTAPILINE,
    _ht_call: HTAPICALL,
    msg: u32,
    p1: usize,
    p2: usize,
    p3: usize,
) {
    let _entered = Entered::new();
    push(Raw::Provider {
        ht_line: ht_line as usize,
        msg,
        params: [p1, p2, p3],
    });
}

/// The `PHONEEVENT` given to `TSPI_providerEnumDevices`.
///
/// # Safety
///
/// None: nothing is dereferenced.
pub unsafe extern "system" fn phone_event(
    _ht_phone: HTAPIPHONE,
    msg: u32,
    _p1: usize,
    _p2: usize,
    _p3: usize,
) {
    let _entered = Entered::new();
    push(Raw::Phone { msg });
}

/// The `ASYNC_COMPLETION` given to `TSPI_providerInit`.
///
/// # Safety
///
/// None: nothing is dereferenced.
pub unsafe extern "system" fn completion(request_id: u32, result: i32) {
    let _entered = Entered::new();
    push(Raw::Completion { request_id, result });
}
