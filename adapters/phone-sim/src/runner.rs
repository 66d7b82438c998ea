//! Running a script, and the load mode: phones started in this process and driven.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant as TokioInstant;

use crate::report::{CallState, Report};
use crate::runtime::{PhoneHandle, PhoneSpec, Status, Tagged, spawn};
use crate::script::{Script, Step, WaitState};

/// What every phone of a run shares.
#[derive(Debug, Clone)]
pub struct Common {
    /// The outbound proxy / registrar.
    pub server: SocketAddr,
    /// The domain.
    pub domain: String,
    /// The password of phones that name none.
    pub password: String,
    /// The local IP address phones bind to (port 0 each).
    pub bind_ip: std::net::IpAddr,
    /// The registration expiry.
    pub expires: u32,
    /// Whether phones answer at once.
    pub auto_answer: bool,
    /// Whether phones register at start.
    pub register: bool,
}

impl Common {
    fn spec(&self, user: &str, password: Option<&str>) -> PhoneSpec {
        let mut s = PhoneSpec::new(
            user,
            password.unwrap_or(&self.password),
            &self.domain,
            self.server,
        );
        s.bind = SocketAddr::new(self.bind_ip, 0);
        s.expires = self.expires;
        s.auto_answer = self.auto_answer;
        s.register = self.register;
        s
    }
}

/// Why a script run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A phone could not be started.
    #[error("phone {user}: {source}")]
    Start {
        /// Its user.
        user: String,
        /// Why.
        source: std::io::Error,
    },
    /// A `wait` or `expect` line timed out.
    #[error("line {line}: timed out waiting for {what}")]
    Timeout {
        /// The line number.
        line: usize,
        /// What was awaited.
        what: String,
    },
    /// A phone stopped.
    #[error("line {line}: phone {phone} has stopped")]
    Stopped {
        /// The line number.
        line: usize,
        /// The phone.
        phone: String,
    },
}

fn holds(state: WaitState, s: &Status) -> bool {
    let has = |c: CallState| s.calls.contains(&c);
    match state {
        WaitState::Registered => s.registered,
        WaitState::Unregistered => !s.registered,
        WaitState::Csta => s.csta,
        WaitState::Idle => s.calls.is_empty(),
        WaitState::Dialing => has(CallState::Dialing),
        WaitState::Calling => has(CallState::Calling),
        WaitState::Ringback => has(CallState::Ringback),
        WaitState::Ringing => has(CallState::Ringing),
        WaitState::Connected => has(CallState::Connected),
        WaitState::Held => has(CallState::Held),
    }
}

