//! Per-request records (`report.request_lifecycle.per_request`): every finished request of the
//! measured stages as one JSON object of `per_request_lifecycle_metrics.json`, streamed to disk by a
//! writer thread as requests finish, so memory stays flat however long the run. Load threads hand
//! records over a bounded channel (a full channel makes them wait rather than grow); times are
//! seconds on the monotonic clock from the run's start.
//!
//! Requests cancelled before they were sent are not records (nothing happened to them); the lifecycle
//! files count them.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::Instant;

use serde::Serialize;

use crate::client::Exchange;
use crate::measure::recorder::Sample;
use crate::measure::recorder::goodput::Figures;
use crate::scenario::records::PerRequest;

/// The file's name in a scenario's report directory (inference-perf's).
pub const FILE_NAME: &str = "per_request_lifecycle_metrics.json";

/// Records in flight to the writer at most; a load thread waits when it is full.
const BACKLOG: usize = 8192;

/// One request's record.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Record {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage_id: Option<usize>,
    /// When the schedule wanted it sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_time: Option<f64>,
    /// When it was handed to the HTTP stack.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<f64>,
    /// `ok`, `failed` or `timed_out`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    /// Of the output tokens, reasoning (only for responses that carried reasoning).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttft: Option<f64>,
    /// Time to the first answer token (only for responses that carried reasoning; else `ttft`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttfo: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_latency: Option<f64>,
    /// Seconds between successive content chunks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunk_gaps: Option<Vec<f64>>,
    /// With `report.goodput`: whether it met every constraint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub good: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adapter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
}

/// inference-perf's `ErrorResponseInfo`.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorInfo {
    pub error_type: String,
    pub error_msg: String,
}

/// Where load threads send records (cheap to clone).
#[derive(Debug, Clone)]
pub struct Records {
    tx: SyncSender<Option<Record>>,
    origin: Instant,
    adapters: Arc<[String]>,
}

/// The writer thread; `finish` closes the file.
#[derive(Debug)]
pub struct RecordsFile {
    tx: SyncSender<Option<Record>>,
    thread: JoinHandle<io::Result<u64>>,
    path: PathBuf,
}

/// Starts writing `path`; times are counted from `origin`, adapters named by index.
pub fn start(
    path: &Path,
    keep: PerRequest,
    origin: Instant,
    adapters: Vec<String>,
) -> io::Result<(Records, RecordsFile)> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = BufWriter::with_capacity(1 << 16, File::create(path)?);
    let (tx, rx) = sync_channel(BACKLOG);
    let thread = std::thread::Builder::new()
        .name("infergate-records".into())
        .spawn(move || write_all(file, &rx, keep))?;
    let records = Records {
        tx: tx.clone(),
        origin,
        adapters: adapters.into(),
    };
    let path = path.to_path_buf();
    Ok((records, RecordsFile { tx, thread, path }))
}

fn write_all(
    mut out: BufWriter<File>,
    rx: &Receiver<Option<Record>>,
    keep: PerRequest,
) -> io::Result<u64> {
    out.write_all(b"[")?;
    let mut n = 0u64;
    // `None` is the end (sent by `finish`); a closed channel ends it too.
    while let Ok(Some(mut record)) = rx.recv() {
        trim(&mut record, keep);
        out.write_all(if n == 0 { b"\n" } else { b",\n" })?;
        serde_json::to_writer(&mut out, &record)?;
        n += 1;
    }
    out.write_all(b"\n]\n")?;
    out.flush()?;
    Ok(n)
}

/// Drops the fields `per_request_fields` left out.
fn trim(r: &mut Record, keep: PerRequest) {
    macro_rules! drop_unless {
        ($($field:ident),*) => {
            $(if !keep.keeps(stringify!($field)) { r.$field = None; })*
        };
    }
    drop_unless!(
        stage_id,
        scheduled_time,
        start_time,
        end_time,
        outcome,
        prompt_tokens,
        output_tokens,
        reasoning_tokens,
        ttft,
        ttfo,
        request_latency,
        chunk_gaps,
        good,
        adapter,
        error
    );
}

impl Records {
    /// Hands one finished request to the writer (waits when the writer is behind).
    pub fn send(
        &self,
        stage: usize,
        sample: &Sample,
        judged: Option<(Figures, Option<bool>)>,
        adapter: Option<u16>,
    ) {
        let at = |t: Instant| t.saturating_duration_since(self.origin).as_secs_f64();
        let s = |us: u64| us as f64 / 1e6;
        let (sent, end, outcome) = match &sample.exchange {
            Exchange::Ok(ok) => (ok.sent, Some(ok.end), "ok"),
            Exchange::Failed(f) => (f.sent, Some(f.end), "failed"),
            Exchange::TimedOut { sent, .. } => (*sent, None, "timed_out"),
        };
        let mut record = Record {
            stage_id: Some(stage),
            scheduled_time: Some(at(sample.intended)),
            start_time: Some(at(sent)),
            end_time: end.map(at),
            outcome: Some(outcome),
            prompt_tokens: Some(u64::from(sample.prompt_tokens)),
            adapter: adapter.and_then(|i| self.adapters.get(usize::from(i)).cloned()),
            ..Record::default()
        };
        if let Some((figures, good)) = judged {
            record.prompt_tokens = Some(figures.input_tokens);
            record.output_tokens = Some(figures.output_tokens);
            record.ttft = figures.ttft.map(s);
            if figures.reasoning_tokens > 0 {
                record.reasoning_tokens = Some(figures.reasoning_tokens);
                record.ttfo = figures.ttfo.map(s);
            }
            record.request_latency = Some(s(figures.request_latency));
            record.good = good;
        }
        match &sample.exchange {
            Exchange::Ok(ok) if ok.first_content.is_some() => {
                record.chunk_gaps = Some(ok.content_gaps_us.iter().map(|&g| s(g)).collect());
            }
            Exchange::Failed(f) => {
                record.error = Some(ErrorInfo {
                    error_type: f.kind.label(),
                    error_msg: f.message.clone(),
                });
            }
            Exchange::TimedOut { timeout, .. } => {
                record.error = Some(ErrorInfo {
                    error_type: "timed_out".into(),
                    error_msg: format!("{timeout:?} timeout"),
                });
            }
            Exchange::Ok(_) => {}
        }
        // The writer only goes away after `finish`, when no stage is running.
        let _ = self.tx.send(Some(record));
    }
}

impl RecordsFile {
    /// Writes the end of the file once every record sent so far is written; returns how many.
    pub fn finish(self) -> Result<u64, String> {
        let _ = self.tx.send(None);
        let shown = self.path.display();
        match self.thread.join() {
            Ok(Ok(n)) => Ok(n),
            Ok(Err(e)) => Err(format!("cannot write {shown}: {e}")),
            Err(_) => Err(format!("the writer of {shown} stopped abnormally")),
        }
    }
}
