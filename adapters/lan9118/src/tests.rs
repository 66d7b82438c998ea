//! The driver against a model of the chip's registers and FIFOs.

use std::collections::VecDeque;
use std::vec::Vec;

use core::task::{Context, Waker};
use embassy_net_driver::{Driver, LinkState, RxToken as _, TxToken as _};
use embassy_sync::waitqueue::AtomicWaker;

use super::*;

/// What the data sheet says the chip does, as far as the driver uses it.
struct Chip {
    byte_test: u32,
    id_rev: u32,
    ready: bool,
    int_en: u32,
    int_sts: u32,
    irq_cfg: u32,
    tx_cfg: u32,
    csr: [u32; 16],
    csr_data: u32,
    phy_bmsr: u16,
    rx_status: VecDeque<u32>,
    rx_data: VecDeque<u32>,
    /// Words of the frame whose status was popped last, not yet read.
    rx_left: usize,
    tx_data: Vec<u32>,
    tx_status: VecDeque<u32>,
    tx_free: u32,
    resets: u32,
    fast_forwards: u32,
}

impl Chip {
    fn new() -> Chip {
        let mut csr = [0; 16];
        // QEMU's default station address 52:54:00:12:34:56.
        csr[ADDRL as usize] = u32::from_le_bytes([0x52, 0x54, 0x00, 0x12]);
        csr[ADDRH as usize] = 0x5634;
        Chip {
            byte_test: BYTE_TEST_VALUE,
            id_rev: 0x0118_0001,
            ready: true,
            int_en: 0,
            int_sts: 0,
            irq_cfg: 0,
            tx_cfg: 0,
            csr,
            csr_data: 0,
            phy_bmsr: 0x7809 | BMSR_LINK,
            rx_status: VecDeque::new(),
            rx_data: VecDeque::new(),
            rx_left: 0,
            tx_data: Vec::new(),
            tx_status: VecDeque::new(),
            tx_free: 4608,
            resets: 0,
            fast_forwards: 0,
        }
    }

    /// A received frame: `payload` plus four octets of CRC, status word first.
    fn deliver(&mut self, payload: &[u8], error: bool) {
        let len = payload.len() + 4;
        let status = ((len as u32) << 16) | if error { RX_STS_ERROR } else { 0 };
        self.rx_status.push_back(status);
        let mut bytes = payload.to_vec();
        bytes.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        for c in bytes.chunks(4) {
            let mut w = [0u8; 4];
            w[..c.len()].copy_from_slice(c);
            self.rx_data.push_back(u32::from_le_bytes(w));
        }
    }

    /// The frames written to the TX FIFO: command words checked, data returned.
    fn sent(&mut self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut w = self.tx_data.drain(..).collect::<VecDeque<_>>();
        while let Some(a) = w.pop_front() {
            let b = w.pop_front().expect("command B");
            assert_eq!(
                a & (TX_CMD_A_FIRST | TX_CMD_A_LAST),
                TX_CMD_A_FIRST | TX_CMD_A_LAST
            );
            let len = (a & 0x7ff) as usize;
            assert_eq!(b & 0x7ff, len as u32, "command B repeats the length");
            let mut bytes = Vec::new();
            for _ in 0..len.div_ceil(4) {
                bytes.extend_from_slice(&w.pop_front().expect("data word").to_le_bytes());
            }
            bytes.truncate(len);
            out.push(bytes);
        }
        out
    }
}

