//! Runs script commands on a [`Host`].
//!
//! Between commands, and while a command waits, the host keeps taking and printing
//! what the provider sends. A `wait` looks at the messages printed since the last
//! command that made a request (so a message that came before the `wait` was read
//! still counts), each message satisfying one `wait` only. A `wait` that times out,
//! an `expect` that does not hold, or a call that cannot be found prints a `TIMEOUT`,
//! `EXPECT_FAILED` or `ERROR` line (the first two with the messages seen) and ends
//! the run with an error.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::Value;
use ucsta_tsp::tapi;

use crate::host::{Host, Line};
use crate::names::{self, name_of, result_name};
use crate::out::Fields;
use crate::script::{
    CallRef, Command, Expected, ForwardSetting, PickupTarget, Select, TransferMode,
};

/// Why a run stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunError {
    /// The script line.
    pub line: usize,
    /// What went wrong.
    pub message: String,
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "script line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for RunError {}

/// The states a command looks for when it names a line rather than a call.
fn preferred(cmd: &Command) -> &'static [u32] {
    use tapi::*;
    const HELD: &[u32] = &[
        LINECALLSTATE_ONHOLD,
        LINECALLSTATE_ONHOLDPENDTRANSFER,
        LINECALLSTATE_ONHOLDPENDCONF,
    ];
    match cmd {
        Command::Answer(_) => &[LINECALLSTATE_OFFERING, LINECALLSTATE_ACCEPTED],
        Command::Redirect(..) => &[LINECALLSTATE_OFFERING, LINECALLSTATE_ACCEPTED],
        Command::Unhold(_) => HELD,
        Command::Dial(..) => &[LINECALLSTATE_DIALTONE, LINECALLSTATE_DIALING],
        Command::RemoveFromConference(_) => &[LINECALLSTATE_CONFERENCED],
        Command::CompleteTransfer(..) => HELD,
        Command::Hold(_)
        | Command::BlindTransfer(..)
        | Command::SetupTransfer(_)
        | Command::SetupConference(_)
        | Command::Digits(..)
        | Command::SwapHold(..) => &[LINECALLSTATE_CONNECTED],
        _ => &[],
    }
}

/// A script run.
#[derive(Debug)]
pub struct Runner {
    /// The host.
    pub host: Host,
    /// Where the waits start looking.
    cursor: usize,
    /// Output lines a wait has used.
    used: HashSet<usize>,
    /// The last asynchronous request (for `expect completion`).
    last_request: Option<(u32, i32)>,
    /// `dwEndToEndID`s for `digits`.
    next_end_to_end: u32,
}

impl Runner {
    /// A run on `host`.
    pub fn new(host: Host) -> Runner {
        Runner {
            host,
            cursor: 0,
            used: HashSet::new(),
            last_request: None,
            next_end_to_end: 1,
        }
    }

    fn line(&self, addr: &str) -> Result<Line, String> {
        self.host
            .line_by_address(addr)
            .cloned()
            .ok_or_else(|| format!("no line `{addr}`"))
    }

    fn dev(&self, addr: &str) -> Result<u32, String> {
        self.line(addr).map(|l| l.dev)
    }

    /// The call a reference names; `prefer` are the states wanted for
    /// [`Select::Default`].
    pub fn resolve(&self, r: &CallRef, prefer: &[u32]) -> Result<usize, String> {
        match r {
            CallRef::Handle(ht) => match self.host.call(*ht) {
                Some(c) if !c.closed => Ok(*ht),
                Some(_) => Err(format!("call $c{ht} is closed")),
                None => Err(format!("no call $c{ht}")),
            },
            CallRef::Line { addr, select } => {
                let dev = self.dev(addr)?;
                let live: Vec<(usize, u32)> = self
                    .host
                    .calls()
                    .filter(|c| c.dev == dev && !c.closed && c.state != tapi::LINECALLSTATE_IDLE)
                    .map(|c| (c.ht, c.state))
                    .collect();
                let newest_in = |states: &[u32]| {
                    live.iter()
                        .rev()
                        .find(|(_, s)| states.contains(s))
                        .map(|(ht, _)| *ht)
                };
                let found = match select {
                    Select::Last => live.last().map(|(ht, _)| *ht),
                    Select::First => live.first().map(|(ht, _)| *ht),
                    Select::State(s) => newest_in(&[*s]),
                    Select::Default => newest_in(prefer).or(live.last().map(|(ht, _)| *ht)),
                };
                found.ok_or_else(|| {
                    let states: Vec<String> = live
                        .iter()
                        .map(|(ht, s)| format!("$c{ht} {}", name_of(names::LINECALLSTATE, *s)))
                        .collect();
                    format!(
                        "no such call on {addr} (its calls: [{}])",
                        states.join(", ")
                    )
                })
            }
        }
    }

