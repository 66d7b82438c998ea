//! An [`embassy_net_driver::Driver`] for the SMSC (Microchip) LAN9118 family of
//! Ethernet controllers: LAN9115 to LAN9118 and LAN9220/LAN9221, the controller of
//! Arm's MPS2 boards and of QEMU's `mps2-an385`/`mps2-an386`/`mps2-an500` models.
//!
//! Register access goes through the small [`Registers`] trait: [`Mmio`] on the
//! target, a model of the chip in the unit tests. The driver moves one frame at a
//! time through the chip's FIFOs by programmed I/O (32-bit words, no DMA):
//!
//! - receive: an RX status word gives the frame's length and error bit; the frame is
//!   read whole into the driver's buffer (the 4 octets of CRC dropped); a bad or
//!   oversized frame is skipped with the RX data fast-forward;
//! - transmit: TX command words A and B (first and last segment, length), then the
//!   frame; the TX status words are drained as they come;
//! - waking: [`Driver::receive`] and [`Driver::transmit`] arm the interrupt they wait
//!   for (RX status FIFO level, TX data FIFO available) after storing the waker;
//!   the board's interrupt handler calls [`on_interrupt`], which masks the chip's
//!   interrupts (they are level-triggered) and wakes the task;
//! - link: the internal PHY's basic status register, read over the MII.
//!
//! [`Driver::receive`]: embassy_net_driver::Driver::receive
//! [`Driver::transmit`]: embassy_net_driver::Driver::transmit
//!
//! Register offsets and bits are those of the LAN9118 data sheet (section 5, "System
//! Control and Status Registers", and section 5.4, "MAC Control and Status
//! Registers").
#![no_std]

#[cfg(test)]
extern crate std;

use core::task::Context;

use embassy_net_driver::{Capabilities, HardwareAddress, LinkState};
use embassy_sync::waitqueue::AtomicWaker;

mod regs;

use regs::*;
pub use regs::{Mmio, Registers};

/// The largest frame moved, without CRC: 1500 octets of payload, 14 of header.
pub const MTU: usize = 1514;
/// Room for a received frame with its CRC, rounded to whole words.
const RX_BUF: usize = 1536;
/// Polls of a busy bit before the chip counts as stuck.
const SPIN: u32 = 100_000;

/// Why the controller could not be brought up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error {
    /// `BYTE_TEST` did not read `0x87654321`: no chip at this address, or the bus
    /// swaps bytes.
    NotPresent(u32),
    /// `ID_REV` names a chip of another family.
    UnknownChip(u32),
    /// The chip did not become ready, or a reset or register access did not finish.
    Timeout,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::NotPresent(v) => write!(f, "no LAN9118 (BYTE_TEST reads {v:#010x})"),
            Error::UnknownChip(v) => write!(f, "not a LAN9118-family chip (ID_REV {v:#010x})"),
            Error::Timeout => f.write_str("the controller did not answer in time"),
        }
    }
}

impl core::error::Error for Error {}

/// Counters of what the driver dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Stats {
    /// Frames received.
    pub rx_frames: u32,
    /// Frames the chip flagged as bad (CRC, length, collision) or too large: skipped.
    pub rx_errors: u32,
    /// Frames sent.
    pub tx_frames: u32,
    /// Frames handed to a TX token longer than [`MTU`]: cut to it.
    pub tx_oversized: u32,
}

/// The controller, brought up by [`Lan9118::new`].
pub struct Lan9118<'w, R: Registers> {
    regs: R,
    mac: [u8; 6],
    chip: u16,
    waker: &'w AtomicWaker,
    rx: [u8; RX_BUF],
    rx_len: usize,
    tx: [u8; MTU],
    tx_tag: u16,
    stats: Stats,
}

impl<R: Registers> core::fmt::Debug for Lan9118<'_, R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Lan9118")
            .field("chip", &self.chip)
            .field("mac", &self.mac)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// The interrupt handler's half: masks the chip's interrupts and wakes the driver.
