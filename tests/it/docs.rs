//! Docs that cannot rot. Every fenced `yaml` block in README.md and docs/*.md is a whole scenario and
//! must load as a scenario file, unless its info string says what else it is: `yaml partial` (a piece of
//! a scenario), `yaml workflow`, `yaml kubernetes`, `yaml helm`, ... (any second word). Every
//! `infergate …` command line shown (in `sh`, `bash`, `console` and `text` blocks; `$ ` prompts,
//! `VAR=value` prefixes, `\` continuations and `cargo run --release -- …` allowed) must parse with the
//! command line's real flags.

use std::path::{Path, PathBuf};

use infergate::scenario::Scenario;

/// README.md and every page under docs/.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![PathBuf::from("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir("docs")
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    docs.retain(|p| p.extension().is_some_and(|e| e == "md"));
    docs.sort();
    pages.extend(docs);
    pages
}

/// A fenced block: its info string, its first line's number and its text.
struct Block {
    info: String,
    line: usize,
    text: String,
}

fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in text.lines().enumerate() {
        let fence = line.trim_start().strip_prefix("```");
        match (&mut open, fence) {
            (None, Some(info)) => {
                open = Some(Block {
                    info: info.trim().to_string(),
                    line: i + 2,
                    text: String::new(),
                })
            }
            (Some(_), Some(_)) => out.extend(open.take()),
            (Some(block), None) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

/// The `infergate` arguments of each command in a shell block, with its line number.
fn commands(block: &Block) -> Vec<(usize, Vec<String>)> {
    let mut out = Vec::new();
    let mut joined = String::new();
    let mut first = 0;
    for (i, line) in block.text.lines().enumerate() {
        if joined.is_empty() {
            first = block.line + i;
        }
        let line = line.trim();
        match line.strip_suffix('\\') {
            Some(head) => {
                joined.push_str(head);
                joined.push(' ');
                continue;
            }
            None => joined.push_str(line),
        }
        let command = std::mem::take(&mut joined);
        let command = command.strip_prefix("$ ").unwrap_or(&command);
        // A comment after the command, and what follows `&&`, `;` or a pipe, are not its arguments.
        let command = command.split(" #").next().unwrap_or_default();
        for part in command
            .split("&&")
            .flat_map(|p| p.split(';'))
            .flat_map(|p| p.split(" | "))
        {
            let Some(words) = shlex::split(part.trim()) else {
                continue;
            };
            let mut words = words.into_iter().skip_while(|w| {
                w == "export" || w == "env" || (w.contains('=') && !w.starts_with('-'))
            });
            let args: Vec<String> = match words.next().as_deref() {
                Some("infergate") => words.collect(),
                Some("cargo") => {
                    let rest: Vec<String> = words.collect();
                    match (
                        rest.first().map(String::as_str),
                        rest.iter().position(|w| w == "--"),
                    ) {
                        (Some("run"), Some(dash)) => rest[dash + 1..].to_vec(),
                        _ => continue,
                    }
                }
                _ => continue,
            };
            out.push((first, args));
        }
    }
    out
}

#[test]
fn every_whole_scenario_in_the_docs_loads() {
    let mut checked = 0;
    let mut errors = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for block in blocks(&text) {
            let kind = block.info.split_whitespace().collect::<Vec<_>>();
            if !matches!(kind.as_slice(), ["yaml"] | ["yml"]) {
                continue;
            }
            let name = format!("{}:{}", page.display(), block.line);
            match Scenario::from_source(Path::new(&name), &block.text) {
                Ok(_) => checked += 1,
                Err(e) => errors.push(format!(
                    "{e}\n  (a piece of a scenario is marked ```yaml partial; \
                     another kind of file names itself: ```yaml workflow, ```yaml kubernetes, ...)"
                )),
            }
        }
    }
    assert!(
        errors.is_empty(),
        "scenarios in the docs that do not load:\n{}",
        errors.join("\n")
    );
    assert!(checked >= 3, "only {checked} scenarios found in the docs");
}

#[test]
fn every_infergate_command_in_the_docs_parses() {
    let mut checked = 0;
    let mut errors = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for block in blocks(&text) {
            let shell = matches!(
                block.info.as_str(),
                "sh" | "bash" | "shell" | "console" | "text"
            );
            if !shell {
                continue;
            }
            for (line, args) in commands(&block) {
                match infergate::cli::accepts(&args) {
                    Ok(()) => checked += 1,
                    Err(e) => errors.push(format!(
                        "{}:{line}: infergate {}\n{}",
                        page.display(),
                        args.join(" "),
                        e.lines().next().unwrap_or_default()
                    )),
                }
            }
        }
    }
    assert!(
        errors.is_empty(),
        "commands in the docs that infergate refuses:\n{}",
        errors.join("\n")
    );
    assert!(checked >= 10, "only {checked} commands found in the docs");
}
