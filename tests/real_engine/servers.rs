//! A real Prometheus server (Debian's `prometheus` package) on 127.0.0.1, scraping the given targets
//! every second into a temporary directory, and a round-robin TCP forwarder that stands in for a
//! Kubernetes Service in front of several engine replicas. Dropping either stops it.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};

/// The `prometheus` binary: `$INFERGATE_PROMETHEUS`, or the one on `PATH`; `None` when there is none.
pub fn binary() -> Option<String> {
    let configured = std::env::var("INFERGATE_PROMETHEUS").ok();
    configured.or_else(|| {
        let ok = Command::new("prometheus")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| "prometheus".to_string())
    })
}

pub struct Prometheus {
    pub url: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts `binary` scraping `targets` (`host:port`, `/metrics`) every second; returns once every
    /// target has been scraped at least once and carries `series`.
    pub async fn start(binary: &str, targets: &[String], series: &str) -> Prometheus {
        let dir = tempfile::tempdir().expect("temp dir");
        let quoted: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        let config = format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nscrape_configs:\n  - job_name: engines\n    static_configs: [{{targets: [{}]}}]\n",
            quoted.join(", ")
        );
        let file = dir.path().join("prometheus.yml");
        std::fs::write(&file, config).expect("config");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("log")).expect("log"))
            .spawn()
            .expect("start prometheus");
        let server = Prometheus {
            url: format!("http://127.0.0.1:{port}"),
            child,
            _dir: dir,
        };
        server.wait_for(targets.len(), series).await;
        server
    }

    /// Waits (at most 60 s) until `count(series)` is `n`.
    async fn wait_for(&self, n: usize, series: &str) {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        let query = format!("{}/api/v1/query?query=count({series})", self.url);
        loop {
            let reply: Option<serde_json::Value> = match http.get(&query).send().await {
                Ok(r) => r.json().await.ok(),
                Err(_) => None,
            };
            let count = reply.as_ref().and_then(|r| {
                r["data"]["result"][0]["value"][1]
                    .as_str()
                    .and_then(|v| v.parse::<usize>().ok())
            });
            if count == Some(n) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus did not scrape {n} targets in 60 s: {reply:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Hands each new connection to the next backend in turn, as a Service's kube-proxy spreads them.
pub struct RoundRobin {
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl RoundRobin {
    pub async fn start(backends: Vec<String>) -> RoundRobin {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let mut next = 0;
            while let Ok((mut client, _)) = listener.accept().await {
                let backend = backends[next % backends.len()].clone();
                next += 1;
                tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&backend).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        RoundRobin { url, task }
    }
}

impl Drop for RoundRobin {
    fn drop(&mut self) {
        self.task.abort();
    }
}
