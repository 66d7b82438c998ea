//! The provider's threads: the std driver of a [`Provider`].
//!
//! An [`Instance`] runs one provider instance with four threads:
//!
//! - **control**: waits for the provider's next timeout and its link commands; opens
//!   the link (TCP, TLS) when told, and starts a reader and a writer for it;
//! - **reader**: reads the link, splits the ECMA-323 Annex J.2 frames and hands each to
//!   the provider;
//! - **writer**: writes the frames the provider produced;
//! - **delivery**: hands the provider's TAPI messages and completions to TAPI, one at a
//!   time, with no lock held (TAPI may call back into the provider from its callback).
//!
//! Every input to the provider (a TSPI call through [`Instance::with`], a frame, a
//! timeout) is followed by draining its outputs. [`Instance::shutdown`] stops the
//! session and joins every thread, so the DLL can be unloaded right after.

mod net;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use csta_core::framing::{self, FrameReader};

use crate::config::ProviderConfig;
use crate::provider::{CallHandle, LineId, LinkCommand, Provider, ProviderEvent, TapiOutput};

pub use net::ConnectError;
use net::Link;

/// The largest CSTA frame accepted from the server.
const MAX_FRAME: usize = framing::MAX_FRAME_LEN;

/// How the driver reaches TAPI. Called from the delivery thread only, one call at a
/// time, with no lock held.
pub trait TapiSink: Send + Sync {
    /// `LINEEVENT(ht_line, ht_call, msg, p1, p2, p3)` on the line's event callback.
    fn line_event(
        &self,
        line: LineId,
        ht_line: usize,
        ht_call: usize,
        msg: u32,
        params: [usize; 3],
    );
    /// `LINE_NEWCALL` on the line's event callback; returns the `HTAPICALL` TAPI wrote
    /// (0: TAPI does not want the call).
    fn new_call(&self, line: LineId, ht_line: usize, call: CallHandle) -> usize;
    /// `LINE_CREATE` on the provider's create callback.
    fn create_line(&self, temp_id: u32);
    /// `LINE_REMOVE` on the provider's create callback.
    fn remove_line(&self, device_id: u32);
    /// `ASYNC_COMPLETION`.
    fn completion(&self, request_id: u32, result: i32);
    /// A report about the provider (log it; store a multi-line device list).
    fn provider_event(&self, event: &ProviderEvent);
}

/// Everything the threads share.
struct Shared {
    state: Mutex<State>,
    /// Wakes the control thread (new timeout, link command, stop).
    control: Condvar,
    /// Wakes the delivery thread.
    delivery: Condvar,
    /// Signalled when the delivery thread leaves a callback.
    delivered: Condvar,
    stop: AtomicBool,
}

struct State {
    provider: Provider,
    /// Link commands for the control thread.
    commands: VecDeque<LinkCommand>,
    /// The open link's writer queue and the link itself, with its generation.
    link: Option<(u64, Link, Sender<Vec<u8>>)>,
    generation: u64,
    /// Provider events for the delivery thread.
    events: VecDeque<ProviderEvent>,
    /// The line whose callback the delivery thread is in, if any.
    delivering: Option<LineId>,
    /// The delivery thread (a TAPI callback that calls back in must not wait for
    /// itself).
    delivery_thread: Option<thread::ThreadId>,
}

impl State {
    /// Moves the provider's outputs to where they go.
    fn drain(&mut self) {
        while let Some(t) = self.provider.poll_transmit() {
            if let Some((_, _, tx)) = &self.link {
                let mut frame = vec![0; framing::HEADER_LEN + t.body.len()];
                match framing::encode(t.invoke_id, &t.body, &mut frame) {
                    Ok(n) => {
                        frame.truncate(n);
                        let _ = tx.send(frame);
                    }
                    Err(e) => log::warn!("a CSTA message cannot be framed: {e}"),
                }
            }
        }
        while let Some(c) = self.provider.poll_link() {
            self.commands.push_back(c);
        }
        while let Some(e) = self.provider.poll_event() {
            self.events.push_back(e);
        }
    }
}

