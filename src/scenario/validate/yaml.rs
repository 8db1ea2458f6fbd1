//! Parsing the YAML itself: serde errors placed at their line and column, and every unknown key
//! collected with the nearest allowed name (`stges` → did you mean `stages`?).

use std::path::Path;

use crate::scenario::raw::RawScenario;
use crate::scenario::{ScenarioError, ScenarioErrors};

/// Parses the file; on an unknown key, records it, blanks the key (and its block) and parses again, so
/// every misspelt key is reported at once. Other syntax errors end the search.
pub(super) fn parse_collecting_unknown_keys(
    path: &Path,
    source: &str,
) -> Result<RawScenario, ScenarioErrors> {
    let mut text = source.to_string();
    let mut errors = Vec::new();
    loop {
        let e = match serde_yaml::from_str::<RawScenario>(&text) {
            Ok(raw) if errors.is_empty() => return Ok(raw),
            Ok(_) => return Err(ScenarioErrors(errors)),
            Err(e) => e,
        };
        let unknown_key = e.to_string().contains("unknown field");
        let location = e.location();
        errors.push(yaml_error(path, &e));
        let blanked = match location {
            Some(at) if unknown_key && errors.len() < 50 => {
                blank_block(&text, at.line(), at.column())
            }
            _ => None,
        };
        match blanked {
            Some(next) => text = next,
            None => return Err(ScenarioErrors(errors)),
        }
    }
}

/// Replaces the block-style key at (line, column) and the lines nested under it with empty lines,
/// keeping every other line where it was. `None` when the key is not alone at the start of its line.
fn blank_block(text: &str, line: usize, column: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let target = lines.get(line.checked_sub(1)?)?;
    let indent = column.checked_sub(1)?;
    // `column` counts characters; the key must have only spaces before it.
    let before: String = target.chars().take(indent).collect();
    if before.chars().count() < indent || !before.trim().is_empty() {
        return None;
    }
    let mut out: Vec<&str> = lines.clone();
    out[line - 1] = "";
    for (i, l) in lines.iter().enumerate().skip(line) {
        let nested = l.trim().is_empty() || l.len() - l.trim_start().len() > indent;
        if !nested {
            break;
        }
        out[i] = "";
    }
    Some(out.join("\n"))
}

/// The suggestion for a misspelling: the allowed word closest to the one written, if close enough.
fn nearest<'a>(written: &str, allowed: &[&'a str]) -> Option<&'a str> {
    allowed
        .iter()
        .map(|a| (strsim::damerau_levenshtein(written, a), *a))
        .filter(|(d, a)| *d <= (a.len().max(written.len()) / 3).max(1))
        .min()
        .map(|(_, a)| a)
}

fn yaml_error(path: &Path, e: &serde_yaml::Error) -> ScenarioError {
    let text = e.to_string();
    // serde_yaml appends " at line L column C"; we print the position in front instead.
    let mut message = match text.rfind(" at line ") {
        Some(at) if e.location().is_some() => text[..at].to_string(),
        _ => text,
    };
    // "unknown field `streming`, expected one of `type`, `streaming`": suggest the nearest.
    if message.contains("unknown field") || message.contains("unknown variant") {
        let quoted: Vec<&str> = message.split('`').skip(1).step_by(2).collect();
        if let Some((written, allowed)) = quoted.split_first()
            && let Some(suggestion) = nearest(written, allowed)
        {
            message.push_str(&format!("; did you mean `{suggestion}`?"));
        }
    }
    ScenarioError {
        path: path.to_path_buf(),
        line: e.location().map(|l| l.line()),
        column: e.location().map(|l| l.column()),
        key: None,
        message,
    }
}
