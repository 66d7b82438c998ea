//! Tokenizing, decoding, encoding, framing, JSON and the call models never touch the
//! heap: a counting global allocator sees no allocation on the measuring thread.

use alloc_counter::CountingAllocator;
use csta_core::framing::{FrameReader, InvokeId, encode as frame};
use csta_core::json;
use csta_core::message::call::MakeCall;
use csta_core::types::{DeviceId, Opaque};
use csta_core::xml::{Event, Reader, Text};
use csta_core::{Edition, EncodeOptions, Message, decode};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Runs `f` and returns how many allocations it made on this thread.
fn allocations(f: impl FnOnce()) -> usize {
    assert!(alloc_counter::is_installed());
    alloc_counter::allocations(f).1
}

/// An OpenScape Voice event with escapes, a long multi-line correlator, attributes,
/// unknown elements and vendor private data (see `tests/data/no_alloc/SOURCES.md`).
const DELIVERED: &[u8] = include_bytes!("data/no_alloc/osv-DeliveredEvent.xml");

/// A message with every kind of XML markup the reader knows, decoded text included.
const MARKUP: &[u8] = br#"<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment -->
<?pi data?>
<csta:MakeCall xmlns:csta="http://www.ecma-international.org/standards/ecma-323/csta/ed5" a='1' b="&quot;2&#x27;">
  <csta:callingDevice typeOfNumber="dialingNumber">  sip:201@pbx  </csta:callingDevice>
  <csta:calledDirectoryNumber>N&lt;+49 89 1234&gt;<!-- c --><![CDATA[;x=<&>]]>&#233;</csta:calledDirectoryNumber>
  <csta:accountCode>a&amp;b&#13;</csta:accountCode>
  <csta:autoOriginate> doNotPrompt </csta:autoOriginate>
  <csta:correlatorData><csta:string>&#x1F600;</csta:string></csta:correlatorData>
  <csta:extensions><x/><y z="1">t</y></csta:extensions>
</csta:MakeCall>
"#;

#[test]
fn test_tokenizing_does_not_allocate() {
    let mut events = 0;
    let mut chars = 0;
    let count = allocations(|| {
        for input in [DELIVERED, MARKUP] {
            let mut r = Reader::new(input).unwrap();
            loop {
                match r.next_event().unwrap() {
                    Event::Eof => break,
                    Event::Start(e) => {
                        for a in e.attributes() {
                            chars += a.value.chars().count();
                        }
                    }
                    Event::Text(t) => chars += t.chars().count(),
                    _ => {}
                }
                events += 1;
            }
        }
    });
    assert!(events > 100, "{events}");
    assert!(chars > 100, "{chars}");
    assert_eq!(count, 0);
}

#[test]
fn test_decoding_does_not_allocate() {
    let mut names = [""; 2];
    let count = allocations(|| {
        for (i, input) in [DELIVERED, MARKUP].into_iter().enumerate() {
            let decoded = decode(input).unwrap();
            names[i] = decoded.message.name();
        }
        // Errors do not allocate either.
        assert!(decode(b"<MakeCall><callingDevice>1</callingDevice></MakeCall>").is_err());
        assert!(decode(b"<NoSuchMessage/>").is_err());
        assert!(decode(b"<MakeCall>").is_err());
    });
    assert_eq!(names, ["DeliveredEvent", "MakeCall"]);
    assert_eq!(count, 0);
}

#[test]
fn test_encoding_does_not_allocate() {
    let delivered = decode(DELIVERED).unwrap().message;
    let markup = decode(MARKUP).unwrap().message;
    let built = Message::MakeCall(MakeCall {
        calling_device: DeviceId::new("sip:201@pbx"),
        called_directory_number: DeviceId::new("N<+49 89 1234>"),
        account_code: Some(Text::new("a&b\r\"'")),
        auth_code: None,
        auto_originate: None,
        correlator_data: Some(Opaque::new("\u{1f600}")),
    });
    let mut buf = [0u8; 4096];
    let mut lens = [0usize; 3];
    let count = allocations(|| {
        for (i, m) in [&delivered, &markup, &built].into_iter().enumerate() {
            for edition in [Edition::Ed3, Edition::Ed4, Edition::Ed5, Edition::Ed6] {
                let options = EncodeOptions {
                    edition,
                    declaration: true,
                };
                lens[i] = m.encode_with(&options, &mut buf).unwrap();
                assert_eq!(m.buffer_len(&options), lens[i]);
            }
            assert!(m.encode(Edition::Ed3, &mut buf[..10]).is_err());
        }
    });
    assert!(lens.iter().all(|&n| n > 100), "{lens:?}");
    assert_eq!(count, 0);
}

