//! The TrueType font plots need for text: `INFERGATE_FONT`, else DejaVu Sans, Liberation Sans or any
//! `.ttf` under the usual font directories, registered with plotters once per process.

use std::path::PathBuf;
use std::sync::OnceLock;

use super::FONT;

/// Registers a font once; `Err` says why plots cannot be drawn.
pub(super) fn font() -> Result<(), String> {
    static FONT_LOADED: OnceLock<Result<(), String>> = OnceLock::new();
    FONT_LOADED
        .get_or_init(|| {
            let path = find_font().ok_or(
                "no TrueType font found (set INFERGATE_FONT=/path/to/font.ttf); plots skipped",
            )?;
            let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font(FONT, plotters::style::FontStyle::Normal, bytes)
                .map_err(|_| format!("{} is not a usable font; plots skipped", path.display()))
        })
        .clone()
}

fn find_font() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("INFERGATE_FONT") {
        return Some(PathBuf::from(path));
    }
    let known = [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/TTF/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        "/Library/Fonts/Arial.ttf",
        "/System/Library/Fonts/Supplemental/Arial.ttf",
        "C:\\Windows\\Fonts\\arial.ttf",
    ];
    if let Some(found) = known.iter().map(PathBuf::from).find(|p| p.is_file()) {
        return Some(found);
    }
    let mut dirs = vec![PathBuf::from("/usr/share/fonts")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).ok()?.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "ttf") {
                return Some(path);
            }
        }
    }
    None
}