impl Registers for Chip {
    fn read(&mut self, offset: u32) -> u32 {
        match offset {
            RX_DATA_FIFO => {
                self.rx_left = self.rx_left.saturating_sub(1);
                self.rx_data.pop_front().unwrap_or(0)
            }
            RX_STATUS_FIFO => match self.rx_status.pop_front() {
                Some(s) => {
                    self.rx_left = (((s >> 16) & 0x3fff) as usize).div_ceil(4);
                    s
                }
                None => 0,
            },
            TX_STATUS_FIFO => self.tx_status.pop_front().unwrap_or(0),
            ID_REV => self.id_rev,
            IRQ_CFG => self.irq_cfg,
            INT_STS => self.int_sts,
            INT_EN => self.int_en,
            BYTE_TEST => self.byte_test,
            TX_CFG => self.tx_cfg,
            HW_CFG | RX_DP_CTRL => 0,
            RX_FIFO_INF => ((self.rx_status.len() as u32) << 16) | (self.rx_data.len() as u32 * 4),
            TX_FIFO_INF => ((self.tx_status.len() as u32) << 16) | self.tx_free,
            PMT_CTRL => u32::from(self.ready),
            MAC_CSR_CMD => 0,
            MAC_CSR_DATA => self.csr_data,
            _ => panic!("read of {offset:#x}"),
        }
    }

    fn write(&mut self, offset: u32, value: u32) {
        match offset {
            TX_DATA_FIFO => {
                self.tx_data.push(value);
                if self.tx_data.len() == 2 {
                    self.tx_status.push_back(value & 0xffff_0000);
                }
            }
            IRQ_CFG => self.irq_cfg = value,
            INT_STS => self.int_sts &= !value,
            INT_EN => self.int_en = value,
            FIFO_INT => {}
            TX_CFG => self.tx_cfg = value,
            HW_CFG => {
                assert_eq!(value, HW_CFG_SRST);
                self.resets += 1;
            }
            RX_DP_CTRL => {
                assert_eq!(value, RX_DP_FFWD);
                assert!(self.rx_left >= 4, "fast-forward needs four words or more");
                for _ in 0..self.rx_left {
                    self.rx_data.pop_front();
                }
                self.rx_left = 0;
                self.fast_forwards += 1;
            }
            MAC_CSR_DATA => self.csr_data = value,
            MAC_CSR_CMD => {
                assert!(value & CSR_BUSY != 0);
                let index = (value & 0xff) as usize;
                if value & CSR_READ != 0 {
                    self.csr_data = self.csr[index];
                } else {
                    self.csr[index] = self.csr_data;
                    if index == MII_ACC as usize {
                        // A PHY access completes at once.
                        let reg = (self.csr_data >> 6) & 0x1f;
                        let phy = (self.csr_data >> 11) & 0x1f;
                        assert_eq!(phy, PHY_ADDR);
                        self.csr[MII_DATA as usize] = if reg == PHY_BMSR {
                            u32::from(self.phy_bmsr)
                        } else {
                            0
                        };
                        self.csr[MII_ACC as usize] &= !MII_BUSY;
                    }
                }
            }
            _ => panic!("write of {offset:#x}"),
        }
    }
}

fn cx() -> Context<'static> {
    Context::from_waker(Waker::noop())
}

