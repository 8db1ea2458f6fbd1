//! The process's table of open files, made ready for many connections before any request is due.
//!
//! Every connection is a file descriptor. When a new descriptor does not fit, the kernel grows the
//! process's table (past 64, 256, 512, ... descriptors), and in a process with more than one
//! thread every growth waits for an RCU grace period. Measured on 2026-12-06 (`perf record -e
//! sched:sched_switch -g`): `socket()` held the load thread in uninterruptible sleep for 8–18 ms
//! in `expand_files` → `synchronize_rcu` when a 1,000 req/s run opened its 257th connection, so
//! every request due meanwhile was sent late. `reserve` grows the table once, up front, by placing
//! a descriptor near the top of the range and closing it again (a table never shrinks), after
//! raising the soft limit on open files to the hard one, as load generators do (a run of thousands
//! of concurrent streams would otherwise fail at the common soft default of 1,024).

/// The largest table `reserve` asks for: 65,536 descriptors cost the process 0.5 MiB.
pub const MOST: u64 = 65_536;

/// Raises the soft limit on open files to the hard one and grows the descriptor table to hold
/// `min(limit, MOST)` descriptors. Returns that size (0 where it could not). Errors are ignored:
/// without it, a run is as it was, with the occasional wait when the table grows.
#[cfg(unix)]
pub fn reserve() -> u64 {
    // SAFETY: getrlimit/setrlimit read and write the struct given; open, dup3 and close act on this
    // process's own descriptors: `low` is a fresh one, `high` is unused (checked) until dup3 places
    // it, and both are closed right after.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                ..limit
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
        let size = limit.rlim_cur.min(MOST);
        let high = size.saturating_sub(1) as libc::c_int;
        if high < 3 || libc::fcntl(high, libc::F_GETFD) != -1 {
            return size; // too small to matter, or already in use: the table is that large.
        }
        let low = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        if low < 0 {
            return 0;
        }
        let placed = libc::dup3(low, high, libc::O_CLOEXEC);
        libc::close(low);
        if placed != high {
            return 0;
        }
        libc::close(high);
        size
    }
}

#[cfg(not(unix))]
pub fn reserve() -> u64 {
    0
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The table's size as the kernel reports it.
    fn fd_size() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("FDSize:")).unwrap();
        line["FDSize:".len()..].trim().parse().unwrap()
    }

    #[test]
    fn the_table_grows_to_the_reserved_size_and_the_placed_descriptor_is_closed_again() {
        let size = reserve();
        assert!(
            size >= 64,
            "a Linux process may open at least 64 files here"
        );
        assert!(fd_size() >= size, "FDSize {} < {size}", fd_size());
        // SAFETY: querying a descriptor number's flags touches nothing.
        assert_eq!(
            unsafe { libc::fcntl((size - 1) as libc::c_int, libc::F_GETFD) },
            -1
        );
        let mut limit: libc::rlimit = unsafe { std::mem::zeroed() };
        // SAFETY: getrlimit fills the struct.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
            0
        );
        assert_eq!(
            limit.rlim_cur, limit.rlim_max,
            "the soft limit is raised to the hard one"
        );
        assert_eq!(size, limit.rlim_cur.min(MOST));
        assert_eq!(reserve(), size, "a second call changes nothing");
    }
}
