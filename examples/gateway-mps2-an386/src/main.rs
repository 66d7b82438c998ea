//! uaCSTA phone gateway firmware for QEMU's `mps2-an386` (Cortex-M4F).
//!
//! The UART is the handset (line commands in, one state line per change out), the
//! LAN9118 the network (embassy-net, DHCP or static), and [`ucsta_embassy::run`] the
//! line: it registers with the SIP server, accepts the uaCSTA session and does what
//! the CSTA application asks.
//!
//! - Configuration: `key=value` words (see `ucsta_embassy::config`) from the
//!   semihosting command line (feature `qemu`, the default) or from the flash block
//!   `CONFIG_BLOCK` (patched at provisioning: a marker, then the text).
//! - Time: the CMSDK timers ([`time`]); the executor sleeps with WFI between polls.
//! - Seed: mps2 has no TRNG; under QEMU the host's clock (semihosting `SYS_TIME`,
//!   `SYS_CLOCK`) and the configured `seed` are mixed.
#![no_std]
#![no_main]

mod board;
mod time;
mod uart;

use core::sync::atomic::{AtomicBool, Ordering};

use cortex_m::peripheral::NVIC;
use cortex_m_rt::entry;
use embassy_executor::raw;
use embassy_net::udp::PacketMetadata;
use embassy_net::{Stack, StackResources};
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::channel::Channel;
use embassy_sync::waitqueue::AtomicWaker;
use lan9118::{Lan9118, Mmio};
use static_cell::{ConstStaticCell, StaticCell};
use ucsta_embassy::config::GatewayConfig;
use ucsta_embassy::config::Transport;
use ucsta_embassy::{HandsetLine, Line, SocketBuffers, TcpBuffers};

use crate::board::Irq;
#[cfg(feature = "defmt")]
use defmt_semihosting as _;

/// The line's capacities: two calls, eight SIP transactions of 2 KiB messages, four
/// queued CSTA events.
type GatewayLine = Line<2, 8, 6144, 2048, 4>;
const BUF: usize = 2048;

static ETH_WAKER: AtomicWaker = AtomicWaker::new();
static HANDSET: Channel<CriticalSectionRawMutex, HandsetLine, 4> = Channel::new();
static EXECUTOR: StaticCell<raw::Executor> = StaticCell::new();
static PENDED: AtomicBool = AtomicBool::new(false);
static RESOURCES: StaticCell<StackResources<3>> = StaticCell::new();
/// The line, made `const` and configured where it lies ([`ucsta_phone::Phone::configure`]):
/// the phone (48 KB) never passes through the stack, and being all zero bits it lies in
/// `.bss` (RAM only; `scripts/firmware-size.sh` fails when `.data` grows past 1 KiB).
static PHONE: ConstStaticCell<GatewayLine> = ConstStaticCell::new(GatewayLine::unconfigured());
static CMDLINE: ConstStaticCell<[u8; 512]> = ConstStaticCell::new([0; 512]);
static RX_META: ConstStaticCell<[PacketMetadata; 4]> =
    ConstStaticCell::new([PacketMetadata::EMPTY; 4]);
static TX_META: ConstStaticCell<[PacketMetadata; 4]> =
    ConstStaticCell::new([PacketMetadata::EMPTY; 4]);
/// Datagrams (or TCP octets) received and not yet read: room for a burst of two.
static RX_BUF: ConstStaticCell<[u8; 2 * BUF]> = ConstStaticCell::new([0; 2 * BUF]);
/// Octets to send: one message at a time, the phone queues the others.
static TX_BUF: ConstStaticCell<[u8; BUF]> = ConstStaticCell::new([0; BUF]);
/// With `transport=tcp`: received octets not yet delimited (two messages' worth).
static STREAM: ConstStaticCell<[u8; 2 * BUF]> = ConstStaticCell::new([0; 2 * BUF]);

/// A log line: semihosting stderr under QEMU, defmt with feature `defmt`.
macro_rules! log {
    ($($arg:tt)*) => {{
        #[cfg(feature = "defmt")]
        {
            let mut s = heapless::String::<160>::new();
            let _ = core::fmt::write(&mut s, format_args!($($arg)*));
            defmt::info!("{=str}", s.as_str());
        }
        #[cfg(all(feature = "qemu", not(feature = "defmt")))]
        cortex_m_semihosting::heprintln!($($arg)*);
        #[cfg(not(any(feature = "qemu", feature = "defmt")))]
        let _ = format_args!($($arg)*);
    }};
}

// ---------------------------------------------------------------------------------
// Interrupts

