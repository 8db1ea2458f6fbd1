//! Soak test, opt-in: a few hundred requests per second for a few minutes against the fault server
//! with 10 % of requests faulty. Every scheduled request must be accounted for exactly and memory must
//! stay flat. Run it with
//!
//! ```sh
//! cargo test --release --test it soak -- --ignored --nocapture
//! INFERGATE_SOAK_SECONDS=600 INFERGATE_SOAK_RATE=500 cargo test --release --test it soak -- --ignored --nocapture
//! ```

use std::path::Path;
use std::time::Duration;

use crate::support::fault_server::{Fault, fault_server};
use infergate::run::{RunOptions, Target, run_scenario};
use infergate::scenario::Scenario;

fn env_number(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Resident memory of this process in MiB (Linux).
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "minutes long; run on purpose (see the file's docs)"]
async fn hours_of_faults_in_minutes_with_exact_accounting_and_flat_memory() {
    let seconds = env_number("INFERGATE_SOAK_SECONDS", 180.0);
    let rate = env_number("INFERGATE_SOAK_RATE", 300.0);
    let faulty = [
        Fault::ResetAfter(1),
        Fault::BrokenJson,
        Fault::NoDone,
        Fault::UsageOnly,
        Fault::EmptyChoices,
        Fault::Status(503),
        Fault::Status(429),
        Fault::StallAfterFirstToken,
        Fault::NeverAnswer,
    ];
    // Nine healthy answers, then one fault: 10 % of requests.
    let faults: Vec<Fault> = faulty
        .iter()
        .flat_map(|f| [[Fault::Healthy; 9].as_slice(), &[*f]].concat())
        .collect();
    let url = fault_server(faults).await;
    let yaml = format!(
        "api: {{streaming: true}}\nload:\n  stages: [{{rate: {rate}, duration: {seconds}}}]\n  request_timeout: 2\n  idle_timeout: 0.5\n  num_workers: 10\n"
    );
    let scenario = Scenario::from_source(Path::new("soak.yaml"), &yaml).unwrap();
    let options = RunOptions {
        target: Target::Url(url),
        ..RunOptions::default()
    };
    // Memory is sampled from a thread of its own, once a second, for the whole run.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = std::thread::spawn({
        let done = std::sync::Arc::clone(&done);
        move || {
            let mut samples = Vec::new();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                samples.push(rss_mib());
                std::thread::sleep(Duration::from_secs(1));
            }
            samples
        }
    });
    let run = run_scenario(&scenario, &options).await.unwrap();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let samples = sampler.join().unwrap();
    let r = &run.total;
    let expected = (rate * seconds).ceil() as u64;
    let failed: u64 = r.failed();
    println!(
        "soak: {seconds}s at {rate} req/s: scheduled {}, ok {}, failed {failed}, timed out {} (idle {}), cancelled {}",
        r.scheduled, r.ok, r.timed_out, r.idle_timeouts, r.cancelled
    );
    for (kind, group) in &r.failures {
        println!("  {kind}: {}", group.count);
    }
    let p99 = r.schedule_delay.value_at_quantile(0.99) as f64 / 1000.0;
    println!(
        "  schedule delay p99 {p99:.2} ms; rss now {:.1} MiB",
        rss_mib()
    );
    assert_eq!(r.scheduled, expected);
    assert_eq!(
        r.accounted(),
        r.scheduled,
        "every request in exactly one bucket"
    );
    // Flat memory: the last quarter of the run uses no more than the second quarter, give or take.
    let quarter = samples.len() / 4;
    let early = samples[quarter..2 * quarter]
        .iter()
        .cloned()
        .fold(0.0, f64::max);
    let late = samples[3 * quarter..].iter().cloned().fold(0.0, f64::max);
    println!("  rss max, second quarter {early:.1} MiB, last quarter {late:.1} MiB");
    assert!(
        late <= early * 1.25 + 8.0,
        "memory grew from {early:.1} to {late:.1} MiB"
    );
    let bad = (failed + r.timed_out) as f64 / r.scheduled as f64;
    assert!(
        (bad - 0.10).abs() < 0.01,
        "10 % injected, {:.2} % observed",
        bad * 100.0
    );
}
