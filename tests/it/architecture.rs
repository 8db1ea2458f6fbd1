//! The architecture, checked: the crate's top-level modules form layers in pipeline order, and a
//! module may use only modules of lower layers. A lower stage importing a higher one (the gate from
//! the driver, say) fails here, naming the file, both modules and the path.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Lowest first. Modules in one layer may not use each other.
const LAYERS: &[&[&str]] = &[
    &["scenario"],
    &["client"],
    &["plan"],
    &["measure", "sim"],
    &["run"],
    &["gate"],
    &["report"],
    &["store"],
    &["bench", "options"],
    &["execute"],
    &["harness"],
    &["cli"],
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source without comments (so a path in a doc comment is not an import).
fn strip_comments(source: &str) -> String {
    source
        .lines()
        .map(|line| match line.find("//") {
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules a file names through `crate::…`, including `use crate::{a, b::c}` groups.
fn crate_paths(source: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = source;
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        let boundary = i == 0
            || !rest[..i]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
        if boundary {
            if let Some(group) = after.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for item in group[..end].split(',') {
                    let name: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        found.insert(name);
                    }
                }
            } else {
                let name: String = after
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                found.insert(name);
            }
        }
        rest = after;
    }
    found
}

#[test]
fn lower_stages_never_import_higher_ones() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut problems = Vec::new();
    let mut modules = BTreeSet::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let first = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_string();
        if module == "lib" || module == "main" {
            continue;
        }
        modules.insert(module.clone());
        let Some(own) = layer(&module) else {
            problems.push(format!(
                "src/{first}: module `{module}` is in no layer of LAYERS"
            ));
            continue;
        };
        let source = strip_comments(&std::fs::read_to_string(file).unwrap());
        for used in crate_paths(&source) {
            if used == module {
                continue;
            }
            match layer(&used) {
                Some(theirs) if theirs < own => {}
                Some(_) => problems.push(format!(
                    "src/{}: `{module}` (layer {own}) uses `crate::{used}` (layer {}): a lower stage \
                     must not import a higher one or a peer",
                    relative.display(),
                    layer(&used).unwrap()
                )),
                None => problems.push(format!(
                    "src/{}: `{module}` uses `crate::{used}`, which is in no layer",
                    relative.display()
                )),
            }
        }
    }
    let listed: BTreeSet<String> = LAYERS
        .iter()
        .flat_map(|l| l.iter().map(|m| m.to_string()))
        .collect();
    for gone in listed.difference(&modules) {
        problems.push(format!("LAYERS names `{gone}`, which src/ does not have"));
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn the_checker_sees_grouped_and_inline_paths() {
    let found = crate_paths(
        "use crate::{run, gate::Verdict};\nlet x = crate::report::json::x();\n// crate::cli\n",
    );
    assert_eq!(
        found,
        ["gate", "report", "run", "cli"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        "comments are only stripped by strip_comments"
    );
    let stripped = crate_paths(&strip_comments("use crate::plan; // crate::cli\n"));
    assert_eq!(stripped, ["plan".to_string()].into_iter().collect());
    assert_eq!(layer("scenario"), Some(0));
    assert!(
        layer("gate") > layer("run"),
        "the gate judges what the run produced"
    );
}