#[test]
fn brings_up_the_chip() {
    let waker = AtomicWaker::new();
    let mut chip = Chip::new();
    let d = Lan9118::new(&mut chip, None, &waker).unwrap();
    assert_eq!(d.mac_address(), [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
    assert_eq!(d.chip_id(), 0x0118);
    assert_eq!(chip.resets, 1);
    assert_eq!(chip.tx_cfg & TX_CFG_TX_ON, TX_CFG_TX_ON);
    let cr = chip.csr[MAC_CR as usize];
    assert_eq!(cr & (MAC_CR_TXEN | MAC_CR_RXEN), MAC_CR_TXEN | MAC_CR_RXEN);
    assert_eq!(chip.irq_cfg & IRQ_CFG_EN, IRQ_CFG_EN);

    let mac = [0x02, 0, 0, 0xaa, 0xbb, 0xcc];
    let d = Lan9118::new(&mut chip, Some(mac), &waker).unwrap();
    assert_eq!(d.hardware_address(), HardwareAddress::Ethernet(mac));
    assert_eq!(chip.csr[ADDRL as usize], 0xaa00_0002);
    assert_eq!(chip.csr[ADDRH as usize], 0xccbb);
}

#[test]
fn refuses_what_is_not_a_lan9118() {
    let waker = AtomicWaker::new();
    let mut chip = Chip::new();
    chip.byte_test = 0x2143_6587;
    assert_eq!(
        Lan9118::new(&mut chip, None, &waker).unwrap_err(),
        Error::NotPresent(0x2143_6587)
    );
    let mut chip = Chip::new();
    chip.id_rev = 0x1234_0000;
    assert_eq!(
        Lan9118::new(&mut chip, None, &waker).unwrap_err(),
        Error::UnknownChip(0x1234_0000)
    );
    let mut chip = Chip::new();
    chip.ready = false;
    assert_eq!(
        Lan9118::new(&mut chip, None, &waker).unwrap_err(),
        Error::Timeout
    );
}

#[test]
fn receives_frames_and_skips_bad_ones() {
    let waker = AtomicWaker::new();
    let mut chip = Chip::new();
    let good: Vec<u8> = (0..61u8).collect();
    chip.deliver(&[0xee; 100], true);
    chip.deliver(&good, false);
    chip.deliver(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14], false);
    chip.deliver(&[9; 3], true);
    let mut d = Lan9118::new(&mut chip, None, &waker).unwrap();
    let (rx, _tx) = d.receive(&mut cx()).expect("a frame");
    assert_eq!(
        rx.consume(|f| f.to_vec()),
        good,
        "CRC dropped, bad frame skipped"
    );
    let (rx, _tx) = d.receive(&mut cx()).expect("a frame");
    assert_eq!(rx.consume(|f| f.len()), 14);
    assert!(
        d.receive(&mut cx()).is_none(),
        "the short bad frame is read away"
    );
    assert_eq!(d.stats().rx_frames, 2);
    assert_eq!(d.stats().rx_errors, 2);
    assert_eq!(chip.fast_forwards, 1);
    assert!(chip.rx_data.is_empty());
    assert_eq!(
        chip.int_en & INT_RSFL,
        INT_RSFL,
        "waiting for the next frame"
    );
}

#[test]
fn transmits_with_command_words_and_drains_status() {
    let waker = AtomicWaker::new();
    let mut chip = Chip::new();
    let mut d = Lan9118::new(&mut chip, None, &waker).unwrap();
    let frame: Vec<u8> = (0..42u8).collect();
    d.transmit(&mut cx())
        .unwrap()
        .consume(frame.len(), |b| b.copy_from_slice(&frame));
    d.transmit(&mut cx()).unwrap().consume(5000, |b| b.fill(7));
    assert_eq!(d.stats().tx_frames, 2);
    assert_eq!(d.stats().tx_oversized, 1);
    let sent = chip.sent();
    assert_eq!(sent[0], frame);
    assert_eq!(sent[1].len(), MTU);

    // No room in the TX FIFO: no token, and the TX-available interrupt armed.
    chip.tx_free = 64;
    let mut d = Lan9118::new(&mut chip, None, &waker).unwrap();
    assert!(d.transmit(&mut cx()).is_none());
    assert!(d.receive(&mut cx()).is_none());
    assert_eq!(chip.int_en & INT_TDFA, INT_TDFA);
}

#[test]
fn link_state_from_the_phy_and_interrupts_masked() {
    let waker = AtomicWaker::new();
    let mut chip = Chip::new();
    let mut d = Lan9118::new(&mut chip, None, &waker).unwrap();
    assert!(d.link_state(&mut cx()) == LinkState::Up);
    chip.phy_bmsr &= !BMSR_LINK;
    let mut d = Lan9118::new(&mut chip, None, &waker).unwrap();
    assert!(d.link_state(&mut cx()) == LinkState::Down);
    assert!(d.receive(&mut cx()).is_none());
    chip.int_sts = INT_RSFL;
    on_interrupt(&mut chip, &waker);
    assert_eq!(chip.int_en, 0, "masked until the driver re-arms");
    assert_eq!(chip.int_sts, 0);
}
