//! The XML layer: a pull tokenizer, lazily decoded text and an escaping writer.
//!
//! [`Reader`] checks well-formedness and yields borrowed [`Event`]s; it knows nothing
//! of CSTA. Names are matched by local name (prefixes are kept but not resolved), the
//! declared encoding is ignored (input is UTF-8), DTDs are refused and only the five
//! predefined entities and character references exist. [`Writer`] escapes what it
//! writes into a caller's buffer and reports the size needed when the buffer is too
//! small.

mod reader;
mod text;
mod writer;

pub(crate) use reader::is_name_start;
pub use reader::{
    Attribute, Attributes, Element, Event, Leniency, Limits, MAX_DEPTH, Reader, XmlError,
    XmlErrorKind,
};
pub(crate) use text::check_json;
pub use text::{Chars, Text, TextTooLong};
pub(crate) use writer::needs_no_escaping;
pub use writer::{WriteError, Writer};
