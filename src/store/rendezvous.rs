//! Where the shards of one run meet: a directory or an `s3://` prefix that all of them can reach.
//!
//! Under `LOCATION/<run-id>/<scenario>/` each shard writes `hello-<I>.json` (its shard, the
//! configuration's hash and when it arrived) and reads the others' until all `N` have come. The start
//! is the latest arrival plus `LEAD`, so every shard computes the same instant from the same files
//! with no leader to elect, and has time to see the last hello before it comes. Shards whose hash or
//! count differ are refused at once; a shard still waiting after the time limit gives up with an
//! error naming the shards that never came. After the run each shard puts its `shard.json` in
//! `shard-<I>/`, where shard 0 (or `infergate merge`) collects them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::Location;
use crate::plan::shard::Shard;

/// Time between the last shard's arrival and the start.
pub const LEAD: Duration = Duration::from_secs(2);

/// How often the others' files are looked for.
const POLL: Duration = Duration::from_millis(250);

/// What a shard writes when it arrives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    pub shard: String,
    pub config_hash: String,
    pub host: String,
    pub arrived_unix_ms: u64,
}

/// One shard's place in a run's meeting.
#[derive(Debug, Clone)]
pub struct Meeting {
    /// `LOCATION/<run-id>/<scenario>`.
    pub place: Location,
    pub run_id: String,
    pub shard: Shard,
    pub config_hash: String,
    /// How long to wait for the others (at the start, and for shard 0, for their results).
    pub timeout: Duration,
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A scratch directory of this process's own.
pub fn scratch(name: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("infergate-{name}-{}-{n}", std::process::id()))
}

impl Meeting {
    /// The place of `scenario` in run `run_id` under `location`.
    pub fn new(
        location: &Location,
        run_id: &str,
        scenario: &str,
        shard: Shard,
        config_hash: &str,
        timeout: Duration,
    ) -> Meeting {
        Meeting {
            place: location.join(&format!("{run_id}/{scenario}")),
            run_id: run_id.to_string(),
            shard,
            config_hash: config_hash.to_string(),
            timeout,
        }
    }

    /// Announces this shard, waits for all of them, and returns the agreed start.
    pub async fn meet(&self) -> Result<SystemTime, String> {
        let hello = Hello {
            shard: self.shard.to_string(),
            config_hash: self.config_hash.clone(),
            host: std::env::var("HOSTNAME").unwrap_or_default(),
            arrived_unix_ms: unix_ms(SystemTime::now()),
        };
        let mine = scratch("hello");
        std::fs::create_dir_all(&mine).map_err(|e| format!("{}: {e}", mine.display()))?;
        let file = mine.join(format!("hello-{}.json", self.shard.index()));
        std::fs::write(&file, serde_json::to_vec(&hello).expect("hello serialises"))
            .map_err(|e| format!("{}: {e}", file.display()))?;
        let put = self.place.put_dir(&mine).await;
        let _ = std::fs::remove_dir_all(&mine);
        put.map_err(|e| e.to_string())?;
        let give_up = Instant::now() + self.timeout;
        loop {
            let hellos = self.hellos().await?;
            let here: Vec<u32> = hellos.iter().filter_map(|h| index_of(&h.shard)).collect();
            let missing: Vec<String> = (0..self.shard.count())
                .filter(|i| !here.contains(i))
                .map(|i| format!("{i}/{}", self.shard.count()))
                .collect();
            if missing.is_empty() {
                let last = hellos.iter().map(|h| h.arrived_unix_ms).max().unwrap_or(0);
                return Ok(UNIX_EPOCH + Duration::from_millis(last) + LEAD);
            }
            self.wait_more(give_up, "shard(s) {} that never came", &missing)
                .await?;
        }
    }

    /// The hellos so far; an error for one that does not belong to this run's configuration.
    async fn hellos(&self) -> Result<Vec<Hello>, String> {
        let dir = scratch("meet");
        let got = self.place.get_dir(&dir).await;
        let mut hellos = Vec::new();
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
                let is_hello = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("hello-") && n.ends_with(".json"));
                if !is_hello {
                    continue;
                }
                let text = std::fs::read(&path).unwrap_or_default();
                let Ok(hello) = serde_json::from_slice::<Hello>(&text) else {
                    continue; // being written
                };
                let count = hello.shard.split_once('/').map(|(_, n)| n.to_string());
                if count.as_deref() != Some(&self.shard.count().to_string()) {
                    return Err(format!(
                        "shard {} came to {} expecting another number of shards than {}",
                        hello.shard,
                        self.place.display(),
                        self.shard.count()
                    ));
                }
                if hello.config_hash != self.config_hash {
                    return Err(format!(
                        "shard {} at {} runs a different configuration (config hash {}, this shard {}): give every shard the same file",
                        hello.shard,
                        self.place.display(),
                        hello.config_hash,
                        self.config_hash
                    ));
                }
                hellos.push(hello);
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        got.map_err(|e| e.to_string())?;
        Ok(hellos)
    }

    /// Where shard `index` puts its results.
    pub fn shard_place(&self, index: u32) -> Location {
        self.place.join(&format!("shard-{index}"))
    }

    /// Puts this shard's results (every file of `dir`) in its place.
    pub async fn publish(&self, dir: &Path) -> Result<(), String> {
        self.shard_place(self.shard.index())
            .put_dir(dir)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Waits until every shard's `file` is there (or the time limit), copying each shard's directory
    /// into `dest/shard-<I>/`; returns those directories, the missing ones named in the error.
    pub async fn collect(&self, file: &str, dest: &Path) -> Result<Vec<PathBuf>, String> {
        let give_up = Instant::now() + self.timeout;
        let count = self.shard.count();
        let dirs: Vec<PathBuf> = (0..count)
            .map(|i| dest.join(format!("shard-{i}")))
            .collect();
        loop {
            let mut missing = Vec::new();
            for (i, dir) in dirs.iter().enumerate() {
                if dir.join(file).is_file() {
                    continue;
                }
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                self.shard_place(i as u32)
                    .get_dir(dir)
                    .await
                    .map_err(|e| e.to_string())?;
                if !dir.join(file).is_file() {
                    missing.push(format!("{i}/{count}"));
                }
            }
            if missing.is_empty() {
                return Ok(dirs);
            }
            self.wait_more(give_up, "the results of shard(s) {}", &missing)
                .await?;
        }
    }
}

impl Meeting {
    /// Waits one poll for what is `missing`, or, past `give_up`, says what never came (`what` with
    /// `{}` where the shards go).
    async fn wait_more(
        &self,
        give_up: Instant,
        what: &str,
        missing: &[String],
    ) -> Result<(), String> {
        if Instant::now() >= give_up {
            return Err(format!(
                "waited {:.0} s at {} for {}",
                self.timeout.as_secs_f64(),
                self.place.display(),
                what.replace("{}", &missing.join(", "))
            ));
        }
        tokio::time::sleep(POLL).await;
        Ok(())
    }
}

fn index_of(shard: &str) -> Option<u32> {
    Shard::parse(shard).ok().map(|s| s.index())
}
