//! The CMSDK APB UART as the handset: bytes in by interrupt, assembled into lines;
//! lines out by polling (a state line is short and the console never stalls long).

use core::cell::RefCell;
use core::fmt;
use core::future::poll_fn;
use core::task::Poll;

use critical_section::Mutex;
use embassy_sync::waitqueue::AtomicWaker;
use heapless::Deque;

use crate::board::{UART0_BASE, reg_read, reg_write};

const DATA: usize = 0x00;
const STATE: usize = 0x04;
const CTRL: usize = 0x08;
const INT: usize = 0x0c;
const BAUDDIV: usize = 0x10;
const STATE_TX_FULL: u32 = 1 << 0;
const STATE_RX_FULL: u32 = 1 << 1;
const CTRL_TX: u32 = 1 << 0;
const CTRL_RX: u32 = 1 << 1;
const CTRL_RX_IRQ: u32 = 1 << 3;
const INT_RX: u32 = 1 << 1;

static RX: Mutex<RefCell<Deque<u8, 64>>> = Mutex::new(RefCell::new(Deque::new()));
static WAKER: AtomicWaker = AtomicWaker::new();

/// 115200 baud from the 25 MHz clock, transmitter and receiver on.
pub fn init() {
    reg_write(UART0_BASE + BAUDDIV, 217);
    reg_write(UART0_BASE + CTRL, CTRL_TX | CTRL_RX | CTRL_RX_IRQ);
}

/// The receive interrupt: moves the byte into the queue (dropped when full).
///
/// Acknowledged before the receiver is drained: a byte that arrives after the last
/// look at the state raises the interrupt again. (Acknowledged after, such a byte
/// lost its interrupt, and the receiver, full, took nothing more: the handset went
/// deaf, seen under host load in the QEMU test.)
pub fn on_rx() {
    reg_write(UART0_BASE + INT, INT_RX);
    while reg_read(UART0_BASE + STATE) & STATE_RX_FULL != 0 {
        let b = reg_read(UART0_BASE + DATA) as u8;
        critical_section::with(|cs| {
            let _ = RX.borrow_ref_mut(cs).push_back(b);
        });
    }
    WAKER.wake();
}

/// The next byte typed.
pub async fn read_byte() -> u8 {
    poll_fn(|cx| {
        WAKER.register(cx.waker());
        match critical_section::with(|cs| RX.borrow_ref_mut(cs).pop_front()) {
            Some(b) => Poll::Ready(b),
            None => Poll::Pending,
        }
    })
    .await
}

/// The console's writer.
pub struct Console;

impl fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            while reg_read(UART0_BASE + STATE) & STATE_TX_FULL != 0 {}
            reg_write(UART0_BASE + DATA, u32::from(b));
        }
        Ok(())
    }
}

/// Writes one line.
pub fn line(args: fmt::Arguments<'_>) {
    let _ = fmt::Write::write_fmt(&mut Console, args);
    let _ = fmt::Write::write_str(&mut Console, "\r\n");
}