/// Runs `script` with the first phone `first` (user, password) and the phones it
/// declares; every report goes to `out` as it happens. Phones unregister at the end.
///
/// # Errors
/// [`RunError`]: a phone that does not start, a `wait`/`expect` that times out.
pub async fn run_script(
    script: &Script,
    common: &Common,
    first: Option<(&str, Option<&str>)>,
    mut out: impl FnMut(&Tagged),
) -> Result<(), RunError> {
    let epoch = TokioInstant::now();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut phones: Vec<(String, PhoneHandle)> = Vec::new();
    let mut decls: Vec<(String, String, Option<String>)> = Vec::new();
    if let Some((user, password)) = first {
        decls.push((
            user.to_owned(),
            user.to_owned(),
            password.map(str::to_owned),
        ));
    }
    for p in &script.phones {
        decls.push((p.name.clone(), p.user.clone(), p.password.clone()));
    }
    for (name, user, password) in decls {
        let h = spawn(common.spec(&user, password.as_deref()), epoch, tx.clone())
            .await
            .map_err(|source| RunError::Start {
                user: user.clone(),
                source,
            })?;
        phones.push((name, h));
    }
    let by_name: HashMap<String, usize> = phones
        .iter()
        .enumerate()
        .map(|(i, (n, _))| (n.clone(), i))
        .collect();
    // Reports not yet matched by an `expect`, per phone index.
    let mut seen: Vec<Tagged> = Vec::new();
    let result = async {
        for line in &script.lines {
            let idx = line
                .phone
                .as_ref()
                .and_then(|n| by_name.get(n).copied())
                .unwrap_or(0);
            let Some((_, phone)) = phones.get(idx) else {
                continue;
            };
            while let Ok(t) = rx.try_recv() {
                out(&t);
                seen.push(t);
            }
            match &line.step {
                Step::Act(a) => {
                    if !phone.act(a.clone()) {
                        return Err(RunError::Stopped {
                            line: line.number,
                            phone: phone.user().to_owned(),
                        });
                    }
                }
                Step::Sleep(d) => {
                    let until = TokioInstant::now() + *d;
                    while let Ok(Some(t)) = tokio::time::timeout_at(until, rx.recv()).await {
                        out(&t);
                        seen.push(t);
                    }
                }
                Step::Wait(state, d) => {
                    let state = *state;
                    let until = TokioInstant::now() + *d;
                    let held = holds(state, &phone.status())
                        || matches!(
                            tokio::time::timeout_at(
                                until,
                                phone.wait_for(*d, move |s| holds(state, s)),
                            )
                            .await,
                            Ok(true)
                        );
                    while let Ok(t) = rx.try_recv() {
                        out(&t);
                        seen.push(t);
                    }
                    if !held {
                        return Err(RunError::Timeout {
                            line: line.number,
                            what: format!("state {state} of phone {}", phone.user()),
                        });
                    }
                }
                Step::Expect(word, d) => {
                    let user = phone.user().to_owned();
                    let until = TokioInstant::now() + *d;
                    let matches = |t: &Tagged| t.phone == user && t.report.matches(word.as_str());
                    if let Some(pos) = seen.iter().position(matches) {
                        seen.drain(..=pos);
                        continue;
                    }
                    seen.clear();
                    loop {
                        match tokio::time::timeout_at(until, rx.recv()).await {
                            Ok(Some(t)) => {
                                out(&t);
                                if matches(&t) {
                                    break;
                                }
                            }
                            _ => {
                                return Err(RunError::Timeout {
                                    line: line.number,
                                    what: format!("{word} from phone {user}"),
                                });
                            }
                        }
                    }
                }
                Step::Quit => break,
            }
        }
        Ok(())
    }
    .await;
    for (_, p) in &phones {
        p.request_stop();
    }
    for (_, p) in &phones {
        p.stopped().await;
    }
    while let Ok(t) = rx.try_recv() {
        out(&t);
    }
    result
}

/// How a load run goes.
#[derive(Debug, Clone)]
pub struct Load {
    /// How many phones.
    pub phones: u32,
    /// The first user number; users are `first`, `first + 1`, ...
    pub first_user: u64,
    /// New calls per second between random pairs (0: none).
    pub call_rate: f64,
    /// How long each call stays up.
    pub hold: Duration,
    /// How long calls are generated after all phones registered.
    pub duration: Duration,
    /// How long to wait for every phone to register.
    pub register_timeout: Duration,
}

/// What a load run measured.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Phones started.
    pub phones: u32,
    /// Phones registered within the timeout.
    pub registered: u32,
    /// Seconds until the last phone registered (or the timeout).
    pub register_seconds: f64,
    /// Registration failures reported.
    pub registration_failures: u32,
    /// Phones with a uaCSTA session up at the end.
    pub csta_sessions: u32,
    /// CSTA requests served.
    pub csta_requests: u64,
    /// CSTA events sent.
    pub csta_events: u64,
    /// Calls placed.
    pub calls_placed: u64,
    /// Calls answered (seen connected by the caller).
    pub calls_connected: u64,
    /// Calls that failed (ended with a SIP status).
    pub calls_failed: u64,
}

impl Summary {
    /// The summary as a JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "event": "summary",
            "phones": self.phones,
            "registered": self.registered,
            "register_seconds": self.register_seconds,
            "register_rate": if self.register_seconds > 0.0 {
                f64::from(self.registered) / self.register_seconds
            } else { 0.0 },
            "registration_failures": self.registration_failures,
            "csta_sessions": self.csta_sessions,
            "csta_requests": self.csta_requests,
            "csta_events": self.csta_events,
            "calls_placed": self.calls_placed,
            "calls_connected": self.calls_connected,
            "calls_failed": self.calls_failed,
        })
    }
}

