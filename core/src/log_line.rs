//! Every log line but the request line: one JSON object built from a struct, `level` and `msg` first.
//!
//! The request line (one per request, its own fixed fields) is `http::request_log`. Everything
//! else (state transitions, callback events, runtime failures) is a `LogLine`, so no line is
//! formatted by hand and every value is escaped by `serde_json`. Secrets never go in one.

use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Info,
    Warn,
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogLine {
    pub level: Level,
    pub msg: &'static str,
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

impl LogLine {
    pub fn new(level: Level, msg: &'static str) -> Self {
        Self {
            level,
            msg,
            fields: Map::new(),
        }
    }

    pub fn info(msg: &'static str) -> Self {
        Self::new(Level::Info, msg)
    }

    pub fn warn(msg: &'static str) -> Self {
        Self::new(Level::Warn, msg)
    }

    pub fn error(msg: &'static str) -> Self {
        Self::new(Level::Error, msg)
    }

    /// Adds `key`; a value that cannot be represented as JSON is logged as `null`.
    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        let value = serde_json::to_value(value).unwrap_or(Value::Null);
        self.fields.insert(key.to_owned(), value);
        self
    }

    /// The line as one line of JSON.
    pub fn render(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| {
            serde_json::json!({"level": "error", "msg": "unloggable line", "of": self.msg})
                .to_string()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_one_json_object_with_its_values_escaped() {
        let line = LogLine::warn("enqueue failed")
            .with("queue", "CALLBACKS")
            .with("detail", "a \"quoted\"\nvalue")
            .render();
        assert!(!line.contains('\n'));
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["level"], "warn");
        assert_eq!(v["msg"], "enqueue failed");
        assert_eq!(v["detail"], "a \"quoted\"\nvalue");
        assert!(line.starts_with(r#"{"level":"warn","msg":"enqueue failed""#));
    }
}
