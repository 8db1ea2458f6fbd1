//! Finds the line and column of a key path in YAML source text, for errors found after parsing.
//!
//! serde_yaml reports positions for syntax errors and unknown keys, but checks that span fields
//! (a stage that needs `rate` under `load.type: constant`) happen after deserialisation, where no
//! positions survive. This indentation walk covers the block-style YAML that scenario files use; when it
//! cannot find a path it returns `None` and the error still names the key.

/// One step of a path: a mapping key, or the n-th item of a block sequence.
#[derive(Debug, Clone, Copy)]
pub enum Step<'a> {
    Key(&'a str),
    Item(usize),
}

/// Returns the 1-based (line, column) where the last step of `path` starts.
pub fn locate(source: &str, path: &[Step<'_>]) -> Option<(usize, usize)> {
    let entries = entries(source);
    let mut pos = 0;
    let mut min_col = 0;
    let mut seq_col: Option<usize> = None;
    let mut found = None;
    for step in path {
        let mut items_seen = 0;
        let mut hit = None;
        for (i, e) in entries.iter().enumerate().skip(pos) {
            let in_block = e.col >= min_col || (e.is_dash && Some(e.col) == seq_col);
            if !in_block {
                break;
            }
            match *step {
                Step::Key(key) if !e.is_dash && is_key(e.text, key) => {
                    hit = Some(i);
                    break;
                }
                Step::Item(n) if e.is_dash => {
                    if items_seen == n {
                        hit = Some(i);
                        break;
                    }
                    items_seen += 1;
                }
                _ => {}
            }
        }
        let e = &entries[hit?];
        found = Some((e.line + 1, e.col + 1));
        pos = hit? + 1;
        match step {
            Step::Key(_) => {
                min_col = e.col + 1;
                seq_col = Some(e.col);
            }
            Step::Item(_) => {
                min_col = e.col + 2;
                seq_col = None;
            }
        }
    }
    found
}

/// A line of block YAML, split so that `- key: v` yields a dash entry and a content entry.
struct Entry<'a> {
    line: usize,
    col: usize,
    text: &'a str,
    is_dash: bool,
}

fn entries(source: &str) -> Vec<Entry<'_>> {
    let mut out = Vec::new();
    for (line, raw) in source.lines().enumerate() {
        let mut col = raw.len() - raw.trim_start().len();
        let mut text = raw.trim_start();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        while text == "-" || text.starts_with("- ") {
            out.push(Entry {
                line,
                col,
                text,
                is_dash: true,
            });
            let rest = text[1..].trim_start();
            col += text.len() - rest.len();
            text = rest;
        }
        if !text.is_empty() {
            out.push(Entry {
                line,
                col,
                text,
                is_dash: false,
            });
        }
    }
    out
}

fn is_key(text: &str, key: &str) -> bool {
    let text = text.trim_start_matches(['"', '\'']);
    text.strip_prefix(key)
        .map(|rest| rest.trim_start_matches(['"', '\'']))
        .is_some_and(|rest| rest.trim_start().starts_with(':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "\
api:
  type: completion
load:
  type: constant
  stages:
    - rate: 1
      duration: 300
    - rate: 2
      duration: 10
thresholds:
  ttft: [\"p(99) < 1s\"]
";

    #[test]
    fn finds_nested_keys_and_sequence_items() {
        assert_eq!(
            locate(SOURCE, &[Step::Key("load"), Step::Key("type")]),
            Some((4, 3))
        );
        assert_eq!(
            locate(
                SOURCE,
                &[Step::Key("load"), Step::Key("stages"), Step::Item(1)]
            ),
            Some((8, 5))
        );
        assert_eq!(
            locate(
                SOURCE,
                &[
                    Step::Key("load"),
                    Step::Key("stages"),
                    Step::Item(1),
                    Step::Key("duration")
                ]
            ),
            Some((9, 7))
        );
        assert_eq!(
            locate(SOURCE, &[Step::Key("thresholds"), Step::Key("ttft")]),
            Some((11, 3))
        );
    }

    #[test]
    fn missing_paths_are_none() {
        assert_eq!(locate(SOURCE, &[Step::Key("server")]), None);
        assert_eq!(
            locate(SOURCE, &[Step::Key("api"), Step::Key("stages")]),
            None
        );
        assert_eq!(
            locate(
                SOURCE,
                &[Step::Key("load"), Step::Key("stages"), Step::Item(5)]
            ),
            None
        );
    }
}