/// Counts `t` into `summary`; `outgoing` holds the (phone, call) pairs placed and not
/// yet answered or failed.
fn count(summary: &mut Summary, t: &Tagged, outgoing: &mut HashSet<(String, u32)>) {
    match &t.report {
        Report::RegistrationFailed { .. } => summary.registration_failures += 1,
        Report::CstaRequest { .. } => summary.csta_requests += 1,
        Report::CstaEvent { .. } => summary.csta_events += 1,
        Report::Call {
            call, state, cause, ..
        } => {
            let key = (t.phone.clone(), *call);
            match state {
                CallState::Calling if cause == "originated" => {
                    outgoing.insert(key);
                }
                CallState::Connected if outgoing.remove(&key) => summary.calls_connected += 1,
                // A placed call that ends with a SIP status failed (either way it is
                // no longer outstanding).
                CallState::Ended if outgoing.remove(&key) && cause.parse::<u16>().is_ok() => {
                    summary.calls_failed += 1;
                }
                _ => {}
            }
        }
        _ => {}
    }
}

/// Starts `load.phones` phones, waits for them to register, generates calls between
/// random pairs at the given rate for the given duration, and stops them all. Reports
/// go to `out` when `verbose`.
///
/// # Errors
/// A phone that cannot be started.
pub async fn run_load(
    common: &Common,
    load: &Load,
    verbose: bool,
    mut out: impl FnMut(&Tagged),
) -> Result<Summary, RunError> {
    let epoch = TokioInstant::now();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut phones = Vec::new();
    let mut summary = Summary {
        phones: load.phones,
        ..Summary::default()
    };
    let mut common = common.clone();
    common.auto_answer = true;
    // Phones register as soon as they start: the clock runs from the first.
    let start = TokioInstant::now();
    for i in 0..u64::from(load.phones) {
        let user = (load.first_user + i).to_string();
        let h = spawn(common.spec(&user, None), epoch, tx.clone())
            .await
            .map_err(|source| RunError::Start {
                user: user.clone(),
                source,
            })?;
        phones.push(h);
    }
    let mut outgoing: HashSet<(String, u32)> = HashSet::new();
    let mut drain = |rx: &mut mpsc::UnboundedReceiver<Tagged>,
                     summary: &mut Summary,
                     outgoing: &mut HashSet<(String, u32)>| {
        while let Ok(t) = rx.try_recv() {
            count(summary, &t, outgoing);
            if verbose {
                out(&t);
            }
        }
    };
    let deadline = start + load.register_timeout;
    loop {
        drain(&mut rx, &mut summary, &mut outgoing);
        let n = phones.iter().filter(|p| p.status().registered).count();
        if n == phones.len() || TokioInstant::now() >= deadline {
            summary.registered = u32::try_from(n).unwrap_or(u32::MAX);
            summary.register_seconds = start.elapsed().as_secs_f64();
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    if load.call_rate > 0.0 && phones.len() >= 2 {
        let interval = Duration::from_secs_f64(1.0 / load.call_rate);
        let end = TokioInstant::now() + load.duration;
        let mut hangups: Vec<(TokioInstant, usize)> = Vec::new();
        let mut rng: u64 = 0x9e37_79b9_7f4a_7c15 ^ u64::from(load.phones);
        let mut next = TokioInstant::now();
        let len = phones.len() as u64;
        while TokioInstant::now() < end {
            drain(&mut rx, &mut summary, &mut outgoing);
            let now = TokioInstant::now();
            hangups.retain(|(at, i)| {
                if *at <= now {
                    phones[*i].act(crate::phone::Action::Hangup);
                    false
                } else {
                    true
                }
            });
            if now >= next {
                next += interval;
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let a = (rng % len) as usize;
                let b = ((a as u64 + 1 + (rng >> 32) % (len - 1)) % len) as usize;
                let (pa, pb) = (&phones[a], &phones[b]);
                if pa.status().calls.is_empty() && pb.status().calls.is_empty() {
                    pa.act(crate::phone::Action::Call(pb.user().to_owned()));
                    summary.calls_placed += 1;
                    hangups.push((now + load.hold, a));
                }
            }
            tokio::time::sleep(Duration::from_millis(1).min(interval)).await;
        }
        tokio::time::sleep(load.hold.min(Duration::from_secs(2))).await;
    }
    drain(&mut rx, &mut summary, &mut outgoing);
    summary.csta_sessions =
        u32::try_from(phones.iter().filter(|p| p.status().csta).count()).unwrap_or(u32::MAX);
    for p in &phones {
        p.request_stop();
    }
    for p in &phones {
        p.stopped().await;
    }
    drain(&mut rx, &mut summary, &mut outgoing);
    Ok(summary)
}
