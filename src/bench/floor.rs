//! The floor: what one thread must spend to read the benchmark's streams with nothing else to do.
//!
//! `infergate bench --floor` runs the same simulator, rates, prompts and streams as `bench`, read by
//! a deliberately minimal reader instead of infergate's client: one thread, raw nonblocking sockets
//! on one epoll set, a `timerfd` for the open-loop schedule, one pre-built HTTP/1.1 request (the
//! real client's `/v1/completions` body: `stream`, `stream_options.include_usage`, `max_tokens`,
//! `ignore_eos`), keep-alive connections reused from a free list, and one read into one buffer per
//! readiness until a response's chunked terminator. No SSE, no JSON, no histograms: it counts
//! requests, bytes and its own system calls and stamps each send's delay, so its CPU per request is
//! the kernel's socket path plus little else, and the table reads "client vs floor" per rate.
//! Loopback only; every stage ends at its length plus a drain limit, whatever the server does.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use rand::SeedableRng;
use serde::Serialize;

use super::BenchOptions;
use crate::plan::tokens::TokenCounter;

/// The epoll token of the schedule's timer (connections use their index).
const TIMER: u64 = u64::MAX;
/// One read takes at most this much; a longer backlog is read on the next readiness.
const READ_BUFFER: usize = 64 * 1024;
/// How a chunked body ends: the last data chunk's CRLF, then the zero-length chunk.
const END: &[u8; 7] = b"\r\n0\r\n\r\n";
/// Past the stage's length plus a stream's own (TTFT + tokens × ITL), how long to wait for the rest.
pub const DRAIN: Duration = Duration::from_secs(5);

/// One stage: a constant rate for a while.
#[derive(Debug, Clone, Copy)]
pub struct Stage {
    pub rate: f64,
    pub duration: Duration,
    /// Tokens each stream carries (the request's `max_tokens`), for the per-token columns.
    pub output_tokens: u32,
    /// After the last send, give up on whatever has not ended by then.
    pub drain: Duration,
}

/// What one stage cost the floor reader.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FloorRow {
    pub requested_rate: f64,
    /// Sends per second between the first and the last send.
    pub achieved_rate: f64,
    pub sent: u64,
    /// Responses read to their end with status 200.
    pub completed: u64,
    pub not_ok: u64,
    /// The shortest and longest whole response (head and chunked body), bytes.
    pub response_bytes_min: u64,
    pub response_bytes_max: u64,
    pub send_delay_mean_us: f64,
    pub send_delay_max_us: f64,
    pub connections: u64,
    pub reads: u64,
    pub epoll_waits: u64,
    pub writes: u64,
    pub timer_sets: u64,
    /// The reader thread's CPU (`CLOCK_THREAD_CPUTIME_ID`), and its user / system split
    /// (`getrusage(RUSAGE_THREAD)`, sampled at the scheduler's tick: a split, not a sum), seconds.
    pub thread_cpu_seconds: f64,
    pub thread_user_seconds: f64,
    pub thread_system_seconds: f64,
    /// The whole process over the stage (`getrusage(RUSAGE_SELF)`), seconds.
    pub process_cpu_seconds: f64,
    /// Process CPU per request sent, microseconds (as `bench`'s CPU µs/req).
    pub cpu_per_request_us: f64,
    /// The reader thread's CPU per request sent, microseconds.
    pub thread_cpu_per_request_us: f64,
    /// The reader thread's CPU per streamed token, microseconds.
    pub thread_cpu_per_token_us: f64,
    /// Counted system calls (reads, epoll waits, writes, timer sets; not connection set-up) per token.
    pub syscalls_per_token: f64,
    pub reads_per_token: f64,
    /// Process CPU over the stage's length.
    pub cores_busy: f64,
    pub peak_rss_mib: f64,
}

