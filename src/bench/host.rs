//! What the benchmark needs from the operating system: pinning the process to one core, and reading
//! its CPU time and peak resident memory (`getrusage`). Linux-only parts degrade to "unknown" elsewhere.

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
