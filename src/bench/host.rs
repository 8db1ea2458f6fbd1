//! What the benchmark needs from the operating system: pinning the process to one core, and reading
//! its CPU time and peak resident memory (`getrusage`). Linux-only parts degrade to "unknown" elsewhere.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// Pins the calling process (all its threads, including ones started later) to `cpu`.
#[cfg(target_os = "linux")]
pub fn pin_to_cpus(cpus: &[usize]) -> Result<(), String> {
    // SAFETY: `set` is a plain bitmask owned by this frame; the calls only read and write it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        for &cpu in cpus {
            libc::CPU_SET(cpu, &mut set);
        }
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(format!(
                "cannot pin to CPU(s) {cpus:?}: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
pub fn pin_to_cpus(cpus: &[usize]) -> Result<(), String> {
    Err(format!(
        "pinning to CPU(s) {cpus:?} is only supported on Linux"
    ))
}

/// This process's resource use so far.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// User plus system CPU time, seconds.
    pub cpu_seconds: f64,
    /// Peak resident set size, bytes.
    pub peak_rss_bytes: u64,
}

/// Reads `getrusage(RUSAGE_SELF)`.
#[cfg(unix)]
pub fn usage() -> Usage {
    // SAFETY: getrusage fills the zeroed struct it is given and nothing else.
    let r = unsafe {
        let mut r: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut r);
        r
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    // Linux reports ru_maxrss in kilobytes.
    Usage {
        cpu_seconds: seconds(r.ru_utime) + seconds(r.ru_stime),
        peak_rss_bytes: r.ru_maxrss.max(0) as u64 * 1024,
    }
}

#[cfg(not(unix))]
pub fn usage() -> Usage {
    Usage::default()
}

/// Watches the CPU time of this process's threads whose name starts with a prefix (the load
/// threads, `infergate-load-*`), so a row can say what the load itself cost, without the set-up
/// around it (loading a tokenizer, pre-flight). Samples `/proc/self/task/*/schedstat` (nanoseconds)
/// every 20 ms while it runs, keeping each thread's last reading (threads end with their run).
pub struct ThreadCpu {
    stop: Arc<AtomicBool>,
    sampler: Option<JoinHandle<HashMap<String, u64>>>,
}

impl ThreadCpu {
    pub fn watch(prefix: &'static str) -> ThreadCpu {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let sampler = std::thread::spawn(move || {
            let mut seen = HashMap::new();
            loop {
                let last = flag.load(Ordering::Acquire);
                for (task, ns) in threads_cpu_ns(prefix) {
                    seen.insert(task, ns);
                }
                if last {
                    return seen;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        ThreadCpu {
            stop,
            sampler: Some(sampler),
        }
    }

    /// The watched threads' CPU seconds since they started (0 where `/proc` is not there).
    pub fn seconds(mut self) -> f64 {
        self.stop.store(true, Ordering::Release);
        let seen = self.sampler.take().and_then(|s| s.join().ok());
        seen.map_or(0.0, |s| s.values().sum::<u64>() as f64 / 1e9)
    }
}

/// `(task id, CPU nanoseconds)` of this process's threads named `prefix*`.
fn threads_cpu_ns(prefix: &str) -> Vec<(String, u64)> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|task| {
            let path = task.path();
            let comm = std::fs::read_to_string(path.join("comm")).ok()?;
            if !comm.starts_with(prefix) {
                return None;
            }
            let stat = std::fs::read_to_string(path.join("schedstat")).ok()?;
            let ns = stat.split_whitespace().next()?.parse().ok()?;
            Some((task.file_name().to_string_lossy().into_owned(), ns))
        })
        .collect()
}
