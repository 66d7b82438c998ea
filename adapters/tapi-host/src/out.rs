//! The host's standard output: one JSON object per line, keys in a fixed order
//! (`t` and `msg` first), and nothing else.

use std::io::Write;

use serde_json::{Map, Value};

/// The fields of one output line, in order.
pub type Fields = Vec<(&'static str, Value)>;

/// Writes lines to standard output and keeps them (the waits look at them, a wait that
/// times out lists them).
#[derive(Debug, Default)]
pub struct Output {
    lines: Vec<Value>,
    quiet: bool,
}

impl Output {
    /// An output to standard output.
    pub fn new() -> Output {
        Output::default()
    }

    /// An output that only keeps its lines (for tests of the host itself).
    pub fn quiet() -> Output {
        Output {
            lines: Vec::new(),
            quiet: true,
        }
    }

    /// Prints `{"t":t,"msg":msg, fields...}` and keeps it.
    pub fn emit(&mut self, t: u64, msg: &str, fields: Fields) {
        let mut text = format!("{{\"t\":{t},\"msg\":{}", Value::from(msg));
        let mut map = Map::new();
        map.insert("t".into(), t.into());
        map.insert("msg".into(), msg.into());
        for (k, v) in fields {
            text.push_str(&format!(",{}:{}", Value::from(k), v));
            map.insert(k.into(), v);
        }
        text.push('}');
        if !self.quiet {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            // A closed stdout (the reader went away) is not the host's failure to
            // report; the run goes on and its exit status still tells.
            let _ = writeln!(lock, "{text}");
            let _ = lock.flush();
        }
        self.lines.push(Value::Object(map));
    }

    /// Every line so far.
    pub fn lines(&self) -> &[Value] {
        &self.lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_emit_keeps_order_and_value() {
        let mut out = Output::quiet();
        out.emit(
            5,
            "LINE_CALLSTATE",
            vec![("dev", 100.into()), ("state", "OFFERING".into())],
        );
        assert_eq!(
            out.lines()[0],
            serde_json::json!({"t": 5, "msg": "LINE_CALLSTATE", "dev": 100, "state": "OFFERING"})
        );
    }
}
