//! The embassy-time driver on the CMSDK APB timers: TIMER0 free-running (its wraps
//! counted), TIMER1 the alarm.
//!
//! Time is read from the hardware counter, never counted in interrupts: a tick
//! interrupt that comes late (a loaded host under QEMU) would make the clock run
//! slow. The timers count the 25 MHz peripheral clock down; TIMER0 wraps every
//! 171.8 s, and a pending wrap not yet counted is folded in when the time is read.

use core::cell::{Cell, RefCell};
use core::task::Waker;

use critical_section::{CriticalSection, Mutex};
use embassy_time_driver::Driver;
use embassy_time_queue_utils::Queue;

use crate::board::{TIMER0_BASE, TIMER1_BASE, reg_read, reg_write};

/// The timers' input clock (QEMU mps2: `SYSCLK_FRQ`).
const CLOCK_HZ: u64 = 25_000_000;
const DIV: u64 = CLOCK_HZ / embassy_time_driver::TICK_HZ;

const CTRL: usize = 0x00;
const VALUE: usize = 0x04;
const RELOAD: usize = 0x08;
const INT: usize = 0x0c;
const CTRL_ENABLE: u32 = 1 << 0;
const CTRL_IRQ: u32 = 1 << 3;

struct CmsdkTime {
    /// TIMER0 wraps counted by its interrupt.
    periods: Mutex<Cell<u32>>,
    queue: Mutex<RefCell<Queue>>,
}

embassy_time_driver::time_driver_impl!(static DRIVER: CmsdkTime = CmsdkTime {
    periods: Mutex::new(Cell::new(0)),
    queue: Mutex::new(RefCell::new(Queue::new())),
});

/// Starts TIMER0 free-running; TIMER1 stays off until an alarm is set.
pub fn init() {
    reg_write(TIMER0_BASE + CTRL, 0);
    reg_write(TIMER0_BASE + RELOAD, u32::MAX);
    reg_write(TIMER0_BASE + VALUE, u32::MAX);
    reg_write(TIMER0_BASE + INT, 1);
    reg_write(TIMER0_BASE + CTRL, CTRL_ENABLE | CTRL_IRQ);
    reg_write(TIMER1_BASE + CTRL, 0);
    reg_write(TIMER1_BASE + INT, 1);
}

impl CmsdkTime {
    fn cycles(&self, cs: CriticalSection<'_>) -> u64 {
        let periods = self.periods.borrow(cs).get();
        let mut value = reg_read(TIMER0_BASE + VALUE);
        let wrapped = reg_read(TIMER0_BASE + INT) & 1 != 0;
        if wrapped {
            // The wrap happened before the status read: a value read now is after it.
            value = reg_read(TIMER0_BASE + VALUE);
        }
        let periods = u64::from(periods) + u64::from(wrapped);
        (periods << 32) | u64::from(u32::MAX - value)
    }

    /// Arms TIMER1 for `at`; `false` when `at` has passed already.
    fn set_alarm(&self, cs: CriticalSection<'_>, at: u64) -> bool {
        reg_write(TIMER1_BASE + CTRL, 0);
        reg_write(TIMER1_BASE + INT, 1);
        if at == u64::MAX {
            return true;
        }
        let now = self.cycles(cs) / DIV;
        if at <= now {
            return false;
        }
        let cycles = ((at - now) * DIV).clamp(1, u64::from(u32::MAX)) as u32;
        reg_write(TIMER1_BASE + RELOAD, cycles);
        reg_write(TIMER1_BASE + VALUE, cycles);
        reg_write(TIMER1_BASE + CTRL, CTRL_ENABLE | CTRL_IRQ);
        true
    }

    fn rearm(&self, cs: CriticalSection<'_>) {
        let mut queue = self.queue.borrow_ref_mut(cs);
        loop {
            let next = queue.next_expiration(self.cycles(cs) / DIV);
            if self.set_alarm(cs, next) {
                return;
            }
        }
    }
}

impl Driver for CmsdkTime {
    fn now(&self) -> u64 {
        critical_section::with(|cs| self.cycles(cs) / DIV)
    }

    fn schedule_wake(&self, at: u64, waker: &Waker) {
        critical_section::with(|cs| {
            let changed = self.queue.borrow_ref_mut(cs).schedule_wake(at, waker);
            if changed {
                self.rearm(cs);
            }
        });
    }
}

/// TIMER0's interrupt: one more wrap.
pub fn on_wrap() {
    critical_section::with(|cs| {
        if reg_read(TIMER0_BASE + INT) & 1 != 0 {
            reg_write(TIMER0_BASE + INT, 1);
            let p = DRIVER.periods.borrow(cs);
            p.set(p.get().wrapping_add(1));
        }
    });
}

/// TIMER1's interrupt: wakes what is due and arms the next alarm.
pub fn on_alarm() {
    critical_section::with(|cs| {
        reg_write(TIMER1_BASE + INT, 1);
        DRIVER.rearm(cs);
    });
}