/// Call it from the board's handler of the controller's interrupt line (IRQ 13 on
/// the MPS2 boards), with registers at the same address as the driver's.
pub fn on_interrupt(regs: &mut impl Registers, waker: &AtomicWaker) {
    regs.write(INT_EN, 0);
    // Write-one-to-clear the latched sources; the FIFO levels stay until drained.
    let sts = regs.read(INT_STS);
    regs.write(INT_STS, sts);
    waker.wake();
}

fn wait_clear(regs: &mut impl Registers, reg: u32, bit: u32) -> Result<(), Error> {
    for _ in 0..SPIN {
        if regs.read(reg) & bit == 0 {
            return Ok(());
        }
    }
    Err(Error::Timeout)
}

fn mac_csr_read(regs: &mut impl Registers, index: u32) -> Result<u32, Error> {
    wait_clear(regs, MAC_CSR_CMD, CSR_BUSY)?;
    regs.write(MAC_CSR_CMD, CSR_BUSY | CSR_READ | index);
    wait_clear(regs, MAC_CSR_CMD, CSR_BUSY)?;
    Ok(regs.read(MAC_CSR_DATA))
}

fn mac_csr_write(regs: &mut impl Registers, index: u32, value: u32) -> Result<(), Error> {
    wait_clear(regs, MAC_CSR_CMD, CSR_BUSY)?;
    regs.write(MAC_CSR_DATA, value);
    regs.write(MAC_CSR_CMD, CSR_BUSY | index);
    wait_clear(regs, MAC_CSR_CMD, CSR_BUSY)
}

fn mii_idle(regs: &mut impl Registers) -> Result<(), Error> {
    for _ in 0..SPIN {
        if mac_csr_read(regs, MII_ACC)? & MII_BUSY == 0 {
            return Ok(());
        }
    }
    Err(Error::Timeout)
}

fn phy_read(regs: &mut impl Registers, reg: u32) -> Result<u16, Error> {
    mii_idle(regs)?;
    mac_csr_write(regs, MII_ACC, (PHY_ADDR << 11) | (reg << 6) | MII_BUSY)?;
    mii_idle(regs)?;
    Ok((mac_csr_read(regs, MII_DATA)? & 0xffff) as u16)
}

impl<'w, R: Registers> Lan9118<'w, R> {
    /// Resets the controller and starts its transmitter and receiver. `mac` is the
    /// station address to program; `None` keeps the one the chip holds (loaded from
    /// its EEPROM, or set by the emulator). `waker` is the one the interrupt handler
    /// passes to [`on_interrupt`].
    ///
    /// # Errors
    /// [`Error`] when no LAN9118-family chip answers.
    pub fn new(mut regs: R, mac: Option<[u8; 6]>, waker: &'w AtomicWaker) -> Result<Self, Error> {
        let test = regs.read(BYTE_TEST);
        if test != BYTE_TEST_VALUE {
            return Err(Error::NotPresent(test));
        }
        let id = regs.read(ID_REV);
        let chip = (id >> 16) as u16;
        if !matches!(chip, 0x0115..=0x0118 | 0x9220 | 0x9221 | 0x117a | 0x118a) {
            return Err(Error::UnknownChip(id));
        }
        // Ready after power-up (PMT_CTRL.READY), then a soft reset.
        for _ in 0..SPIN {
            if regs.read(PMT_CTRL) & PMT_READY != 0 {
                break;
            }
        }
        if regs.read(PMT_CTRL) & PMT_READY == 0 {
            return Err(Error::Timeout);
        }
        regs.write(HW_CFG, HW_CFG_SRST);
        wait_clear(&mut regs, HW_CFG, HW_CFG_SRST)?;
        regs.write(INT_EN, 0);
        regs.write(INT_STS, u32::MAX);
        let mac = match mac {
            Some(m) => {
                mac_csr_write(
                    &mut regs,
                    ADDRL,
                    u32::from_le_bytes([m[0], m[1], m[2], m[3]]),
                )?;
                mac_csr_write(&mut regs, ADDRH, u32::from(m[4]) | (u32::from(m[5]) << 8))?;
                m
            }
            None => {
                let l = mac_csr_read(&mut regs, ADDRL)?.to_le_bytes();
                let h = mac_csr_read(&mut regs, ADDRH)?.to_le_bytes();
                [l[0], l[1], l[2], l[3], h[0], h[1]]
            }
        };
        // Interrupt when any RX status is waiting; TX data available at 1.5 KiB
        // (the level counts 64-octet units).
        regs.write(FIFO_INT, 24 << 24);
        regs.write(TX_CFG, TX_CFG_TX_ON | TX_CFG_TXSAO);
        let cr = mac_csr_read(&mut regs, MAC_CR)?;
        mac_csr_write(
            &mut regs,
            MAC_CR,
            cr | MAC_CR_TXEN | MAC_CR_RXEN | MAC_CR_FDPX,
        )?;
        regs.write(IRQ_CFG, IRQ_CFG_EN | IRQ_CFG_POL_HIGH | IRQ_CFG_PUSH_PULL);
        Ok(Lan9118 {
            regs,
            mac,
            chip,
            waker,
            rx: [0; RX_BUF],
            rx_len: 0,
            tx: [0; MTU],
            tx_tag: 0,
            stats: Stats::default(),
        })
    }

