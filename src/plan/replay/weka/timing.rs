//! When a Weka trace's calls start: idle gaps capped, and subagents' requests packed into streams.

use super::Request;

/// Maps request starts so that no gap between consecutive starts exceeds `cap` seconds.
pub(super) struct Warp {
    gaps: Vec<(f64, f64, f64)>, // (raw start, raw end, shift before)
    cap: f64,
}

impl Warp {
    pub(super) fn new(mut starts: Vec<f64>, cap: f64) -> Warp {
        starts.sort_by(f64::total_cmp);
        let mut gaps = Vec::new();
        let mut shift = 0.0;
        for pair in starts.windows(2) {
            let gap = pair[1] - pair[0];
            if cap > 0.0 && gap > cap {
                gaps.push((pair[0], pair[1], shift));
                shift += gap - cap;
            }
        }
        Warp { gaps, cap }
    }

    pub(super) fn map(&self, t: f64) -> f64 {
        let mut shift = 0.0;
        for &(start, end, before) in &self.gaps {
            if t < start {
                return t - before;
            }
            if t < end {
                return if t - start <= self.cap {
                    t - before
                } else {
                    start - before + self.cap
                };
            }
            shift = before + (end - start - self.cap);
        }
        t - shift
    }
}

/// Subagent requests packed into streams whose requests do not overlap.
pub(super) fn streams(requests: &[Request]) -> Vec<Vec<Request>> {
    let mut sorted = requests.to_vec();
    sorted.sort_by(|a, b| a.t.total_cmp(&b.t));
    let mut streams: Vec<(f64, Vec<Request>)> = Vec::new();
    for r in sorted {
        let end = r.t + r.api_time.unwrap_or(0.0);
        match streams.iter_mut().find(|(e, _)| *e <= r.t) {
            Some(stream) => {
                stream.0 = end;
                stream.1.push(r);
            }
            None => streams.push((end, vec![r])),
        }
    }
    streams.into_iter().map(|(_, s)| s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_gaps_over_the_cap_are_cut_to_it() {
        let warp = Warp::new(vec![0.0, 1.0, 101.0, 102.0], 10.0);
        assert_eq!(warp.map(1.0), 1.0);
        assert_eq!(warp.map(5.0), 5.0, "within the cap, time runs");
        assert_eq!(warp.map(50.0), 11.0, "the rest of the gap is cut");
        assert_eq!(warp.map(101.0), 11.0);
        assert_eq!(warp.map(102.0), 12.0);
    }

    #[test]
    fn overlapping_subagent_requests_go_to_separate_streams() {
        let r = |t: f64, api: f64| Request {
            t,
            model: String::new(),
            input: 1,
            output: 1,
            hash_ids: vec![],
            api_time: Some(api),
        };
        let packed = streams(&[r(0.0, 2.0), r(1.0, 1.0), r(2.5, 1.0)]);
        assert_eq!(packed.len(), 2);
        assert_eq!(
            packed[0].len(),
            2,
            "the third reuses the first stream once it ended"
        );
    }
}