    /// The consultation of the line of `r` (for `completetransfer`, `addtoconference`).
    fn setup_of(&self, r: &CallRef) -> Option<crate::host::Setup> {
        let dev = match r {
            CallRef::Handle(ht) => self.host.call(*ht)?.dev,
            CallRef::Line { addr, .. } => self.dev(addr).ok()?,
        };
        self.host.setup(dev)
    }

    /// Runs one command (`line` is its script line, for errors).
    ///
    /// # Errors
    ///
    /// [`RunError`] when a wait times out, an expectation fails or a call or line is
    /// not found (after printing a line that says so).
    pub fn run(&mut self, line: usize, cmd: &Command) -> Result<(), RunError> {
        self.host.pump(Duration::ZERO);
        if cmd.is_action() {
            self.cursor = self.host.out.lines().len();
        }
        let r = self.command(cmd);
        // Messages caused synchronously are printed before the next command reads.
        self.host.pump(Duration::ZERO);
        r.map_err(|message| RunError { line, message })
    }

    fn fail(&mut self, msg: &str, text: String, mut fields: Fields) -> String {
        fields.insert(0, ("error", text.clone().into()));
        self.host.note(msg, fields);
        text
    }

    fn request_done(&mut self, (id, r): (u32, i32)) {
        self.last_request = Some((id, r));
    }

