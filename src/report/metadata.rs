//! Where a run happened, for every report: the git commit and branch of the working directory (or of
//! the CI job, from `GITHUB_SHA` / `GITHUB_REF_NAME`), the host name and the operating system. Each is
//! left out when it cannot be found; none can carry a credential.

use std::process::Command;

use super::schema::Environment;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

#[cfg(unix)]
fn host() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into the buffer it is given.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8(buf[..end].to_vec()).ok()
}

#[cfg(not(unix))]
fn host() -> Option<String> {
    env("COMPUTERNAME")
}

/// `(year, month, day, hour, minute, second)` in UTC for seconds since the Unix epoch (days to civil
/// date: Howard Hinnant's algorithm).
pub fn utc_parts(unix_secs: i64) -> (i64, i64, i64, i64, i64, i64) {
    let (days, rem) = (unix_secs.div_euclid(86_400), unix_secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, rem / 3600, rem % 3600 / 60, rem % 60)
}

/// The `environment` object of `verdicts.json`.
pub fn environment() -> Environment {
    Environment {
        git_commit: env("GITHUB_SHA").or_else(|| git(&["rev-parse", "HEAD"])),
        git_branch: env("GITHUB_HEAD_REF")
            .or_else(|| env("GITHUB_REF_NAME"))
            .or_else(|| git(&["rev-parse", "--abbrev-ref", "HEAD"])),
        host: host(),
        os: std::env::consts::OS.to_string(),
        arch: std::env::consts::ARCH.to_string(),
        cpus: std::thread::available_parallelism().map(|n| n.get()).ok(),
    }
}