/// One entry of the device part of the vector table.
#[derive(Clone, Copy)]
#[repr(C)]
pub union Vector {
    handler: unsafe extern "C" fn(),
    reserved: usize,
}

unsafe extern "C" {
    fn DefaultHandler();
}

const fn vectors() -> [Vector; 32] {
    let mut v = [Vector {
        handler: DefaultHandler,
    }; 32];
    v[Irq::Uart0Rx as usize] = Vector { handler: uart0_rx };
    v[Irq::Timer0 as usize] = Vector { handler: timer0 };
    v[Irq::Timer1 as usize] = Vector { handler: timer1 };
    v[Irq::Ethernet as usize] = Vector { handler: ethernet };
    v
}

/// The device interrupts, after the core exceptions (cortex-m-rt's `device` layout).
#[unsafe(link_section = ".vector_table.interrupts")]
#[unsafe(no_mangle)]
pub static __INTERRUPTS: [Vector; 32] = vectors();

extern "C" fn uart0_rx() {
    uart::on_rx();
}

extern "C" fn timer0() {
    time::on_wrap();
}

extern "C" fn timer1() {
    time::on_alarm();
}

extern "C" fn ethernet() {
    // SAFETY: the controller's window; `on_interrupt` only masks and acknowledges.
    let mut regs = unsafe { Mmio::new(board::ETHERNET_BASE) };
    lan9118::on_interrupt(&mut regs, &ETH_WAKER);
}

/// Called by the executor when a task is woken: the main loop polls again.
#[unsafe(export_name = "__pender")]
fn pender(_context: *mut ()) {
    PENDED.store(true, Ordering::Release);
}

// ---------------------------------------------------------------------------------
// Stack painting

unsafe extern "C" {
    static _stack_start: u32;
    /// The lowest address the stack may reach (the end of the statics, cortex-m-rt).
    static _stack_end: u32;
}

const PAINT: u32 = 0x5afe_57ac;
/// How much of the stack below its top is painted and watched: more than the line
/// needs (a deeper stack shows as this whole figure), little enough to scan at every
/// handset line.
const WATCHED: usize = 64 * 1024;

fn stack_top() -> usize {
    // Only the address of the linker symbol is taken.
    &raw const _stack_start as usize
}

/// The bottom of the watched part of the stack: [`WATCHED`] below the top, or the
/// end of the statics when the memory map gives the stack less.
fn stack_bottom() -> usize {
    // Only the address of the linker symbol is taken.
    let end = &raw const _stack_end as usize;
    end.max(stack_top().saturating_sub(WATCHED))
}

/// Paints the watched part of the stack below the current frame.
fn paint_stack() {
    let sp = cortex_m::register::msp::read() as usize;
    let mut p = stack_bottom();
    while p + 256 < sp {
        // SAFETY: between the bottom of the watched region and well below the live
        // frame: unused stack memory.
        unsafe { (p as *mut u32).write_volatile(PAINT) };
        p += 4;
    }
}

/// The deepest the stack has been since [`paint_stack`], in octets.
fn stack_peak() -> usize {
    let top = stack_top();
    let mut p = stack_bottom();
    // SAFETY: reads of the painted region, which is stack memory.
    while p < top && unsafe { (p as *const u32).read_volatile() } == PAINT {
        p += 4;
    }
    top - p
}

// ---------------------------------------------------------------------------------
// Configuration and seed

#[cfg(feature = "qemu")]
fn config_text() -> &'static str {
    let buf = CMDLINE.take();
    let mut block = [buf.as_mut_ptr() as usize, buf.len()];
    // SAFETY: SYS_GET_CMDLINE writes at most `block[1]` octets to `block[0]`, our
    // buffer, and the length written back to `block[1]`.
    let r = unsafe {
        cortex_m_semihosting::syscall1(
            cortex_m_semihosting::nr::GET_CMDLINE,
            block.as_mut_ptr() as usize,
        )
    };
    // SAFETY: `block` is ours; the host wrote the length behind the compiler's back.
    let written = unsafe { core::ptr::read_volatile(&block[1]) };
    let n = if r == 0 { written.min(buf.len()) } else { 0 };
    let text = core::str::from_utf8(&buf[..n]).unwrap_or("");
    // The first word is the program (the kernel's path) unless it is a setting.
    match text.split_once(' ') {
        Some((first, rest)) if !first.contains('=') => rest,
        None if !text.contains('=') => "",
        _ => text,
    }
}