    /// The chip's ID (`0x0118`, `0x9220`, ...).
    pub fn chip_id(&self) -> u16 {
        self.chip
    }

    /// The station address in use.
    pub fn mac_address(&self) -> [u8; 6] {
        self.mac
    }

    /// What the driver counted.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Stores the waker, then unmasks `bits`: an event between the check and here
    /// raises the (level-triggered) line at once.
    fn arm(&mut self, cx: &Context<'_>, bits: u32) {
        self.waker.register(cx.waker());
        let en = self.regs.read(INT_EN);
        self.regs.write(INT_EN, en | bits);
    }

    /// Reads the next good frame into `rx`; `false` when none is waiting.
    fn read_frame(&mut self) -> bool {
        loop {
            let used = (self.regs.read(RX_FIFO_INF) >> 16) & 0xff;
            if used == 0 {
                return false;
            }
            let status = self.regs.read(RX_STATUS_FIFO);
            let len = ((status >> 16) & 0x3fff) as usize;
            let words = len.div_ceil(4);
            if status & RX_STS_ERROR != 0 || !(4..=RX_BUF).contains(&len) {
                self.stats.rx_errors = self.stats.rx_errors.wrapping_add(1);
                self.skip(words);
                continue;
            }
            for i in 0..words {
                let w = self.regs.read(RX_DATA_FIFO).to_le_bytes();
                self.rx[i * 4..i * 4 + 4].copy_from_slice(&w);
            }
            self.rx_len = len - 4;
            self.stats.rx_frames = self.stats.rx_frames.wrapping_add(1);
            return true;
        }
    }

    /// Drops `words` words of RX data: fast-forward for four or more (data sheet
    /// 3.13.1.1), reads below that.
    fn skip(&mut self, words: usize) {
        if words >= 4 {
            self.regs.write(RX_DP_CTRL, RX_DP_FFWD);
            if wait_clear(&mut self.regs, RX_DP_CTRL, RX_DP_FFWD).is_ok() {
                return;
            }
        }
        for _ in 0..words.min(4) {
            let _ = self.regs.read(RX_DATA_FIFO);
        }
    }

    fn tx_room(&mut self) -> bool {
        // Drain the TX status words (the transmitter stalls on a full status FIFO
        // without TXSAO; with it they only pile up).
        let statuses = (self.regs.read(TX_FIFO_INF) >> 16) & 0xff;
        for _ in 0..statuses {
            let _ = self.regs.read(TX_STATUS_FIFO);
        }
        (self.regs.read(TX_FIFO_INF) & 0xffff) as usize >= MTU + 3 + 8
    }
}

