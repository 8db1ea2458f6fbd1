//! Measuring: what the driver's requests and the engine's own `/metrics` showed, kept in histograms
//! and counters with one owner per stage (`recorder`), once-a-second points (`timeline`) and the
//! engine's server-side view over the same window (`server`). Imports only `scenario` and `client`.

pub mod recorder;
pub mod server;
pub mod timeline;