/// One running provider instance.
pub struct Instance {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    sink: Mutex<Option<Arc<dyn TapiSink>>>,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic on another thread is caught at the export; the state stays usable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Instance {
    /// An instance for `config` with these lines (see [`Provider::new`]); no threads
    /// yet.
    pub fn new(config: ProviderConfig, devices: &[String], seed: u64) -> Instance {
        Instance {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    provider: Provider::new(config, devices, seed),
                    commands: VecDeque::new(),
                    link: None,
                    generation: 0,
                    events: VecDeque::new(),
                    delivering: None,
                    delivery_thread: None,
                }),
                control: Condvar::new(),
                delivery: Condvar::new(),
                delivered: Condvar::new(),
                stop: AtomicBool::new(false),
            }),
            threads: Mutex::new(Vec::new()),
            sink: Mutex::new(None),
        }
    }

    /// An instance around an existing provider (an unconfigured one, for example).
    pub fn from_provider(provider: Provider) -> Instance {
        let instance = Instance::new(
            crate::config::ProviderConfig::new(crate::config::Role::Client, "", "", ""),
            &[],
            0,
        );
        lock(&instance.shared.state).provider = provider;
        instance
    }

    /// `TSPI_lineClose`: closes the line in the provider and waits until the delivery
    /// thread is out of any callback for it, so TAPI hears nothing more about it.
    pub fn close_line(&self, line: LineId) {
        let mut state = lock(&self.shared.state);
        state.provider.close(line);
        state.drain();
        let me = thread::current().id();
        while state.delivering == Some(line) && state.delivery_thread != Some(me) {
            state = self
                .shared
                .delivered
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Runs `f` on the provider, then hands its outputs on. This is how every TSPI
    /// function reaches the provider.
    pub fn with<R>(&self, f: impl FnOnce(&mut Provider, Instant) -> R) -> R {
        let mut state = lock(&self.shared.state);
        let r = f(&mut state.provider, Instant::now());
        state.drain();
        drop(state);
        self.shared.control.notify_all();
        self.shared.delivery.notify_all();
        r
    }

    /// `TSPI_providerInit`: device IDs from `device_id_base`, then the threads start
    /// and the link opens.
    pub fn start(&self, device_id_base: u32, sink: Arc<dyn TapiSink>) {
        self.shared.stop.store(false, Ordering::SeqCst);
        *lock(&self.sink) = Some(sink.clone());
        // FIX (tapi-host report): the first connection attempt is due at once; start
        // it before TSPI_providerInit returns, so that a lineMakeCall right after
        // lineOpen (Outlook) finds the session coming up. Left to the control thread,
        // a request made before that thread first ran got LINEERR_INVALLINESTATE.
        self.with(|p, now| {
            p.init(now, device_id_base);
            p.handle_timeout(now);
        });
        let mut threads = lock(&self.threads);
        let shared = self.shared.clone();
        threads.push(spawn("ucsta-control", move || control(shared)));
        let shared = self.shared.clone();
        threads.push(spawn("ucsta-delivery", move || delivery(shared, sink)));
    }

    /// `TSPI_providerShutdown`: the session is stopped, the link closed, every thread
    /// joined. Messages still queued for TAPI are delivered first.
    pub fn shutdown(&self) {
        {
            // In one go under the lock, before the control thread can act on the
            // provider's Close: the StopApplicationSession goes to the writer, then the
            // writer's queue is closed, so it writes it and closes the link.
            let mut state = lock(&self.shared.state);
            state.provider.shutdown(Instant::now());
            state.drain();
            state.commands.clear();
            state.link = None;
        }
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.control.notify_all();
        self.shared.delivery.notify_all();
        let threads: Vec<JoinHandle<()>> = lock(&self.threads).drain(..).collect();
        for t in threads {
            let _ = t.join();
        }
        *lock(&self.sink) = None;
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> JoinHandle<()> {
    thread::Builder::new()
        .name(name.to_owned())
        .spawn(f)
        .expect("the provider cannot run without its threads")
}

/// The control thread: timers and link commands.
fn control(shared: Arc<Shared>) {
    let mut links: Vec<JoinHandle<()>> = Vec::new();
    let mut state = lock(&shared.state);
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        if let Some(command) = state.commands.pop_front() {
            match command {
                LinkCommand::Connect => {
                    let config = state.provider.config().clone();
                    drop(state);
                    let result = Link::connect(&config);
                    state = lock(&shared.state);
                    match result {
                        Ok(link) if !shared.stop.load(Ordering::SeqCst) => {
                            state.generation += 1;
                            let generation = state.generation;
                            let (tx, rx) = mpsc::channel();
                            state.link = Some((generation, link.clone(), tx));
                            state.provider.handle_link_up(Instant::now());
                            state.drain();
                            let s = shared.clone();
                            let l = link.clone();
                            links.push(spawn("ucsta-reader", move || reader(s, l, generation)));
                            links.push(spawn("ucsta-writer", move || writer(link, rx)));
                        }
                        Ok(link) => link.close(),
                        Err(e) => {
                            log::warn!(
                                "cannot reach the CSTA server {}:{}: {e}",
                                config.server,
                                config.port
                            );
                            state.provider.handle_link_down(Instant::now());
                            state.drain();
                        }
                    }
                    shared.delivery.notify_all();
                }
                LinkCommand::Close => {
                    if let Some((_, link, _)) = state.link.take() {
                        link.close();
                    }
                }
            }
            continue;
        }
        let now = Instant::now();
        match state.provider.poll_timeout() {
            Some(at) if at <= now => {
                state.provider.handle_timeout(now);
                state.drain();
                shared.delivery.notify_all();
            }
            Some(at) => {
                state = shared
                    .control
                    .wait_timeout(state, at - now)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            None => {
                state = shared
                    .control
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }
        links.retain(|t| !t.is_finished());
    }
    if let Some((_, link, _)) = state.link.take() {
        link.close();
    }
    drop(state);
    for t in links {
        let _ = t.join();
    }
}

/// The reader: frames from the server into the provider.
fn reader(shared: Arc<Shared>, link: Link, generation: u64) {
    let mut frames = FrameReader::new(vec![0u8; MAX_FRAME], MAX_FRAME);
    loop {
        let spare = frames.spare();
        let n = match link.read(spare) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        frames.commit(n);
        loop {
            let frame = match frames.next_frame() {
                Ok(Some(f)) => (f.invoke_id, f.body.to_vec()),
                Ok(None) => break,
                Err(e) => {
                    log::warn!("the server sent a broken CSTA frame: {e}");
                    link.close();
                    break;
                }
            };
            let mut state = lock(&shared.state);
            if state.link.as_ref().map(|(g, _, _)| *g) != Some(generation) {
                return;
            }
            state
                .provider
                .handle_frame(Instant::now(), frame.0, &frame.1);
            state.drain();
            drop(state);
            shared.delivery.notify_all();
            shared.control.notify_all();
        }
    }
    let mut state = lock(&shared.state);
    if state.link.as_ref().map(|(g, _, _)| *g) == Some(generation) {
        state.link = None;
        state.provider.handle_link_down(Instant::now());
        state.drain();
    }
    drop(state);
    shared.delivery.notify_all();
    shared.control.notify_all();
}

/// The writer: frames from the provider onto the link. When its queue is closed (the
/// link dropped by the provider, or shutdown) it closes the link after writing what
/// was queued.
fn writer(link: Link, rx: Receiver<Vec<u8>>) {
    for frame in rx {
        if link.write_all(&frame).is_err() {
            break;
        }
    }
    link.close();
}

/// The delivery thread: one TAPI callback at a time, no lock held.
fn delivery(shared: Arc<Shared>, sink: Arc<dyn TapiSink>) {
    let mut state = lock(&shared.state);
    state.delivery_thread = Some(thread::current().id());
    loop {
        if let Some(event) = state.events.pop_front() {
            drop(state);
            sink.provider_event(&event);
            state = lock(&shared.state);
            continue;
        }
        let Some(out) = state.provider.poll_tapi() else {
            if shared.stop.load(Ordering::SeqCst) {
                break;
            }
            state = shared
                .delivery
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            continue;
        };
        state.delivering = match &out {
            TapiOutput::Event { line, .. } | TapiOutput::NewCall { line, .. } => Some(*line),
            _ => None,
        };
        drop(state);
        let answered = match out {
            TapiOutput::Event {
                line,
                ht_line,
                ht_call,
                msg,
                params,
            } => {
                sink.line_event(line, ht_line, ht_call, msg, params);
                None
            }
            TapiOutput::NewCall {
                line,
                ht_line,
                call,
            } => Some((call, sink.new_call(line, ht_line, call))),
            TapiOutput::CreateLine { temp_id } => {
                sink.create_line(temp_id);
                None
            }
            TapiOutput::RemoveLine { device_id } => {
                sink.remove_line(device_id);
                None
            }
            TapiOutput::Completion { request_id, result } => {
                sink.completion(request_id, result);
                None
            }
        };
        state = lock(&shared.state);
        if state.delivering.take().is_some() {
            shared.delivered.notify_all();
        }
        if let Some((call, ht)) = answered {
            state.provider.new_call_delivered(call, ht);
        }
        // The callback may have queued frames (TAPI calling back in is done through
        // `with`, which drains; this covers new_call_delivered).
        state.drain();
    }
}
