//! infergate: a performance gate for LLM inference endpoints.
//!
//! Scenario files (inference-perf configs plus k6-style `thresholds`) become test cases; each drives
//! staged load against an OpenAI-compatible endpoint, measures it in HDR histograms, and is judged
//! pass, fail (the target missed an SLO) or invalid (the runner could not keep up).
//!
//! # Layout
//!
//! The data flows one way:
//!
//! ```text
//! suites/*.yaml ─► scenario (raw serde mirror ─► validated Scenario + parsed thresholds)
//!               ─► plan (stages; quick mode against the simulator)
//!               ─► schedule (arrival offsets) + datagen (prompts, max_tokens)
//!               ─► loadgen (deadlines, slots; intended vs actual send) ─► client (HTTP, SSE, timings)
//!               ─► recorder (histograms and counters, one owner per stage)
//!               ─► gate (thresholds + validity ─► verdicts)
//!               ─► outputs (lifecycle JSON, verdicts, JUnit, console table)
//! ```
//!
//! `run` runs one scenario, `execute` adds its reports, and `harness` (libtest-mimic) and the
//! `infergate` binary (clap) are two thin doors onto them. `sim` is the embedded engine simulator, an
//! OpenAI-compatible HTTP server that the default run and the tests reach over real HTTP.

pub mod bench;
pub mod cli;
pub mod client;
pub mod execute;
pub mod gate;
pub mod harness;
pub mod measure;
pub mod options;
pub mod plan;
pub mod report;
pub mod run;
pub mod scenario;
pub mod sim;
pub mod store;
