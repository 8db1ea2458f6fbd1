//! Request traces in the Azure public dataset's format (`AzurePublicDataset`, inference-perf's one
//! trace format): CSV rows of `TIMESTAMP,ContextTokens,GeneratedTokens`, a header line optional.
//!
//! A trace gives a `trace_replay` stage its arrivals (each row at its timestamp's offset from the
//! first row's) and `data.trace` its lengths (row `i` is request `i`'s prompt and `max_tokens`).
//! Timestamps are `YYYY-MM-DD HH:MM:SS[.fraction]` (a `T` for the space, a trailing `Z` and quotes are
//! accepted) read in UTC at full precision; inference-perf rounds them to 10 ms. A row that does not
//! parse is an error naming its line, not a row silently skipped.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// One request of a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// From the first row.
    pub offset: Duration,
    pub context_tokens: u32,
    pub generated_tokens: u32,
}

/// Reads a trace file; rows out of time order are sorted by timestamp.
pub fn read(path: &Path) -> Result<Vec<Row>, String> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("trace {shown}: {e}"))?;
    parse(&text).map_err(|e| format!("trace {shown}: {e}"))
}

/// The arrivals of a trace: its rows' offsets, in order.
pub fn offsets(rows: &[Row]) -> Arc<[Duration]> {
    rows.iter().map(|r| r.offset).collect()
}

fn parse(text: &str) -> Result<Vec<Row>, String> {
    let mut stamped = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let number = i + 1;
        let Some(micros) = fields.first().and_then(|f| timestamp_micros(f)) else {
            if stamped.is_empty() && i == 0 {
                continue; // the header
            }
            return Err(format!(
                "line {number}: `{line}` is not TIMESTAMP,ContextTokens,GeneratedTokens (TIMESTAMP as 2023-11-16 18:15:46.6805900)"
            ));
        };
        let count = |k: usize, name: &str| -> Result<u32, String> {
            fields
                .get(k)
                .and_then(|f| f.parse::<u32>().ok())
                .ok_or_else(|| format!("line {number}: {name} is not a whole number: `{line}`"))
        };
        stamped.push((
            micros,
            count(1, "ContextTokens")?,
            count(2, "GeneratedTokens")?,
        ));
    }
    if stamped.is_empty() {
        return Err("no rows".into());
    }
    stamped.sort_by_key(|r| r.0);
    let first = stamped[0].0;
    Ok(stamped
        .into_iter()
        .map(|(t, context_tokens, generated_tokens)| Row {
            offset: Duration::from_micros((t - first) as u64),
            context_tokens,
            generated_tokens,
        })
        .collect())
}

/// Microseconds since 1970 of `YYYY-MM-DD HH:MM:SS[.fraction]` in UTC.
fn timestamp_micros(text: &str) -> Option<i64> {
    let t = text.trim_matches('"').trim_end_matches('Z');
    let (date, time) = t.split_once([' ', 'T'])?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (d.next()??, d.next()??, d.next()??);
    let (clock, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut c = clock.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (hour, minute, second) = (c.next()??, c.next()??, c.next()??);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let micros: i64 = format!("{fraction:0<6}")[..6].parse().ok()?;
    let days = days_from_civil(year, month, day);
    Some(((days * 24 + hour) * 60 + minute) * 60_000_000 + second * 1_000_000 + micros)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn azure_rows_become_offsets_and_lengths() {
        let rows = parse(
            "TIMESTAMP,ContextTokens,GeneratedTokens\n\
             2023-11-16 18:15:46.6805900,374,44\n\
             2023-11-16 18:15:50.9951690,396,109\n\
             \n\
             2023-11-16 18:16:00Z,879,20\n",
        )
        .unwrap();
        let offsets: Vec<u128> = rows.iter().map(|r| r.offset.as_micros()).collect();
        assert_eq!(offsets, [0, 4_314_579, 13_319_410]);
        assert_eq!(
            (rows[1].context_tokens, rows[1].generated_tokens),
            (396, 109)
        );
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        // Across midnight and a month's end, and out of order.
        let rows = parse("\"2024-02-29T23:59:59.5\",1,1\n2024-02-29 23:59:59.0,2,2\n2024-03-01 00:00:00.25,3,3\n")
            .unwrap();
        let got: Vec<(u128, u32)> = rows
            .iter()
            .map(|r| (r.offset.as_millis(), r.context_tokens))
            .collect();
        assert_eq!(got, [(0, 2), (500, 1), (1250, 3)]);
    }

    #[test]
    fn a_bad_row_is_named_by_line() {
        let e = parse("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.1,374,44\nyesterday,1,2\n")
            .unwrap_err();
        assert!(e.starts_with("line 3: `yesterday,1,2`"), "{e}");
        let e = parse("2023-11-16 18:15:46.1,374,many\n").unwrap_err();
        assert!(e.contains("line 1: GeneratedTokens"), "{e}");
        assert_eq!(
            parse("TIMESTAMP,ContextTokens,GeneratedTokens\n").unwrap_err(),
            "no rows"
        );
    }
}
