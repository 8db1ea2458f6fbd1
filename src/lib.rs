//! infergate: a performance gate for LLM inference endpoints.
//!
//! Scenario files (inference-perf configs plus k6-style `thresholds`) become test cases; each drives
//! staged load against an OpenAI-compatible endpoint, measures it in HDR histograms, and is judged
//! pass, fail (the target missed an SLO) or invalid (the runner could not keep up).
//!
//! # Layout
//!
//! The folders are the pipeline, and the data flows one way through it:
//!
//! ```text
//! suites/*.yaml ─► scenario  raw serde mirror ─► validated Scenario, thresholds, the metric catalogue
//!               ─► plan      stages, arrival offsets, shards of the schedule, prompts by global index
//!               ─► run       pre-flight, load threads, pacer, stage driver (deadlines, slots),
//!                            sweep, progress, shards' runs merged
//!                    └─► client    one HTTP builder; requests, SSE, per-chunk timestamps ─► Exchange
//!               ─► measure   recorder (HDR histograms, counters), timeline, the engine's /metrics
//!               ─► gate      thresholds + validity ─► verdicts; knee; baseline statistics
//!               ─► report    the typed report schema (JSON), JUnit, console, report.html, plots
//!               ─► store     local directories and S3: reports, baselines, the shards' rendezvous
//! ```
//!
//! Each module uses only modules listed above it (`client` sits below `plan`, whose tokenizer
//! download goes through it; `sim` beside `measure`); `tests/it/architecture.rs` keeps it so. The run
//! never calls the gate: `abortOnFail` thresholds reach the driver as a closure (`run::Abort`).
//!
//! Above the pipeline: `options` (one set of options from flags and `INFERGATE_*` variables),
//! `execute` (one scenario file start to finish, or one shard of it and the merge), and the two
//! doors, `harness` (libtest-mimic, for `cargo test --test perf-suites`) and `cli` (clap, the
//! `infergate` binary). `sim` is the embedded engine simulator, an OpenAI-compatible HTTP server
//! that the default run and the tests reach over real HTTP; `bench` measures the load generator
//! against it.

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
