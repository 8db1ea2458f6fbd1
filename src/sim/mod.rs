//! Beside the pipeline (it uses only `plan`'s tokenizer), reached over HTTP, never through a back door.
//!
//! The embedded engine simulator: an OpenAI-compatible HTTP server on 127.0.0.1 backed by a
//! continuous-batching timing model (`engine`). The default run and the tests talk to it over real
//! HTTP, exactly as they would to vLLM; `infergate sim` serves it on a port of your choice.

pub mod engine;
pub mod metrics;
pub mod pace;
mod reasoning;
mod server;
mod tools;
pub use server::{AUDIO_TOKENS, IMAGE_TOKENS, MAX_REQUEST_BYTES, VIDEO_TOKENS};
pub mod truth;

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread;

use tokio::sync::{mpsc, oneshot};

pub use engine::EngineConfig;
pub use pace::Pace;

/// Everything the simulator can be told.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The model name it serves and expects in requests.
    pub model: String,
    /// LoRA adapters it serves besides (listed by `/v1/models`, accepted as a request's `model`, and
    /// timed as the model is).
    pub adapters: Vec<String>,
    pub engine: EngineConfig,
    /// When set, every request gets this timing regardless of load, and `engine` is not used: the
    /// known-truth target of `infergate bench`.
    pub fixed: Option<FixedTiming>,
    /// Counts prompt tokens for `usage` (a run against the simulator shares its scenario's).
    pub tokens: std::sync::Arc<crate::plan::tokens::TokenCounter>,
    /// Run the simulator's thread at a lower priority (nice 10, Linux): set when it is embedded in a
    /// run, so that the load generator, woken for a deadline while the simulator is busy, takes the
    /// core at once instead of waiting out the simulator's time slice.
    pub background: bool,
    /// How much slower than configured it runs (drift, a deliberate slowdown, a cold start).
    pub pace: Pace,
    /// Act as a reasoning model: each chat answer begins with this many reasoning tokens
    /// (`delta.reasoning_content`), counted within `max_tokens` as vLLM counts them (see `reasoning`).
    pub reasoning_tokens: u32,
}

/// A target with known timing: the first token `ttft` after the request arrives, then one token every
/// `itl`, each at an absolute deadline, with no batching and no queue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FixedTiming {
    pub ttft: std::time::Duration,
    pub itl: std::time::Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            model: "infergate-sim".to_string(),
            adapters: Vec::new(),
            engine: EngineConfig::default(),
            fixed: None,
            tokens: std::sync::Arc::new(crate::plan::tokens::TokenCounter::builtin()),
            background: false,
            pace: Pace::default(),
            reasoning_tokens: 0,
        }
    }
}

/// A simulator running on its own thread and runtime, so its work never delays the load generator's
/// timers. Dropping the handle stops it.
pub struct SimHandle {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl SimHandle {
    /// Starts a simulator on `addr` (use port 0 for any free port).
    pub fn start(config: SimConfig, addr: SocketAddr) -> std::io::Result<SimHandle> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let background = config.background;
        let thread = thread::Builder::new()
            .name("infergate-sim".into())
            .spawn(move || {
                if background {
                    lower_this_threads_priority();
                }
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("the simulator runtime starts");
                runtime.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("listener converts");
                    serve(config, listener, async {
                        let _ = shutdown_rx.await;
                    })
                    .await;
                });
            })?;
        Ok(SimHandle {
            addr,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Nice 10 for the calling thread (on Linux a nice value is per thread); best effort elsewhere.
fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid and setpriority take no pointers; a failure leaves the priority as it was.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves the simulator on `listener` until `shutdown` completes.
pub async fn serve(
    config: SimConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    // Each accepted connection is a descriptor: grow the table now, not while serving.
    crate::client::fds::reserve();
    let (jobs_tx, jobs_rx) = mpsc::unbounded_channel();
    let exported = Arc::new(metrics::Exported::new(config.engine.max_batch));
    let engine = tokio::spawn(engine::run(
        config.engine.clone(),
        jobs_rx,
        Arc::clone(&exported),
        config.pace,
    ));
    let app = server::router(config, jobs_tx, exported);
    // Like uvicorn and every real engine's server: small SSE chunks go out at once, not after Nagle's
    // algorithm has waited for the client's delayed ACK (which added ~20 ms to every first token).
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let _ = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    engine.abort();
}
