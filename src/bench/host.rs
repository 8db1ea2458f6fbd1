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
    let r = rusage(libc::RUSAGE_SELF);
    // Linux reports ru_maxrss in kilobytes.
    Usage {
        cpu_seconds: seconds(r.ru_utime) + seconds(r.ru_stime),
        peak_rss_bytes: r.ru_maxrss.max(0) as u64 * 1024,
    }
}

/// The calling thread's `(user, system)` CPU seconds (`getrusage(RUSAGE_THREAD)`).
#[cfg(target_os = "linux")]
pub fn thread_user_system() -> (f64, f64) {
    let r = rusage(libc::RUSAGE_THREAD);
    (seconds(r.ru_utime), seconds(r.ru_stime))
}

#[cfg(unix)]
fn rusage(who: libc::c_int) -> libc::rusage {
    // SAFETY: getrusage fills the zeroed struct it is given and nothing else.
    unsafe {
        let mut r: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut r);
        r
    }
}

#[cfg(unix)]
fn seconds(t: libc::timeval) -> f64 {
    t.tv_sec as f64 + t.tv_usec as f64 / 1e6
}

#[cfg(not(unix))]
pub fn usage() -> Usage {
    Usage::default()
}

/// Watches the CPU time of this process's threads whose name starts with a prefix (the load
/// threads, `infergate-load-*`), so a row can say what the load itself cost, without the set-up
/// around it (loading a tokenizer, pre-flight). Reads each thread's `/proc/self/task/<id>/schedstat`
/// (nanoseconds) every 20 ms while it runs, keeping each thread's last reading (threads end with
/// their run). Each file stays open and is read again in place, and the thread list is looked at
/// again only every 500 ms once one is found: listing `/proc` and opening every file at each sample
/// cost about 0.3 s of CPU in a 60 s run at 50 req/s (0.005 core, a tenth of its load).
pub struct ThreadCpu {
    stop: Arc<AtomicBool>,
    sampler: Option<JoinHandle<HashMap<String, u64>>>,
}

/// How often the watched threads' CPU time is read, and how often the list of threads.
const SAMPLE_EVERY: Duration = Duration::from_millis(20);
const LIST_EVERY: u32 = 25;

impl ThreadCpu {
    pub fn watch(prefix: &'static str) -> ThreadCpu {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let sampler = std::thread::spawn(move || {
            let mut files: HashMap<String, std::fs::File> = HashMap::new();
            let mut seen = HashMap::new();
            for sample in 0u32.. {
                let last = flag.load(Ordering::Acquire);
                if files.is_empty() || sample % LIST_EVERY == 0 || last {
                    for (task, file) in threads_named(prefix) {
                        files.entry(task).or_insert(file);
                    }
                }
                files.retain(|task, file| match read_ns(file) {
                    Some(ns) => {
                        seen.insert(task.clone(), ns);
                        true
                    }
                    None => false, // the thread has ended: keep its last reading
                });
                if last {
                    break;
                }
                std::thread::sleep(SAMPLE_EVERY);
            }
            seen
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

/// The first number of an open `schedstat` file (CPU nanoseconds), read again from its start.
#[cfg(unix)]
fn read_ns(file: &std::fs::File) -> Option<u64> {
    use std::os::unix::fs::FileExt;
    let mut buf = [0u8; 96];
    let n = file.read_at(&mut buf, 0).ok()?;
    let text = std::str::from_utf8(&buf[..n]).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

#[cfg(not(unix))]
fn read_ns(_: &std::fs::File) -> Option<u64> {
    None
}

/// `(task id, its open schedstat file)` of this process's threads named `prefix*`.
fn threads_named(prefix: &str) -> Vec<(String, std::fs::File)> {
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
            let file = std::fs::File::open(path.join("schedstat")).ok()?;
            Some((task.file_name().to_string_lossy().into_owned(), file))
        })
        .collect()
}
