//! The benchmark's target: this same binary's `infergate sim` in fixed-timing mode, started as a
//! child process (so the load generator's CPU time and memory are its own) and pinned to its own core.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `infergate sim` child; killed on drop.
pub struct SimChild {
    child: Child,
    base_url: String,
}

impl SimChild {
    /// Starts `infergate sim --port 0` with fixed timing and waits for the address it prints.
    pub fn start(ttft: Duration, itl: Duration, cpu: Option<usize>) -> Result<SimChild, String> {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
        let mut command = Command::new(exe);
        command.args([
            "sim",
            "--port",
            "0",
            "--fixed-ttft-ms",
            &format!("{}", ttft.as_secs_f64() * 1e3),
            "--fixed-itl-ms",
            &format!("{}", itl.as_secs_f64() * 1e3),
        ]);
        if let Some(cpu) = cpu {
            command.args(["--cpu", &cpu.to_string()]);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start the simulator: {e}"))?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let mut lines = BufReader::new(stderr).lines();
        let base_url = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(at) = line.find("http://") {
                        let url = line[at..].split_whitespace().next().unwrap_or_default();
                        break url.to_string();
                    }
                }
                _ => {
                    let _ = child.kill();
                    return Err("the simulator exited before printing its address".into());
                }
            }
        };
        // Keep draining its stderr so it can never block on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Ok(SimChild { child, base_url })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }
}

impl Drop for SimChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