#[test]
fn test_framing_does_not_allocate() {
    let message = decode(DELIVERED).unwrap().message;
    let mut xml = [0u8; 2048];
    let mut wire = [0u8; 8192];
    let mut reader = FrameReader::new([0u8; 4096], 4096);
    let mut frames = 0;
    let count = allocations(|| {
        // Three frames back to back: two events, one request.
        let mut at = 0;
        for id in [InvokeId::EVENT, InvokeId::EVENT, InvokeId::new(17).unwrap()] {
            let n = message.encode(Edition::Ed4, &mut xml).unwrap();
            at += frame(id, &xml[..n], &mut wire[at..]).unwrap();
        }
        // Fed in uneven pieces, as a socket would.
        for chunk in wire[..at].chunks(333) {
            let mut rest = chunk;
            while !rest.is_empty() {
                let taken = reader.push(rest);
                rest = &rest[taken..];
                while let Some(f) = reader.next_frame().unwrap() {
                    let decoded = decode(f.body).unwrap();
                    assert_eq!(decoded.message.name(), "DeliveredEvent");
                    frames += 1;
                }
            }
        }
    });
    assert_eq!(frames, 3);
    assert_eq!(count, 0);
}

#[test]
fn test_json_does_not_allocate() {
    let delivered = decode(DELIVERED).unwrap().message;
    let markup = decode(MARKUP).unwrap().message;
    let mut buf = [0u8; 4096];
    let mut lens = [0usize; 2];
    let count = allocations(|| {
        for (i, m) in [&delivered, &markup].into_iter().enumerate() {
            let n = json::to_slice(m, &mut buf).unwrap();
            let back = json::from_slice(&buf[..n]).unwrap();
            assert!(back == *m);
            lens[i] = n;
        }
        assert!(json::from_slice(br#"{"MakeCall":{}}"#).is_err());
        assert!(json::from_slice(b"{").is_err());
    });
    assert!(lens.iter().all(|&n| n > 100), "{lens:?}");
    assert_eq!(count, 0);
}

#[test]
fn test_call_model_does_not_allocate() {
    use csta_core::model::phone::{Device, Progress};
    use csta_core::model::view::DeviceView;

    const ME: &str = "sip:201@pbx.example.com";
    const MONITOR: &[u8] = br#"<MonitorStart xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3"><monitorObject><deviceObject>sip:201@pbx.example.com</deviceObject></monitorObject></MonitorStart>"#;
    const MAKE_CALL: &[u8] = br#"<MakeCall xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3"><callingDevice>sip:201@pbx.example.com</callingDevice><calledDirectoryNumber>202</calledDirectoryNumber><autoOriginate>doNotPrompt</autoOriginate></MakeCall>"#;

    // Boxed outside the measurement: the models are large values.
    let mut phone = Box::new(Device::<4>::new(ME).unwrap());
    let mut view = Box::new(DeviceView::<4>::new(ME).unwrap());
    let mut buf = [0u8; 2048];
    let mut events = 0;
    let mut in_view = 0;
    let count = allocations(|| {
        for request in [MONITOR, MAKE_CALL] {
            let request = decode(request).unwrap().message;
            let reply = phone.handle_request(&request);
            let n = reply.message().encode(Edition::Ed3, &mut buf).unwrap();
            view.handle_message(&decode(&buf[..n]).unwrap().message)
                .unwrap();
        }
        let call = phone.find("1").unwrap();
        for progress in [
            Progress::Originated { called: "202" },
            Progress::Ringing,
            Progress::Answered,
            Progress::Cleared { remote: true },
        ] {
            phone.handle_progress(call, progress).unwrap();
            while let Some(event) = phone.poll_event() {
                let n = event.message().encode(Edition::Ed3, &mut buf).unwrap();
                view.handle_message(&decode(&buf[..n]).unwrap().message)
                    .unwrap();
                in_view = in_view.max(view.calls().count());
                events += 1;
            }
        }
        while phone.poll_command().is_some() {}
    });
    assert_eq!(count, 0);
    assert_eq!(events, 5);
    assert_eq!(in_view, 1);
    assert_eq!(view.calls().count(), 0);
}
