//! The smallest useful sip-lite firmware: parse one datagram and read the headers a
//! transaction layer needs (top Via branch, CSeq, Call-ID, From tag). `black_box` keeps
//! the input opaque and the results alive, so the size measured is that of the real
//! parser, not of a constant the compiler folded.
#![no_std]
#![no_main]

use core::hint::black_box;
use core::panic::PanicInfo;

use cortex_m_rt::entry;
use sip_lite::wire::{HeaderIndex, Message};

static DATAGRAM: &[u8] = b"INVITE sip:bob@192.0.2.4 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
To: <sip:bob@192.0.2.4>\r\n\
From: Alice <sip:alice@192.0.2.1>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@192.0.2.1\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@192.0.2.1>\r\n\
Content-Length: 0\r\n\
\r\n";

#[entry]
fn main() -> ! {
    let mut headers = [HeaderIndex::EMPTY; 16];
    let input = black_box(DATAGRAM);
    if let Ok(msg) = Message::parse(input, &mut headers) {
        let branch = msg.top_via().ok().and_then(|v| v.branch());
        let seq = msg.cseq().map(|c| c.seq).unwrap_or(0);
        let call_id = msg.call_id().ok();
        let tag = msg.from().ok().and_then(|f| f.tag());
        black_box((branch, seq, call_id, tag));
    }
    loop {
        cortex_m_rt_idle();
    }
}

#[inline(always)]
fn cortex_m_rt_idle() {
    black_box(());
}

#[panic_handler]
fn panic(_: &PanicInfo<'_>) -> ! {
    loop {
        black_box(());
    }
}