/// A received frame, from [`Driver::receive`](embassy_net_driver::Driver::receive).
#[derive(Debug)]
pub struct RxToken<'a> {
    frame: &'a mut [u8],
}

impl embassy_net_driver::RxToken for RxToken<'_> {
    fn consume<T, F: FnOnce(&mut [u8]) -> T>(self, f: F) -> T {
        f(self.frame)
    }
}

/// Room for one frame in the TX FIFO.
pub struct TxToken<'a, R: Registers> {
    regs: &'a mut R,
    buf: &'a mut [u8; MTU],
    tag: &'a mut u16,
    stats: &'a mut Stats,
}

impl<R: Registers> core::fmt::Debug for TxToken<'_, R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TxToken").finish_non_exhaustive()
    }
}

impl<R: Registers> embassy_net_driver::TxToken for TxToken<'_, R> {
    fn consume<T, F: FnOnce(&mut [u8]) -> T>(self, len: usize, f: F) -> T {
        let len = if len > MTU {
            self.stats.tx_oversized = self.stats.tx_oversized.wrapping_add(1);
            MTU
        } else {
            len
        };
        let frame = &mut self.buf[..len];
        let r = f(frame);
        *self.tag = self.tag.wrapping_add(1);
        let n = len as u32;
        self.regs
            .write(TX_DATA_FIFO, TX_CMD_A_FIRST | TX_CMD_A_LAST | n);
        self.regs
            .write(TX_DATA_FIFO, (u32::from(*self.tag) << 16) | n);
        for chunk in self.buf[..len].chunks(4) {
            let mut w = [0u8; 4];
            w[..chunk.len()].copy_from_slice(chunk);
            self.regs.write(TX_DATA_FIFO, u32::from_le_bytes(w));
        }
        self.stats.tx_frames = self.stats.tx_frames.wrapping_add(1);
        r
    }
}

impl<R: Registers> embassy_net_driver::Driver for Lan9118<'_, R> {
    type RxToken<'a>
        = RxToken<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = TxToken<'a, R>
    where
        Self: 'a;

    fn receive(&mut self, cx: &mut Context<'_>) -> Option<(RxToken<'_>, TxToken<'_, R>)> {
        if !self.tx_room() {
            self.arm(cx, INT_TDFA);
            return None;
        }
        if !self.read_frame() {
            self.arm(cx, INT_RSFL);
            // A frame that came before the unmask is seen now, not at the next wake.
            if !self.read_frame() {
                return None;
            }
        }
        let rx = RxToken {
            frame: &mut self.rx[..self.rx_len],
        };
        let tx = TxToken {
            regs: &mut self.regs,
            buf: &mut self.tx,
            tag: &mut self.tx_tag,
            stats: &mut self.stats,
        };
        Some((rx, tx))
    }

    fn transmit(&mut self, cx: &mut Context<'_>) -> Option<TxToken<'_, R>> {
        if !self.tx_room() {
            self.arm(cx, INT_TDFA);
            if !self.tx_room() {
                return None;
            }
        }
        Some(TxToken {
            regs: &mut self.regs,
            buf: &mut self.tx,
            tag: &mut self.tx_tag,
            stats: &mut self.stats,
        })
    }

    fn link_state(&mut self, cx: &mut Context<'_>) -> LinkState {
        self.waker.register(cx.waker());
        match phy_read(&mut self.regs, PHY_BMSR) {
            Ok(bmsr) if bmsr & BMSR_LINK != 0 => LinkState::Up,
            _ => LinkState::Down,
        }
    }

    fn capabilities(&self) -> Capabilities {
        let mut c = Capabilities::default();
        c.max_transmission_unit = MTU;
        c.max_burst_size = Some(1);
        c
    }

    fn hardware_address(&self) -> HardwareAddress {
        HardwareAddress::Ethernet(self.mac)
    }
}

#[cfg(test)]
mod tests;
