//! What QEMU's mps2-an386 has where (hw/arm/mps2.c, Arm AN386).

/// CMSDK APB timer 0 (IRQ 8): the free-running clock.
pub const TIMER0_BASE: usize = 0x4000_0000;
/// CMSDK APB timer 1 (IRQ 9): the alarm.
pub const TIMER1_BASE: usize = 0x4000_1000;
/// CMSDK APB UART 0 (RX IRQ 0, TX IRQ 1): the handset.
pub const UART0_BASE: usize = 0x4000_4000;
/// SMSC LAN9118 (IRQ 13).
pub const ETHERNET_BASE: usize = 0x4020_0000;

/// The interrupt lines used.
#[derive(Debug, Clone, Copy)]
pub enum Irq {
    /// UART 0 receive.
    Uart0Rx = 0,
    /// Timer 0.
    Timer0 = 8,
    /// Timer 1.
    Timer1 = 9,
    /// Ethernet.
    Ethernet = 13,
}

// SAFETY: the numbers are those of the board's interrupt lines, below 32.
unsafe impl cortex_m::interrupt::InterruptNumber for Irq {
    fn number(self) -> u16 {
        self as u16
    }
}

/// Reads a peripheral register.
pub fn reg_read(addr: usize) -> u32 {
    // SAFETY: only called with the addresses above plus register offsets, which
    // are device memory on this board.
    unsafe { (addr as *const u32).read_volatile() }
}

/// Writes a peripheral register.
pub fn reg_write(addr: usize, value: u32) {
    // SAFETY: as in `reg_read`.
    unsafe { (addr as *mut u32).write_volatile(value) }
}
