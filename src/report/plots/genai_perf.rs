//! genai-perf's five default plots (`--generate-plots`), drawn from the requests of one
//! `infergate profile` run, as PNG and SVG under its `plots/` folder with genai-perf's names: time
//! to first token and request latency (box plots), input against output sequence lengths, time to
//! first token against input length, and token-to-token latency against the token's position.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{P50, P99, STAGE, blank, err, font, linear_bounds, text};
use crate::report::genai_perf::Request;

const SIZE: (u32, u32) = (900, 560);

/// One figure: its file name, and how it is drawn (title, axes and points, or a box's values).
enum Figure {
    Box {
        title: &'static str,
        unit: &'static str,
        values: Vec<f64>,
    },
    Scatter {
        title: &'static str,
        x: &'static str,
        y: &'static str,
        points: Vec<(f64, f64)>,
    },
}

/// Draws every plot the requests allow into `dir`; returns how many.
pub fn draw_all(dir: &Path, requests: &[Request]) -> Result<usize, String> {
    font()?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let gaps: Vec<(f64, f64)> = requests
        .iter()
        .flat_map(|r| {
            r.gaps_ms
                .iter()
                .enumerate()
                .map(|(i, g)| ((i + 2) as f64, *g))
        })
        .collect();
    let figures = [
        (
            "time_to_first_token",
            Figure::Box {
                title: "Time to First Token",
                unit: "ms",
                values: requests.iter().map(|r| r.ttft_ms).collect(),
            },
        ),
        (
            "request_latency",
            Figure::Box {
                title: "Request Latency",
                unit: "ms",
                values: requests.iter().map(|r| r.latency_ms).collect(),
            },
        ),
        (
            "distribution_of_input_sequence_lengths_to_output_sequence_lengths",
            Figure::Scatter {
                title: "Distribution of Input Sequence Lengths to Output Sequence Lengths",
                x: "input sequence length (tokens)",
                y: "output sequence length (tokens)",
                points: requests
                    .iter()
                    .map(|r| (r.input_tokens, r.output_tokens))
                    .collect(),
            },
        ),
        (
            "time_to_first_token_vs_input_sequence_lengths",
            Figure::Scatter {
                title: "Time to First Token vs Input Sequence Lengths",
                x: "input sequence length (tokens)",
                y: "time to first token (ms)",
                points: requests
                    .iter()
                    .map(|r| (r.input_tokens, r.ttft_ms))
                    .collect(),
            },
        ),
        (
            "token-to-token_latency_vs_output_token_position",
            Figure::Scatter {
                title: "Token-to-Token Latency vs Output Token Position",
                x: "output token position",
                y: "token-to-token latency (ms)",
                points: gaps,
            },
        ),
    ];
    let mut drawn = 0;
    for (name, figure) in &figures {
        let empty = match figure {
            Figure::Box { values, .. } => values.is_empty(),
            Figure::Scatter { points, .. } => points.is_empty(),
        };
        if empty {
            continue;
        }
        let svg = dir.join(format!("{name}.svg"));
        draw(&SVGBackend::new(&svg, SIZE).into_drawing_area(), figure)?;
        let png = dir.join(format!("{name}.png"));
        draw(&BitMapBackend::new(&png, SIZE).into_drawing_area(), figure)?;
        drawn += 1;
    }
    Ok(drawn)
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, figure: &Figure) -> Result<(), String> {
    match figure {
        Figure::Box {
            title,
            unit,
            values,
        } => box_plot(root, title, unit, values)?,
        Figure::Scatter {
            title,
            x,
            y,
            points,
        } => scatter(root, title, x, y, points)?,
    }
    root.present().map_err(err)
}

/// A box from the 25th to the 75th percentile with the median, whiskers to the extremes.
fn box_plot<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    unit: &str,
    values: &[f64],
) -> Result<(), String> {
    let Some(s) = crate::report::genai_perf::stats(values, unit) else {
        return Ok(());
    };
    let area = blank(root, title)?;
    let (y0, y1) = linear_bounds([s.min, s.max].into_iter());
    let mut chart = ChartBuilder::on(&area)
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..2.0, y0..y1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .disable_x_axis()
        .y_desc(format!("{title} ({unit})"))
        .label_style(text(13))
        .axis_desc_style(text(14))
        .draw()
        .map_err(err)?;
    let line = |points: Vec<(f64, f64)>| PathElement::new(points, STAGE.stroke_width(2));
    chart
        .draw_series([
            Rectangle::new([(0.7, s.p25), (1.3, s.p75)], STAGE.mix(0.25).filled()),
            Rectangle::new([(0.7, s.p25), (1.3, s.p75)], STAGE.stroke_width(2)),
        ])
        .map_err(err)?;
    chart
        .draw_series([
            line(vec![(1.0, s.min), (1.0, s.p25)]),
            line(vec![(1.0, s.p75), (1.0, s.max)]),
            line(vec![(0.85, s.min), (1.15, s.min)]),
            line(vec![(0.85, s.max), (1.15, s.max)]),
            PathElement::new(vec![(0.7, s.p50), (1.3, s.p50)], P99.stroke_width(3)),
        ])
        .map_err(err)?;
    Ok(())
}

fn scatter<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    points: &[(f64, f64)],
) -> Result<(), String> {
    let area = blank(root, title)?;
    let (x0, x1) = linear_bounds(points.iter().map(|p| p.0));
    let (y0, y1) = linear_bounds(points.iter().map(|p| p.1));
    let mut chart = ChartBuilder::on(&area)
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .label_style(text(13))
        .axis_desc_style(text(14))
        .draw()
        .map_err(err)?;
    chart
        .draw_series(
            points
                .iter()
                .map(|&p| Circle::new(p, 3, P50.mix(0.5).filled())),
        )
        .map_err(err)?;
    Ok(())
}
