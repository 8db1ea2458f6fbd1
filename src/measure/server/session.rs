//! Scraping during one stage, on a thread and runtime of its own so that fetching and parsing a large
//! `/metrics` page never delays the load generator's sends. A scrape happens when the stage starts,
//! every `interval`, and once more when it ends.

use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::{Snapshot, StageServer, exposition};
use crate::client::Http;

/// Where and how often to scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct ScrapeTarget {
    /// The engine's `/metrics` (or any exposition endpoint, e.g. a Prometheus `/federate`).
    pub url: String,
    /// A DCGM exporter for GPU utilisation, when configured.
    pub dcgm_url: Option<String>,
    pub interval: Duration,
    /// How to reach `url`: the scenario's TLS files, and the target's key when `url` is on the target
    /// itself (a URL on another host never sees the key; the DCGM exporter never does).
    pub access: Http,
    /// Label matchers a sample must meet (`=` and `!=`; the regex forms need a Prometheus server).
    pub filters: Vec<crate::scenario::scrape::Matcher>,
}

/// Scrapes one URL once.
pub async fn scrape(http: &reqwest::Client, url: &str) -> Result<Vec<exposition::Sample>, String> {
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {}", crate::client::describe_error(&e)))?;
    if !response.status().is_success() {
        return Err(format!(
            "GET {url} answered HTTP {}",
            response.status().as_u16()
        ));
    }
    let text = response
        .text()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    Ok(exposition::parse(&text))
}

/// The clients for the target's URL and for the DCGM exporter, each bounded by the scrape interval.
fn clients(target: &ScrapeTarget) -> Result<(reqwest::Client, reqwest::Client), String> {
    let timeout = target
        .interval
        .clamp(Duration::from_millis(500), Duration::from_secs(5));
    let main = target.access.clone().timeout(timeout);
    let dcgm = main.without_key();
    let build = |http: Http| http.build().map_err(|e| format!("metrics: {e}"));
    Ok((build(main)?, build(dcgm)?))
}

/// Scrapes the target and the DCGM exporter once, as one snapshot.
async fn snapshot(
    (main, dcgm_http): &(reqwest::Client, reqwest::Client),
    target: &ScrapeTarget,
) -> Result<Snapshot, String> {
    let mut samples = scrape(main, &target.url).await?;
    samples.retain(|s| {
        let admitted = |f: &crate::scenario::scrape::Matcher| f.admits(&s.labels) != Some(false);
        target.filters.iter().all(admitted)
    });
    if let Some(dcgm) = &target.dcgm_url {
        samples.extend(scrape(dcgm_http, dcgm).await?);
    }
    Ok(Snapshot::from_samples(&samples))
}

/// Whether `target` answers with metrics infergate recognises; the reason when not.
pub async fn probe(target: &ScrapeTarget) -> Result<Vec<&'static str>, String> {
    let snapshot = snapshot(&clients(target)?, target).await?;
    if snapshot.engines.is_empty() {
        Err(format!(
            "{} has no vLLM, SGLang, TGI or llama.cpp metrics",
            target.url
        ))
    } else {
        Ok(snapshot.engines)
    }
}

/// A stage's scraping, under way.
pub struct Session {
    stop: Option<oneshot::Sender<()>>,
    done: oneshot::Receiver<StageServer>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Session {
    /// Starts scraping and returns once the first scrape is done (or failed), so that the stage's
    /// window opens after it: counters and histograms then grow by exactly the stage's requests.
    pub async fn start(target: &ScrapeTarget) -> Session {
        let (stop, mut stopped) = oneshot::channel::<()>();
        let (report, done) = oneshot::channel();
        let (started, first_scrape) = oneshot::channel::<()>();
        let target = target.clone();
        let thread = std::thread::Builder::new()
            .name("infergate-scrape".into())
            .spawn(move || {
                let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                runtime.block_on(async move {
                    let http = clients(&target);
                    let mut snapshots: Vec<(Instant, Snapshot)> = Vec::new();
                    let (mut failed, mut last_error) = (0u32, None);
                    let mut started = Some(started);
                    loop {
                        let finishing = matches!(
                            stopped.try_recv(),
                            Ok(()) | Err(oneshot::error::TryRecvError::Closed)
                        );
                        let scraped = match &http {
                            Ok(http) => snapshot(http, &target).await,
                            Err(e) => Err(e.clone()),
                        };
                        match scraped {
                            Ok(s) => snapshots.push((Instant::now(), s)),
                            Err(e) => {
                                failed += 1;
                                last_error = Some(e);
                            }
                        }
                        if let Some(started) = started.take() {
                            let _ = started.send(());
                        }
                        if finishing {
                            break;
                        }
                        tokio::select! {
                            _ = tokio::time::sleep(target.interval) => {}
                            _ = &mut stopped => {}
                        }
                    }
                    let seconds = match (snapshots.first(), snapshots.last()) {
                        (Some(a), Some(b)) => b.0.duration_since(a.0).as_secs_f64(),
                        _ => 0.0,
                    };
                    let only: Vec<Snapshot> = snapshots.into_iter().map(|(_, s)| s).collect();
                    let mut stage = StageServer::from_snapshots(
                        &crate::client::http::redact_url(&target.url),
                        &only,
                        seconds,
                    );
                    stage.failed_scrapes = failed;
                    stage.last_error = last_error;
                    let _ = report.send(stage);
                });
            })
            .ok();
        let _ = first_scrape.await;
        Session {
            stop: Some(stop),
            done,
            thread,
        }
    }

    /// Takes the last scrape and returns the stage's record.
    pub async fn finish(mut self) -> StageServer {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let stage = (&mut self.done).await.unwrap_or_default();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        stage
    }
}