/// The one request every send writes: head and body, as the real client sends them.
pub fn request(addr: SocketAddr, prompt_tokens: u32, output_tokens: u32) -> Vec<u8> {
    let tokens = TokenCounter::builtin();
    let prompt = tokens.prompt(prompt_tokens, &mut rand::rngs::StdRng::seed_from_u64(27));
    let body = serde_json::json!({"model": "infergate-sim", "prompt": prompt,
        "max_tokens": output_tokens, "stream": true, "stream_options": {"include_usage": true},
        "ignore_eos": true})
    .to_string();
    format!(
        "POST /v1/completions HTTP/1.1\r\nhost: {addr}\r\naccept: */*\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Keeps the last `END.len()` bytes of a response as it arrives; true once it ends with `END`.
pub fn push_tail(tail: &mut [u8; 7], data: &[u8]) -> bool {
    if data.len() >= END.len() {
        tail.copy_from_slice(&data[data.len() - END.len()..]);
    } else {
        tail.rotate_left(data.len());
        let keep = tail.len() - data.len();
        tail[keep..].copy_from_slice(data);
    }
    tail == END
}

fn check(result: libc::c_int) -> io::Result<libc::c_int> {
    (result >= 0)
        .then_some(result)
        .ok_or_else(io::Error::last_os_error)
}

/// `CLOCK_MONOTONIC` (the `timerfd`'s clock), nanoseconds.
fn monotonic_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    // SAFETY: a timespec is plain integers, and clock_gettime writes the one it is given.
    let t = unsafe {
        let mut t: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(clock, &mut t);
        t
    };
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// One keep-alive connection and the response it is reading.
struct Conn {
    stream: TcpStream,
    busy: bool,
    received: u64,
    tail: [u8; 7],
}

/// What the loop counted.
#[derive(Debug, Default)]
struct Counts {
    sent: u64,
    completed: u64,
    not_ok: u64,
    min_bytes: u64,
    max_bytes: u64,
    delay_sum_ns: u64,
    delay_max_ns: u64,
    first_send_ns: Option<u64>,
    last_send_ns: u64,
    connections: u64,
    reads: u64,
    epoll_waits: u64,
    writes: u64,
    timer_sets: u64,
}

/// The reader: one epoll set, one timer, a slab of connections, one buffer.
struct Reader {
    epoll: OwnedFd,
    timer: OwnedFd,
    addr: SocketAddr,
    request: Vec<u8>,
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    buffer: Vec<u8>,
    in_flight: usize,
    counts: Counts,
}

impl Reader {
    fn new(addr: SocketAddr, request: Vec<u8>) -> io::Result<Reader> {
        // SAFETY: both calls take no pointers and return a new descriptor (owned below) or -1.
        let (epoll, timer) = unsafe {
            let epoll = OwnedFd::from_raw_fd(check(libc::epoll_create1(libc::EPOLL_CLOEXEC))?);
            let flags = libc::TFD_CLOEXEC | libc::TFD_NONBLOCK;
            let timer = check(libc::timerfd_create(libc::CLOCK_MONOTONIC, flags))?;
            (epoll, OwnedFd::from_raw_fd(timer))
        };
        let reader = Reader {
            epoll,
            timer,
            addr,
            request,
            conns: Vec::new(),
            free: Vec::new(),
            buffer: vec![0; READ_BUFFER],
            in_flight: 0,
            counts: Counts {
                min_bytes: u64::MAX,
                ..Counts::default()
            },
        };
        reader.watch(reader.timer.as_raw_fd(), TIMER)?;
        Ok(reader)
    }

    fn watch(&self, fd: RawFd, token: u64) -> io::Result<()> {
        let mut event = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        // SAFETY: the event is read by the call only.
        check(unsafe {
            libc::epoll_ctl(self.epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut event)
        })
        .map(drop)
    }

    /// Arms the timer for `at` (monotonic nanoseconds; 0 disarms). Setting it also clears a tick
    /// that has fired, so the timer is never read.
    fn set_timer(&mut self, at: u64) -> io::Result<()> {
        // SAFETY: an itimerspec is plain integers; all zero is a disarmed timer.
        let mut spec: libc::itimerspec = unsafe { std::mem::zeroed() };
        spec.it_value.tv_sec = (at / 1_000_000_000) as libc::time_t;
        spec.it_value.tv_nsec = (at % 1_000_000_000) as libc::c_long;
        self.counts.timer_sets += 1;
        let fd = self.timer.as_raw_fd();
        // SAFETY: `spec` is read by the call; the old value is not asked for.
        check(unsafe {
            libc::timerfd_settime(fd, libc::TFD_TIMER_ABSTIME, &spec, std::ptr::null_mut())
        })
        .map(drop)
    }

    /// A new connection, registered with the epoll set; its index.
    fn open(&mut self) -> io::Result<usize> {
        let stream = TcpStream::connect(self.addr)?;
        stream.set_nodelay(true)?;
        stream.set_nonblocking(true)?;
        let id = self.conns.len();
        self.watch(stream.as_raw_fd(), id as u64)?;
        self.conns.push(Some(Conn {
            stream,
            busy: false,
            received: 0,
            tail: [0; 7],
        }));
        self.counts.connections += 1;
        Ok(id)
    }

    /// Writes the request due at `due` on a free connection (or a new one).
    fn send(&mut self, due: u64) {
        let now = monotonic_ns();
        let c = &mut self.counts;
        c.sent += 1;
        let delay = now.saturating_sub(due);
        c.delay_sum_ns += delay;
        c.delay_max_ns = c.delay_max_ns.max(delay);
        c.first_send_ns.get_or_insert(now);
        c.last_send_ns = now;
        let Ok(id) = self.free.pop().map_or_else(|| self.open(), Ok) else {
            return self.counts.not_ok += 1;
        };
        self.counts.writes += 1;
        let conn = self.conns[id].as_mut().expect("a free connection is open");
        // A request on an idle keep-alive connection always fits its empty send buffer: a short
        // write is counted as a failure rather than finished later.
        match conn.stream.write(&self.request) {
            Ok(n) if n == self.request.len() => {
                conn.busy = true;
                conn.received = 0;
                conn.tail = [0; 7];
                self.in_flight += 1;
            }
            _ => {
                self.conns[id] = None;
                self.counts.not_ok += 1;
            }
        }
    }

    /// One read on a readable connection; ends its response at the terminator.
    fn readable(&mut self, id: usize) {
        let Some(conn) = self.conns[id].as_mut() else {
            return;
        };
        self.counts.reads += 1;
        let n = match conn.stream.read(&mut self.buffer) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(_) => 0,
        };
        let data = &self.buffer[..n];
        let bad_status = conn.received == 0 && n > 0 && !data.starts_with(b"HTTP/1.1 200 ");
        if n == 0 || bad_status || !conn.busy {
            // Closed, failed, or bytes nobody asked for: the connection is done.
            if conn.busy {
                self.counts.not_ok += 1;
                self.in_flight -= 1;
            }
            self.conns[id] = None;
            return;
        }
        conn.received += n as u64;
        if push_tail(&mut conn.tail, data) {
            conn.busy = false;
            let c = &mut self.counts;
            c.completed += 1;
            c.min_bytes = c.min_bytes.min(conn.received);
            c.max_bytes = c.max_bytes.max(conn.received);
            self.in_flight -= 1;
            self.free.push(id);
        }
    }

    /// Waits for readiness up to `timeout_ms`; the timer's ticks are noted in `fired`.
    fn wait(&mut self, events: &mut [libc::epoll_event], timeout_ms: i32, fired: &mut bool) {
        self.counts.epoll_waits += 1;
        let fd = self.epoll.as_raw_fd();
        // SAFETY: the kernel writes at most `events.len()` entries into `events`.
        let n =
            unsafe { libc::epoll_wait(fd, events.as_mut_ptr(), events.len() as i32, timeout_ms) };
        for event in &events[..n.max(0) as usize] {
            match event.u64 {
                TIMER => *fired = true,
                id => self.readable(id as usize),
            }
        }
    }

    /// The stage's open-loop schedule: sends until its length, then reads until every response has
    /// ended or the drain limit has passed.
    fn run(&mut self, stage: &Stage) -> io::Result<()> {
        let interval = 1e9 / stage.rate;
        let total = (stage.rate * stage.duration.as_secs_f64()).round() as u64;
        let start = monotonic_ns() + 1_000_000;
        let give_up = start + stage.duration.as_nanos() as u64 + stage.drain.as_nanos() as u64;
        let due = |i: u64| start + (i as f64 * interval) as u64;
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
        // The time the timer is set for; `Some(0)` once it has fired and must be set again.
        let mut armed: Option<u64> = None;
        loop {
            let now = monotonic_ns();
            while self.counts.sent < total && due(self.counts.sent) <= now {
                self.send(due(self.counts.sent));
            }
            if (self.counts.sent == total && self.in_flight == 0) || now >= give_up {
                // What has not ended by the drain limit failed.
                self.counts.not_ok += self.in_flight as u64;
                return Ok(());
            }
            if self.counts.sent < total {
                let next = due(self.counts.sent);
                if armed != Some(next) {
                    self.set_timer(next)?;
                    armed = Some(next);
                }
            } else if armed.take().is_some() {
                self.set_timer(0)?;
            }
            let timeout_ms = ((give_up - now) / 1_000_000 + 1).min(i32::MAX as u64) as i32;
            let mut fired = false;
            self.wait(&mut events, timeout_ms, &mut fired);
            if fired {
                armed = Some(0);
            }
        }
    }
}

/// Runs one stage against the simulator at `addr` on a new thread (`infergate-floor`); the process's
/// CPU is measured around it.
pub fn run_stage(addr: SocketAddr, request: Vec<u8>, stage: Stage) -> Result<FloorRow, String> {
    if !addr.ip().is_loopback() {
        return Err(format!("the floor reads from loopback only, not {addr}"));
    }
    let before = super::host::usage();
    let thread = std::thread::Builder::new()
        .name("infergate-floor".into())
        .spawn(move || {
            let cpu = clock_ns(libc::CLOCK_THREAD_CPUTIME_ID);
            let mut reader = Reader::new(addr, request)?;
            reader.run(&stage)?;
            let cpu = clock_ns(libc::CLOCK_THREAD_CPUTIME_ID) - cpu;
            Ok::<_, io::Error>((
                reader.counts,
                cpu as f64 / 1e9,
                super::host::thread_user_system(),
            ))
        })
        .map_err(|e| format!("cannot start the floor reader: {e}"))?;
    let (c, thread_cpu, (user, system)) = thread
        .join()
        .map_err(|_| "the floor reader panicked".to_string())?
        .map_err(|e| format!("the floor reader: {e}"))?;
    let after = super::host::usage();
    let process = after.cpu_seconds - before.cpu_seconds;
    let span = c.last_send_ns.saturating_sub(c.first_send_ns.unwrap_or(0)) as f64 / 1e9;
    let per_request = |s: f64| s * 1e6 / c.sent.max(1) as f64;
    let tokens = c.completed.max(1) as f64 * stage.output_tokens as f64;
    let syscalls = (c.reads + c.epoll_waits + c.writes + c.timer_sets) as f64;
    Ok(FloorRow {
        requested_rate: stage.rate,
        achieved_rate: c.sent.saturating_sub(1) as f64 / span.max(1e-9),
        sent: c.sent,
        completed: c.completed,
        not_ok: c.not_ok,
        response_bytes_min: c.min_bytes.min(c.max_bytes),
        response_bytes_max: c.max_bytes,
        send_delay_mean_us: c.delay_sum_ns as f64 / 1e3 / c.sent.max(1) as f64,
        send_delay_max_us: c.delay_max_ns as f64 / 1e3,
        connections: c.connections,
        reads: c.reads,
        epoll_waits: c.epoll_waits,
        writes: c.writes,
        timer_sets: c.timer_sets,
        thread_cpu_seconds: thread_cpu,
        thread_user_seconds: user,
        thread_system_seconds: system,
        process_cpu_seconds: process,
        cpu_per_request_us: per_request(process),
        thread_cpu_per_request_us: per_request(thread_cpu),
        thread_cpu_per_token_us: thread_cpu * 1e6 / tokens,
        syscalls_per_token: syscalls / tokens,
        reads_per_token: c.reads as f64 / tokens,
        cores_busy: process / stage.duration.as_secs_f64(),
        peak_rss_mib: after.peak_rss_bytes as f64 / (1024.0 * 1024.0),
    })
}

/// Every rate of `options` against the simulator at `base_url` (`http://127.0.0.1:PORT`), one row each.
pub fn run(
    options: &BenchOptions,
    base_url: &str,
    mut on_row: impl FnMut(&FloorRow),
) -> Result<Vec<FloorRow>, String> {
    let addr: SocketAddr = base_url
        .strip_prefix("http://")
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| format!("the floor reader needs http://IP:PORT, not {base_url}"))?;
    let request = request(addr, options.prompt_tokens, options.output_tokens);
    // As the client does: no connection waits for the descriptor table to grow.
    crate::client::fds::reserve();
    let stream = options.ttft + options.itl * options.output_tokens;
    let mut rows = Vec::new();
    for &rate in &options.rates {
        let stage = Stage {
            rate,
            duration: options.duration,
            output_tokens: options.output_tokens,
            drain: stream + DRAIN,
        };
        let row = run_stage(addr, request.clone(), stage)?;
        on_row(&row);
        rows.push(row);
    }
    Ok(rows)
}