    fn command(&mut self, cmd: &Command) -> Result<(), String> {
        let prefer = preferred(cmd);
        let resolved = |me: &mut Runner, r: &CallRef| -> Result<usize, String> {
            me.resolve(r, prefer)
                .map_err(|e| me.fail("ERROR", e, Vec::new()))
        };
        match cmd {
            Command::WaitInService(addr, timeout) => {
                // The line may not exist yet (multi-line: it comes with LINE_CREATE).
                let addr = addr.clone();
                self.wait(cmd, *timeout, move |host, m| {
                    let Some(dev) = host.line_by_address(&addr).map(|l| l.dev) else {
                        return false;
                    };
                    if m["msg"] == "LINE_LINEDEVSTATE"
                        && m["dev"] == dev
                        && m["state"].as_str().is_some_and(|s| s.contains("INSERVICE"))
                    {
                        return true;
                    }
                    // A line whose synchronisation finished before it was opened has
                    // no message to wait for: its status says.
                    m.is_null() && {
                        let (r, flags) = host.dev_status_flags(dev);
                        r == 0 && flags & tapi::LINEDEVSTATUSFLAGS_INSERVICE != 0
                    }
                })
            }
            Command::WaitOutOfService(addr, timeout) => {
                let addr = addr.clone();
                self.wait(cmd, *timeout, move |host, m| {
                    host.line_by_address(&addr).is_some_and(|l| {
                        m["msg"] == "LINE_LINEDEVSTATE"
                            && m["dev"] == l.dev
                            && m["state"]
                                .as_str()
                                .is_some_and(|s| s.contains("OUTOFSERVICE"))
                    })
                })
            }
            Command::WaitIdle(addr, timeout) => {
                let addr = addr.clone();
                self.wait(cmd, *timeout, move |host, m| {
                    m.is_null()
                        && host.line_by_address(&addr).is_some_and(|l| {
                            host.calls().all(|c| {
                                c.dev != l.dev || c.closed || c.state == tapi::LINECALLSTATE_IDLE
                            })
                        })
                })
            }
            Command::WaitCallState(call, state, timeout) => {
                let state_name = name_of(names::LINECALLSTATE, *state);
                let call = call.clone();
                self.wait(cmd, *timeout, move |host, m| {
                    m["msg"] == "LINE_CALLSTATE"
                        && m["state"] == state_name.as_str()
                        && match &call {
                            CallRef::Handle(ht) => m["call"] == *ht,
                            CallRef::Line { addr, .. } => host
                                .line_by_address(addr)
                                .is_some_and(|l| m["dev"] == l.dev),
                        }
                })
            }
            Command::WaitMessage(name, addr, timeout) => {
                let want = name.to_ascii_uppercase();
                let addr = addr.clone();
                self.wait(cmd, *timeout, move |host, m| {
                    let Some(msg) = m["msg"].as_str() else {
                        return false;
                    };
                    (msg == want || msg.strip_prefix("LINE_") == Some(want.as_str()))
                        && addr.as_ref().is_none_or(|a| {
                            host.line_by_address(a).is_some_and(|l| m["dev"] == l.dev)
                        })
                })
            }
            Command::MakeCall(addr, number) => {
                let dev = self
                    .dev(addr)
                    .map_err(|e| self.fail("ERROR", e, Vec::new()))?;
                let (_, id, r) = self.host.make_call(dev, number.as_deref());
                self.request_done((id, r));
                Ok(())
            }
            Command::Dial(call, number) => {
                let ht = match call {
                    CallRef::Line {
                        select: Select::Default,
                        ..
                    } => match self.setup_of(call) {
                        Some(s) if self.host.call(s.consult).is_some_and(|c| !c.closed) => {
                            s.consult
                        }
                        _ => resolved(self, call)?,
                    },
                    _ => resolved(self, call)?,
                };
                let r = self.host.call_and_number("lineDial", ht, number);
                self.request_done(r);
                Ok(())
            }
            Command::Answer(call)
            | Command::Drop(call)
            | Command::Hold(call)
            | Command::Unhold(call)
            | Command::RemoveFromConference(call) => {
                let ht = resolved(self, call)?;
                let function = match cmd {
                    Command::Answer(_) => "lineAnswer",
                    Command::Drop(_) => "lineDrop",
                    Command::Hold(_) => "lineHold",
                    Command::Unhold(_) => "lineUnhold",
                    _ => "lineRemoveFromConference",
                };
                let r = self.host.call_only(function, ht);
                self.request_done(r);
                Ok(())
            }
            Command::SwapHold(active, held) => {
                let a = resolved(self, active)?;
                let h = match held {
                    Some(h) => self.resolve(h, preferred(&Command::Unhold(h.clone()))),
                    None => match active {
                        CallRef::Line { addr, .. } => self.resolve(
                            &CallRef::Line {
                                addr: addr.clone(),
                                select: Select::Default,
                            },
                            preferred(&Command::Unhold(active.clone())),
                        ),
                        CallRef::Handle(_) => Err("swaphold $cN needs the held call too".into()),
                    },
                }
                .map_err(|e| self.fail("ERROR", e, Vec::new()))?;
                let r = self.host.two_calls("lineSwapHold", a, h);
                self.request_done(r);
                Ok(())
            }
            Command::BlindTransfer(call, number) | Command::Redirect(call, number) => {
                let ht = resolved(self, call)?;
                let function = if matches!(cmd, Command::BlindTransfer(..)) {
                    "lineBlindTransfer"
                } else {
                    "lineRedirect"
                };
                let r = self.host.call_and_number(function, ht, number);
                self.request_done(r);
                Ok(())
            }
            Command::SetupTransfer(call) => {
                let ht = resolved(self, call)?;
                let (_, id, r) = self.host.consult("lineSetupTransfer", ht);
                self.request_done((id, r));
                Ok(())
            }
            Command::CompleteTransfer(call, consult, mode) => {
                let setup = self.setup_of(call);
                let primary = match (call, setup) {
                    (
                        CallRef::Line {
                            select: Select::Default,
                            ..
                        },
                        Some(s),
                    ) => s.primary,
                    _ => resolved(self, call)?,
                };
                let consult = match (consult, setup) {
                    (Some(c), _) => self
                        .resolve(c, &[tapi::LINECALLSTATE_CONNECTED])
                        .map_err(|e| self.fail("ERROR", e, Vec::new()))?,
                    (None, Some(s)) => s.consult,
                    (None, None) => {
                        return Err(self.fail(
                            "ERROR",
                            "no consultation call set up".into(),
                            Vec::new(),
                        ));
                    }
                };
                let (_, id, r) = self.host.complete_transfer(
                    primary,
                    consult,
                    *mode == TransferMode::Conference,
                );
                self.request_done((id, r));
                Ok(())
            }
            Command::SetupConference(call) => {
                let ht = resolved(self, call)?;
                let (_, _, id, r) = self.host.setup_conference(ht);
                self.request_done((id, r));
                Ok(())
            }
            Command::PrepareAddToConference(conf) => {
                let ht = match (conf, self.setup_of(conf).and_then(|s| s.conf)) {
                    (
                        CallRef::Line {
                            select: Select::Default,
                            ..
                        },
                        Some(c),
                    ) => c,
                    _ => resolved(self, conf)?,
                };
                let (_, id, r) = self.host.consult("linePrepareAddToConference", ht);
                self.request_done((id, r));
                Ok(())
            }
            Command::AddToConference(conf, consult) => {
                let setup = self.setup_of(conf);
                let conf_ht = match (conf, setup.and_then(|s| s.conf)) {
                    (
                        CallRef::Line {
                            select: Select::Default,
                            ..
                        },
                        Some(c),
                    ) => c,
                    _ => resolved(self, conf)?,
                };
                let consult = match (consult, setup) {
                    (Some(c), _) => self
                        .resolve(c, &[tapi::LINECALLSTATE_CONNECTED])
                        .map_err(|e| self.fail("ERROR", e, Vec::new()))?,
                    (None, Some(s)) => s.consult,
                    (None, None) => {
                        return Err(self.fail(
                            "ERROR",
                            "no consultation call set up".into(),
                            Vec::new(),
                        ));
                    }
                };
                let r = self.host.two_calls("lineAddToConference", conf_ht, consult);
                self.request_done(r);
                Ok(())
            }
            Command::Pickup(addr, target) => {
                let dev = self
                    .dev(addr)
                    .map_err(|e| self.fail("ERROR", e, Vec::new()))?;
                let (number, group) = match target {
                    PickupTarget::Number(n) => (Some(n.as_str()), None),
                    PickupTarget::Group(g) => (None, Some(g.as_deref().unwrap_or(""))),
                };
                let (_, id, r) = self.host.pickup(dev, number, group);
                self.request_done((id, r));
                Ok(())
            }
            Command::Forward(addr, setting) => {
                let dev = self
                    .dev(addr)
                    .map_err(|e| self.fail("ERROR", e, Vec::new()))?;
                let r = match setting {
                    ForwardSetting::To { mode, dest, rings } => {
                        self.host
                            .forward(dev, Some(&[(*mode, Some(dest.as_str()))]), *rings)
                    }
                    ForwardSetting::Dnd => {
                        self.host
                            .forward(dev, Some(&[(tapi::LINEFORWARDMODE_UNCOND, None)]), 0)
                    }
                    ForwardSetting::Off => self.host.forward(dev, None, 0),
                };
                self.request_done(r);
                Ok(())
            }
            Command::Digits(call, digits, mode) => {
                let ht = resolved(self, call)?;
                let e2e = self.next_end_to_end;
                self.next_end_to_end += 1;
                let r = self.host.generate_digits(ht, digits, *mode, e2e);
                // Synchronous: `expect completion` checks what it returned.
                self.last_request = Some((0, r));
                Ok(())
            }
            Command::CallInfo(call) => {
                let ht = resolved(self, call)?;
                self.host.call_info(ht);
                Ok(())
            }
            Command::CallStatus(call) => {
                let ht = resolved(self, call)?;
                self.host.call_status(ht);
                Ok(())
            }
            Command::AddressStatus(addr) => {
                let dev = self
                    .dev(addr)
                    .map_err(|e| self.fail("ERROR", e, Vec::new()))?;
                self.host.address_status(dev);
                Ok(())
            }
            Command::DevStatus(addr) => {
                let dev = self
                    .dev(addr)
                    .map_err(|e| self.fail("ERROR", e, Vec::new()))?;
                self.host.dev_status(dev);
                Ok(())
            }
            Command::DevCaps(addr) => {
                let dev = self
                    .dev(addr)
                    .map_err(|e| self.fail("ERROR", e, Vec::new()))?;
                self.host.dev_caps(dev);
                Ok(())
            }
            Command::ExpectCompletion(want, timeout) => self.expect_completion(*want, *timeout),
            Command::ExpectNoMessage(d) => {
                let from = self.host.out.lines().len();
                let end = Instant::now() + *d;
                self.host.pump_until(end, |_| false);
                let came: Vec<Value> = self.host.out.lines()[from..]
                    .iter()
                    .filter(|m| {
                        m["msg"]
                            .as_str()
                            .is_some_and(|s| s.starts_with("LINE_") || s == "COMPLETION")
                    })
                    .cloned()
                    .collect();
                if came.is_empty() {
                    Ok(())
                } else {
                    let text = format!("{} messages came within {} ms", came.len(), d.as_millis());
                    Err(self.fail("EXPECT_FAILED", text, vec![("seen", came.into())]))
                }
            }
            Command::Sleep(d) => {
                let end = Instant::now() + *d;
                self.host.pump_until(end, |_| false);
                Ok(())
            }
            Command::Mark(name) => {
                self.host.note("MARK", vec![("name", name.clone().into())]);
                Ok(())
            }
            Command::Shutdown => {
                self.host.shutdown();
                Ok(())
            }
        }
    }

