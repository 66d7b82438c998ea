//! `tapi-host`: plays the Windows Telephony service (TAPISRV) to a TAPI service
//! provider, to test `ucsta.tsp` where no Telephony service can host it (Wine's
//! tapi32 is a stub) and natively on Linux.
//!
//! # Layers
//!
//! - [`table`]: the TSPI functions as a table of function pointers, filled from the
//!   provider linked into the program ([`table::Tspi::linked`], natively) or from
//!   the DLL (`load::Library`, Windows: `LoadLibraryW` + `GetProcAddress` of
//!   every name of `ucsta_tsp::tspi::EXPORTS`); [`pe`] reads the DLL's export table
//!   from the file to check the names are exported undecorated.
//! - [`callbacks`]: the `extern "system"` callbacks the provider is given
//!   (`ASYNC_COMPLETION`, `LINEEVENT`s); they record into a process-wide inbox.
//! - [`host`]: TAPISRV's side of the contract in TAPISRV's order (negotiation,
//!   `providerEnumDevices`, `providerInit`, per line negotiation, caps and open), its
//!   answers to the provider's messages (`LINE_NEWCALL`, `LINE_CREATE`,
//!   `LINE_REMOVE`, `IDLE` calls closed), the requests, `providerShutdown`, and the
//!   contract checks (`VIOLATION` lines).
//! - [`structs`], [`names`], [`out`]: the variable-size structures as bytes, the names
//!   of the TAPI constants, the JSON lines on standard output.
//! - [`script`], [`run`]: the scenario language and its runner.
//!
//! Everything above the table is the same code on every target.

pub mod callbacks;
pub mod host;
#[cfg(windows)]
pub mod load;
pub mod names;
pub mod out;
pub mod pe;
pub mod run;
pub mod script;
pub mod structs;
pub mod table;
#[cfg(windows)]
mod threads;
