//! The integration tests, as one binary (one link of the crate instead of one per file). Every test
//! talks to real servers on 127.0.0.1: the embedded simulator, wiremock, the fault server, a real
//! S3-compatible store, or the `infergate` binary itself. The timing-sensitive runs stay apart:
//! `perf-suites` (the suites as test cases) and `real_engine` (llama.cpp's server and a Prometheus
//! server, shown as ignored where they are missing); the soak test is
//! here but `#[ignore]`d (`cargo test --release --test it soak -- --ignored --nocapture`).

mod support;

mod architecture;
mod baselines;
mod breakers;
mod capacity;
mod cli;
mod client_wiremock;
mod datasets;
mod docs;
mod faults;
mod floor;
mod fuzz;
mod gate_sim;
mod gate_trust;
mod goodput;
mod google_cloud;
mod helm_chart;
mod history;
mod indexed_job;
mod inference_perf_configs;
mod kubernetes;
mod lora;
mod multimodal;
mod per_request;
mod profile;
mod reasoning;
mod replay;
mod reports;
mod scenarios;
mod schema;
mod server_metrics;
mod sessions;
mod sharded_runs;
mod shards;
mod soak;
mod stopping;
mod tls;
mod token_counts;
mod tokenizers;
mod trace_replay;
mod weka;
