//! Stage 4 of the pipeline, fed by `run`: what the driver's requests and the engine's own `/metrics`
//! showed, kept in histograms and counters with one owner per stage (`recorder`), once-a-second points
//! (`timeline`) and the engine's server-side view over the same window (`server`). Uses only
//! `scenario` and `client`, so the driver below the gate can own its recorders.

pub mod recorder;
pub mod server;
pub mod timeline;