/// The provisioned configuration: this marker, then the text up to a NUL or 0xFF.
#[cfg(not(feature = "qemu"))]
#[used]
#[unsafe(link_section = ".rodata.gateway_config")]
static CONFIG_BLOCK: [u8; 512] = {
    let marker = b"UCSTA-GATEWAY-CONFIG\0";
    let mut b = [0xffu8; 512];
    let mut i = 0;
    while i < marker.len() {
        b[i] = marker[i];
        i += 1;
    }
    b
};

#[cfg(not(feature = "qemu"))]
fn config_text() -> &'static str {
    const MARKER: usize = 21;
    let buf = CMDLINE.take();
    let mut n = 0;
    for (i, out) in buf.iter_mut().enumerate().take(512 - MARKER) {
        let p = (&raw const CONFIG_BLOCK)
            .cast::<u8>()
            .wrapping_add(MARKER + i);
        // SAFETY: within the block. Volatile, so that the compiler does not fold the
        // block's initial value: provisioning patches it in flash.
        let b = unsafe { p.read_volatile() };
        if b == 0 || b == 0xff {
            break;
        }
        *out = b;
        n = i + 1;
    }
    core::str::from_utf8(&buf[..n]).unwrap_or("")
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// What varies between boots, spread over 32 octets.
fn boot_seed() -> [u8; 32] {
    #[cfg(feature = "qemu")]
    // SAFETY: SYS_TIME and SYS_CLOCK take no argument and return a number.
    let mut state = unsafe {
        let t = cortex_m_semihosting::syscall!(TIME) as u64;
        let c = cortex_m_semihosting::syscall!(CLOCK) as u64;
        (t << 32) ^ c
    };
    #[cfg(not(feature = "qemu"))]
    let mut state = 0u64;
    state ^= embassy_time::Instant::now().as_ticks();
    let mut out = [0u8; 32];
    for chunk in out.chunks_mut(8) {
        chunk.copy_from_slice(&splitmix(&mut state).to_le_bytes());
    }
    out
}

/// A `u64` in decimal, as its `Display` writes it, through the `u32` formatting every
/// other number uses (`u64`'s own costs 262 bytes for two log lines).
struct Decimal(u64);

impl core::fmt::Display for Decimal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        const E9: u64 = 1_000_000_000;
        let low = (self.0 % E9) as u32;
        if self.0 < E9 {
            return write!(f, "{low}");
        }
        Decimal(self.0 / E9).fmt(f)?;
        write!(f, "{low:09}")
    }
}

fn fail(what: &str, why: &dyn core::fmt::Display) -> ! {
    uart::line(format_args!("fatal {what}: {why}"));
    log!("fatal {}: {}", what, why);
    #[cfg(feature = "qemu")]
    cortex_m_semihosting::debug::exit(cortex_m_semihosting::debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}

// ---------------------------------------------------------------------------------
// Tasks

#[embassy_executor::task]
async fn net_task(mut runner: embassy_net::Runner<'static, Lan9118<'static, Mmio>>) -> ! {
    runner.run().await
}

#[embassy_executor::task]
async fn handset_task() -> ! {
    let mut line = HandsetLine::new();
    loop {
        let b = uart::read_byte().await;
        match b {
            b'\r' | b'\n' if !line.is_empty() => {
                HANDSET.send(core::mem::take(&mut line)).await;
            }
            // Backspace and delete.
            0x08 | 0x7f => {
                line.pop();
            }
            b if b.is_ascii() && !b.is_ascii_control() && line.push(b as char).is_err() => {
                uart::line(format_args!("error line too long"));
                line.clear();
            }
            _ => {}
        }
    }
}

#[embassy_executor::task]
async fn gateway_task(stack: Stack<'static>, cfg: GatewayConfig<'static>, seed: [u8; 32]) -> ! {
    let (_, local) = ucsta_embassy::wait_address(stack).await;
    let server_text = ucsta_embassy::address_text(*cfg.server.ip());
    let domain = cfg.domain.unwrap_or(&server_text);
    let pcfg = ucsta_embassy::phone_config(&cfg, &local, domain, seed);
    let phone = PHONE.take();
    if let Err(e) = phone.configure(&pcfg) {
        fail("phone", &e);
    }
    log!(
        "stack peak while building the phone: {} bytes",
        stack_peak()
    );
    // From here on the stack peak is that of running the line.
    paint_stack();
    uart::line(format_args!("ready ip={local} user={}", cfg.user));
    log!(
        "up at {} ms, ip {}; phone {} bytes",
        Decimal(embassy_time::Instant::now().as_millis()),
        local,
        core::mem::size_of::<GatewayLine>()
    );
    let mut registered_once = false;
    let mut deepest = 0;
    let mut out = |out: ucsta_embassy::Output<'_>| {
        uart::line(format_args!("{out}"));
        // The stack's deepest so far, logged when it grows: the figure for running
        // the line comes from the whole test, calls and transfers included.
        let peak = stack_peak();
        if registered_once && peak > deepest {
            deepest = peak;
            log!("stack peak now {} bytes", peak);
        }
        if !registered_once
            && let ucsta_embassy::Output::Report(ucsta_phone::Report::Registered { .. }) = out
        {
            registered_once = true;
            log!(
                "registered at {} ms; stack peak since the phone was built {} bytes",
                Decimal(embassy_time::Instant::now().as_millis()),
                stack_peak()
            );
        }
    };
    // The socket memory serves whichever transport is configured.
    let (rx, tx) = (RX_BUF.take(), TX_BUF.take());
    match cfg.transport {
        Transport::Udp => {
            let buffers = SocketBuffers {
                rx_meta: RX_META.take(),
                rx,
                tx_meta: TX_META.take(),
                tx,
            };
            ucsta_embassy::run(
                stack,
                cfg.port,
                buffers,
                phone,
                HANDSET.receiver(),
                &mut out,
            )
            .await
        }
        Transport::Tcp => {
            let server = embassy_net::IpEndpoint::new((*cfg.server.ip()).into(), cfg.server.port());
            let buffers = TcpBuffers {
                rx,
                tx,
                stream: STREAM.take(),
            };
            ucsta_embassy::run_tcp(stack, server, buffers, phone, HANDSET.receiver(), &mut out)
                .await
        }
    }
}

