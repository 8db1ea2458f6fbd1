//! A reasoning model's figures in `report.html`: per stage, when its answer began (TTFT is the first
//! token of any kind, TTFO the first answer token) and how many tokens it spent reasoning, and where
//! that count came from. Runs without reasoning show nothing.

use std::fmt::Write as _;

use super::html::cell as ms;
use super::rundir::RunDir;

/// The "Reasoning" table, when any stage carried reasoning.
pub fn html_table(out: &mut String, run: &RunDir) {
    if run.stages.iter().all(|s| s.reasoning.is_none()) {
        return;
    }
    out.push_str(
        "<h2>Reasoning</h2><p class=\"note\">TTFT is the first token of any kind, reasoning \
         included; TTFO the first answer token. Reasoning tokens come from the server's \
         <code>usage.completion_tokens_details.reasoning_tokens</code> when it sends them, else one \
         per reasoning chunk.</p><table><tr><th>stage</th><th>TTFT p50</th><th>TTFO p50</th>\
         <th>TTFO p99</th><th>reasoning tokens avg</th><th>p99</th><th>max</th>\
         <th>counted by the server</th></tr>",
    );
    for s in &run.stages {
        let Some(r) = &s.reasoning else { continue };
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:.1}</td><td class=\"num\">{:.0}</td><td class=\"num\">{:.0}</td><td class=\"num\">{} of {}</td></tr>",
            s.index,
            ms(s.ttft[0]),
            ms(r.ttfo[0]),
            ms(r.ttfo[2]),
            r.tokens.mean,
            r.tokens.p99,
            r.tokens.max,
            r.from_server_usage,
            s.ok,
        );
    }
    out.push_str("</table>");
}
