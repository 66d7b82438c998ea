//! Register access and the register map.

/// 32-bit access to the controller's register window, by byte offset.
pub trait Registers {
    /// Reads the register at `offset`. Reading a FIFO port pops it.
    fn read(&mut self, offset: u32) -> u32;
    /// Writes the register at `offset`. Writing a FIFO port pushes to it.
    fn write(&mut self, offset: u32, value: u32);
}

impl<R: Registers + ?Sized> Registers for &mut R {
    fn read(&mut self, offset: u32) -> u32 {
        (**self).read(offset)
    }
    fn write(&mut self, offset: u32, value: u32) {
        (**self).write(offset, value);
    }
}

/// The register window mapped into memory (`0x4020_0000` on the MPS2 boards).
#[derive(Debug, Clone, Copy)]
pub struct Mmio {
    base: usize,
}

impl Mmio {
    /// The registers at `base`.
    ///
    /// # Safety
    /// `base` must be the address of a LAN9118-family register window, mapped as
    /// device memory, that nothing else uses except [`crate::on_interrupt`] (which
    /// only masks and acknowledges interrupts).
    #[allow(unsafe_code)]
    pub const unsafe fn new(base: usize) -> Mmio {
        Mmio { base }
    }
}

#[allow(unsafe_code)]
impl Registers for Mmio {
    fn read(&mut self, offset: u32) -> u32 {
        let p = (self.base + offset as usize) as *const u32;
        // SAFETY: `Mmio::new`'s caller vouched for the window; every offset used
        // is a word-aligned register below 0x100.
        unsafe { p.read_volatile() }
    }

    fn write(&mut self, offset: u32, value: u32) {
        let p = (self.base + offset as usize) as *mut u32;
        // SAFETY: as in `read`.
        unsafe { p.write_volatile(value) }
    }
}

// System control and status registers (data sheet section 5.3).
pub(crate) const RX_DATA_FIFO: u32 = 0x00;
pub(crate) const TX_DATA_FIFO: u32 = 0x20;
pub(crate) const RX_STATUS_FIFO: u32 = 0x40;
pub(crate) const TX_STATUS_FIFO: u32 = 0x48;
pub(crate) const ID_REV: u32 = 0x50;
pub(crate) const IRQ_CFG: u32 = 0x54;
pub(crate) const INT_STS: u32 = 0x58;
pub(crate) const INT_EN: u32 = 0x5c;
pub(crate) const BYTE_TEST: u32 = 0x64;
pub(crate) const FIFO_INT: u32 = 0x68;
pub(crate) const TX_CFG: u32 = 0x70;
pub(crate) const HW_CFG: u32 = 0x74;
pub(crate) const RX_DP_CTRL: u32 = 0x78;
pub(crate) const RX_FIFO_INF: u32 = 0x7c;
pub(crate) const TX_FIFO_INF: u32 = 0x80;
pub(crate) const PMT_CTRL: u32 = 0x84;
pub(crate) const MAC_CSR_CMD: u32 = 0xa4;
pub(crate) const MAC_CSR_DATA: u32 = 0xa8;

pub(crate) const BYTE_TEST_VALUE: u32 = 0x8765_4321;
pub(crate) const IRQ_CFG_EN: u32 = 1 << 8;
pub(crate) const IRQ_CFG_POL_HIGH: u32 = 1 << 4;
pub(crate) const IRQ_CFG_PUSH_PULL: u32 = 1 << 0;
/// RX status FIFO level interrupt.
pub(crate) const INT_RSFL: u32 = 1 << 3;
/// TX data FIFO available interrupt.
pub(crate) const INT_TDFA: u32 = 1 << 9;
pub(crate) const TX_CFG_TX_ON: u32 = 1 << 1;
/// TX status FIFO allow overrun.
pub(crate) const TX_CFG_TXSAO: u32 = 1 << 2;
pub(crate) const HW_CFG_SRST: u32 = 1 << 0;
pub(crate) const RX_DP_FFWD: u32 = 1 << 31;
pub(crate) const PMT_READY: u32 = 1 << 0;
pub(crate) const CSR_BUSY: u32 = 1 << 31;
pub(crate) const CSR_READ: u32 = 1 << 30;
pub(crate) const RX_STS_ERROR: u32 = 1 << 15;
pub(crate) const TX_CMD_A_FIRST: u32 = 1 << 13;
pub(crate) const TX_CMD_A_LAST: u32 = 1 << 12;

// MAC control and status registers, reached through MAC_CSR_CMD (section 5.4).
pub(crate) const MAC_CR: u32 = 1;
pub(crate) const ADDRH: u32 = 2;
pub(crate) const ADDRL: u32 = 3;
pub(crate) const MII_ACC: u32 = 6;
pub(crate) const MII_DATA: u32 = 7;
pub(crate) const MAC_CR_RXEN: u32 = 1 << 2;
pub(crate) const MAC_CR_TXEN: u32 = 1 << 3;
pub(crate) const MAC_CR_FDPX: u32 = 1 << 20;
pub(crate) const MII_BUSY: u32 = 1 << 0;

// The internal PHY (address 1) and its basic status register.
pub(crate) const PHY_ADDR: u32 = 1;
pub(crate) const PHY_BMSR: u32 = 1;
pub(crate) const BMSR_LINK: u16 = 1 << 2;
