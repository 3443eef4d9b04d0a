//! The billed units this isolate caused, counted where they happen (`edgepay_core::cost::Units`); `POST /__faults/usage` reads them, for `make bench`'s cost table.
//!
//! Under `wrangler dev` the Worker and every Durable Object share one isolate, so these
//! counters see a whole payment. On Cloudflare they are per isolate and nothing reads them.

use std::cell::Cell;

use edgepay_core::cost::Units;

thread_local! {
    static UNITS: Cell<Units> = Cell::new(Units::default());
}

/// Adds to the counters.
pub fn count(add: impl FnOnce(&mut Units)) {
    UNITS.with(|cell| {
        let mut units = cell.get();
        add(&mut units);
        cell.set(units);
    });
}

/// The counters so far.
pub fn snapshot() -> Units {
    UNITS.with(Cell::get)
}