    fn expect_completion(&mut self, want: Expected, timeout: Duration) -> Result<(), String> {
        let Some((id, returned)) = self.last_request else {
            return Err(self.fail(
                "ERROR",
                "no request to expect a completion of".into(),
                Vec::new(),
            ));
        };
        let result = if id == 0 || returned != id as i32 {
            // Synchronous: what the function returned is the answer.
            Some(returned)
        } else {
            let end = Instant::now() + timeout;
            self.host
                .pump_until(end, |h| h.request(id).and_then(|r| r.completed).is_some());
            self.host.request(id).and_then(|r| r.completed)
        };
        let want_code = match want {
            Expected::Ok => 0,
            Expected::Error(e) => e,
        };
        match result {
            Some(r) if r == want_code => Ok(()),
            Some(r) => {
                let text = format!(
                    "request {id} ended with {}, not {}",
                    result_name(r),
                    result_name(want_code)
                );
                Err(self.fail("EXPECT_FAILED", text, vec![("req", id.into())]))
            }
            None => {
                let seen = self.seen();
                let text = format!(
                    "request {id} did not complete within {} ms",
                    timeout.as_millis()
                );
                Err(self.fail("TIMEOUT", text, vec![("req", id.into()), ("seen", seen)]))
            }
        }
    }