/// The header of the floor's table.
pub fn table_header() -> String {
    "| reader | rate req/s | achieved | sent | completed | not ok | bytes/response | send delay mean/max ms | CPU µs/req | thread CPU µs/req (user/sys) | thread µs/token | cores busy | syscalls/token (reads) | connections | peak RSS MiB |\n\
     |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        .to_string()
}

/// One markdown row of the floor's table.
pub fn table_row(r: &FloorRow) -> String {
    let bytes = match r.response_bytes_min == r.response_bytes_max {
        true => r.response_bytes_min.to_string(),
        false => format!("{}-{}", r.response_bytes_min, r.response_bytes_max),
    };
    let per_request = |s: f64| s * 1e6 / r.sent.max(1) as f64;
    format!(
        "| floor | {:.0} | {:.1} | {} | {} | {} | {bytes} | {:.2} / {:.2} | {:.0} | {:.0} ({:.0}/{:.0}) | {:.2} | {:.3} | {:.2} ({:.2}) | {} | {:.1} |",
        r.requested_rate,
        r.achieved_rate,
        r.sent,
        r.completed,
        r.not_ok,
        r.send_delay_mean_us / 1e3,
        r.send_delay_max_us / 1e3,
        r.cpu_per_request_us,
        r.thread_cpu_per_request_us,
        per_request(r.thread_user_seconds),
        per_request(r.thread_system_seconds),
        r.thread_cpu_per_token_us,
        r.cores_busy,
        r.syscalls_per_token,
        r.reads_per_token,
        r.connections,
        r.peak_rss_mib,
    )
}
