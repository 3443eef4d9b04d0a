//! Writes a core `LogLine` to the runtime's log: warnings and errors to `console.error`, the rest to `console.log`.

use edgepay_core::log_line::{Level, LogLine};
use worker::{console_error, console_log};

pub fn emit(line: &LogLine) {
    write(line.level, &line.render());
}

/// Writes an already rendered line (the request line, `http::request_log`) at `level`.
pub fn write(level: Level, rendered: &str) {
    match level {
        Level::Info => console_log!("{rendered}"),
        Level::Warn | Level::Error => console_error!("{rendered}"),
    }
}