    /// The messages since the cursor, for a failure report.
    fn seen(&self) -> Value {
        self.host.out.lines()[self.cursor.min(self.host.out.lines().len())..]
            .iter()
            .filter(|m| {
                m["msg"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("LINE_") || s == "COMPLETION")
            })
            .cloned()
            .collect::<Vec<_>>()
            .into()
    }

    /// Waits until `pred` holds for an unused output line since the cursor (`pred`
    /// is also asked with `Value::Null` after each pump, for conditions on the
    /// host's state).
    fn wait(
        &mut self,
        cmd: &Command,
        timeout: Duration,
        pred: impl Fn(&Host, &Value) -> bool,
    ) -> Result<(), String> {
        let end = Instant::now() + timeout;
        loop {
            let lines = self.host.out.lines();
            for (i, line) in lines.iter().enumerate().skip(self.cursor) {
                if !self.used.contains(&i) && pred(&self.host, line) {
                    self.used.insert(i);
                    return Ok(());
                }
            }
            if pred(&self.host, &Value::Null) {
                return Ok(());
            }
            let now = Instant::now();
            if now >= end {
                break;
            }
            self.host.pump((end - now).min(Duration::from_millis(100)));
        }
        let seen = self.seen();
        let text = format!("`{cmd:?}` timed out after {} ms", timeout.as_millis());
        Err(self.fail("TIMEOUT", text, vec![("seen", seen)]))
    }
}