#[entry]
fn main() -> ! {
    paint_stack();
    let executor = boot();
    loop {
        // SAFETY: polled from this loop only, never re-entered.
        unsafe { executor.poll() };
        cortex_m::interrupt::free(|_| {
            // An interrupt taken after this check still ends the WFI (it is
            // pending while PRIMASK is set) and its wake-up is seen next round.
            if !PENDED.swap(false, Ordering::AcqRel) {
                cortex_m::asm::wfi();
            }
        });
    }
}

/// Brings the board, the network stack and the tasks up. Not inlined: what passes
/// through its frame on the way to the statics (the stack's resources, the tasks'
/// futures; about 8 KB) is given back before the executor runs, rather than held
/// under every poll for as long as `main` lives.
#[inline(never)]
fn boot() -> &'static raw::Executor {
    time::init();
    uart::init();
    let text = config_text();
    let cfg = match GatewayConfig::parse(text) {
        Ok(c) => c,
        Err(e) => fail("configuration", &e),
    };
    let seed = boot_seed();
    // SAFETY: the controller's register window, used by this driver alone (and
    // by the interrupt handler, which only masks and acknowledges).
    let regs = unsafe { Mmio::new(board::ETHERNET_BASE) };
    let eth = match Lan9118::new(regs, None, &ETH_WAKER) {
        Ok(d) => d,
        Err(e) => fail("ethernet", &e),
    };
    let net_seed = u64::from_le_bytes([
        seed[0], seed[1], seed[2], seed[3], seed[4], seed[5], seed[6], seed[7],
    ]);
    let (stack, runner) = embassy_net::new(
        eth,
        ucsta_embassy::net_config(&cfg),
        RESOURCES.init(StackResources::new()),
        net_seed,
    );
    // SAFETY: the handlers are in the vector table and touch only their peripheral
    // and interrupt-safe state.
    unsafe {
        NVIC::unmask(Irq::Timer0);
        NVIC::unmask(Irq::Timer1);
        NVIC::unmask(Irq::Uart0Rx);
        NVIC::unmask(Irq::Ethernet);
    }
    let executor: &'static raw::Executor = EXECUTOR.init(raw::Executor::new(core::ptr::null_mut()));
    let spawner = executor.spawner();
    let spawned = [
        net_task(runner).map(|t| spawner.spawn(t)),
        handset_task().map(|t| spawner.spawn(t)),
        gateway_task(stack, cfg, seed).map(|t| spawner.spawn(t)),
    ];
    if spawned.iter().any(Result::is_err) {
        fail("executor", &"cannot spawn the tasks");
    }
    executor
}

/// Reports where the firmware panicked, not the message: the messages would link the
/// text and the `Debug` code of every panic site in the firmware (10 KB of flash), and
/// the file and line find the site.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let (file, line) = info
        .location()
        .map_or(("?", 0), |at| (at.file(), at.line()));
    uart::line(format_args!("fatal panic at {file}:{line}"));
    log!("panic at {}:{}", file, line);
    #[cfg(feature = "qemu")]
    cortex_m_semihosting::debug::exit(cortex_m_semihosting::debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
