//! Stage 4 of the pipeline, fed by `run`: what the driver's requests and the engine's own `/metrics`
//! showed, kept in histograms and counters with one owner per stage (`recorder`), once-a-second points
//! (`timeline`), the engine's server-side view over the same window (`server`), and the confidence
//! intervals that say how far a statistic of a sample can be trusted (`interval`). Uses only
//! `scenario` and `client`, so the driver below the gate can own its recorders.

pub mod interval;
pub mod recorder;
pub mod server;
pub mod timeline;
