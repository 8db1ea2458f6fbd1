//! Plots written with every run, as SVG and PNG (plotters): latency percentiles against stage load
//! with the knee marked, throughput against latency, TTFT and ITL distributions, and the run over time.
//! They are drawn from the run directory's JSON files (`report::rundir::RunDir`), so `infergate report DIR`
//! redraws them from a saved run.
//!
//! Text needs a TrueType font: `INFERGATE_FONT`, else DejaVu Sans, Liberation Sans or any `.ttf`
//! under the usual font directories. Without one, plots are skipped with a note and the HTML report
//! keeps its tables.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

mod font;
pub mod genai_perf;
mod timeline;

use super::rundir::{RunDir, StagePoint};
use font::font;
use timeline::timeline;

const SIZE: (u32, u32) = (1200, 420);
const TALL: (u32, u32) = (1200, 640);
const P50: RGBColor = RGBColor(31, 119, 180);
const P95: RGBColor = RGBColor(255, 127, 14);
const P99: RGBColor = RGBColor(214, 39, 40);
const KNEE: RGBColor = RGBColor(148, 0, 0);
const RECOMMENDED: RGBColor = RGBColor(44, 160, 44);
const STAGE: RGBColor = RGBColor(120, 60, 170);
const CAPACITY: RGBColor = RGBColor(23, 140, 160);
const FONT: &str = "sans-serif";

/// Picks a stage's p50, p95 and p99 of one metric.
type Percentiles = fn(&StagePoint) -> [Option<f64>; 3];
/// Picks one number of a stage.
type OneValue = fn(&StagePoint) -> Option<f64>;

/// The files of one plot.
#[derive(Debug, Clone)]
pub struct Plot {
    pub name: &'static str,
    pub title: &'static str,
    pub svg: PathBuf,
    pub png: PathBuf,
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Draws every plot the run's data allows into `dir`; returns them, or why none could be drawn.
pub fn draw_all(dir: &Path, run: &RunDir) -> Result<Vec<Plot>, String> {
    font()?;
    let mut plots = Vec::new();
    macro_rules! save {
        ($name:expr, $title:expr, $size:expr, $draw:ident) => {{
            let svg = dir.join(concat!($name, ".svg"));
            let png = dir.join(concat!($name, ".png"));
            {
                let root = SVGBackend::new(&svg, $size).into_drawing_area();
                $draw(&root, run)?;
                root.present().map_err(err)?;
            }
            {
                let root = BitMapBackend::new(&png, $size).into_drawing_area();
                $draw(&root, run)?;
                root.present().map_err(err)?;
            }
            plots.push(Plot {
                name: $name,
                title: $title,
                svg,
                png,
            });
        }};
    }
    if !run.stages.is_empty() {
        save!(
            "latency_vs_load",
            "Latency percentiles by stage load",
            SIZE,
            latency_vs_load
        );
        save!(
            "throughput_vs_latency",
            "Throughput against latency",
            SIZE,
            throughput_vs_latency
        );
    }
    if run.summary.is_some() {
        save!(
            "distributions",
            "TTFT and ITL distributions",
            SIZE,
            distributions
        );
    }
    if !run.timeline.is_empty() {
        save!("timeline", "The run over time", TALL, timeline);
    }
    Ok(plots)
}

/// A legend entry's sample: a short thick line in the series' colour.
fn legend_mark((x, y): (i32, i32), color: RGBColor) -> PathElement<(i32, i32)> {
    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
}

/// Every chart's legend: a light box at `position`.
fn draw_legend<'a, DB, CT>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Result<(), String>
where
    DB: DrawingBackend + 'a,
    CT: plotters::coord::CoordTranslate,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(text(13))
        .draw()
        .map_err(err)
}

fn text(size: u32) -> TextStyle<'static> {
    (FONT, size).into_font().color(&BLACK)
}

/// Clears the canvas and writes the figure's title; returns the area below it.
fn blank<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
) -> Result<DrawingArea<DB, Shift>, String> {
    root.fill(&WHITE).map_err(err)?;
    let below = root.titled(title, text(22)).map_err(err)?;
    Ok(below.margin(0, 10, 10, 10))
}

/// Log-axis bounds around positive values, with some room.
fn log_bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| *v > 0.0 && v.is_finite())
        .fold((f64::MAX, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if hi <= 0.0 {
        (0.1, 10.0)
    } else {
        (lo / 1.5, hi * 1.5)
    }
}

fn linear_bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.08).max(hi.abs() * 0.05).max(0.5);
    ((lo - pad).max(0.0), hi + pad)
}

fn latency_vs_load<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    run: &RunDir,
) -> Result<(), String> {
    let root = blank(root, &format!("{}: latency by stage load", run.scenario))?;
    let panels = root.split_evenly((1, 3));
    let unit = run.load_unit();
    let metrics: [(&str, Percentiles); 3] = [
        ("TTFT", |s| s.ttft),
        ("ITL", |s| s.itl),
        ("e2e latency", |s| s.e2e),
    ];
    for (panel, (name, get)) in panels.iter().zip(metrics) {
        let points: Vec<(f64, [Option<f64>; 3])> =
            run.stages.iter().map(|s| (s.load, get(s))).collect();
        let searched = run.capacity.as_ref();
        let steps: Vec<(f64, f64, bool)> = match (searched, name) {
            (Some(c), "TTFT") => c
                .steps
                .iter()
                .filter_map(|s| Some((s.load, s.ttft_p99_ms?, s.holds)))
                .collect(),
            _ => Vec::new(),
        };
        let loads = points.iter().map(|p| p.0);
        let marked = searched.and_then(|c| c.value);
        let (x0, x1) = linear_bounds(loads.chain(marked).chain(steps.iter().map(|s| s.0)));
        let latencies = points.iter().flat_map(|p| p.1.into_iter().flatten());
        let (y0, y1) = log_bounds(latencies.chain(steps.iter().map(|s| s.1)));
        let mut chart = ChartBuilder::on(panel)
            .caption(format!("{name} (ms, log scale)"), text(18))
            .margin(8)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, (y0..y1).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(unit)
            .y_labels(12)
            .label_style(text(13))
            .axis_desc_style(text(14))
            .x_label_formatter(&|v| short(*v))
            .y_label_formatter(&|v| format_ms(*v))
            .draw()
            .map_err(err)?;
        for (i, (label, color)) in [("p50", P50), ("p95", P95), ("p99", P99)]
            .into_iter()
            .enumerate()
        {
            let line: Vec<(f64, f64)> = points
                .iter()
                .filter_map(|(x, ys)| ys[i].filter(|y| *y > 0.0).map(|y| (*x, y)))
                .collect();
            chart
                .draw_series(LineSeries::new(line.clone(), color.stroke_width(2)))
                .map_err(err)?
                .label(label)
                .legend(move |at| legend_mark(at, color));
            chart
                .draw_series(line.iter().map(|&p| Circle::new(p, 4, color.filled())))
                .map_err(err)?;
        }
        // A capacity search's mark supersedes the knee of the stages that follow it.
        if let Some(knee) = run.knee.as_ref().filter(|_| marked.is_none()) {
            // The knee's label to the right of its line, the recommendation's to the left of its own.
            let right = Pos::new(HPos::Left, VPos::Top);
            let left = Pos::new(HPos::Right, VPos::Top);
            for (x, color, label, pos, dx) in [
                (
                    knee.load,
                    KNEE,
                    format!("knee {}", short(knee.load)),
                    right,
                    4,
                ),
                (
                    knee.recommended,
                    RECOMMENDED,
                    format!("recommended {}", short(knee.recommended)),
                    left,
                    -4,
                ),
            ] {
                let style = ShapeStyle::from(color).stroke_width(2);
                let path = PathElement::new(vec![(x, y0), (x, y1)], style);
                chart.draw_series(std::iter::once(path)).map_err(err)?;
                chart
                    .draw_series(std::iter::once(
                        EmptyElement::at((x, y1))
                            + Text::new(label, (dx, 4), text(13).color(&color).pos(pos)),
                    ))
                    .map_err(err)?;
            }
        }
        if !steps.is_empty() {
            // The search's steps: TTFT p99 of each, filled where the SLO held, hollow where it failed.
            let style = |holds: bool| match holds {
                true => CAPACITY.filled(),
                false => CAPACITY.stroke_width(2),
            };
            chart
                .draw_series(
                    steps
                        .iter()
                        .map(|&(x, y, holds)| Circle::new((x, y), 5, style(holds))),
                )
                .map_err(err)?
                .label("steps p99 (hollow: failed)")
                .legend(|(x, y)| Circle::new((x + 9, y), 5, CAPACITY.filled()));
        }
        if let Some(x) = marked {
            let style = ShapeStyle::from(CAPACITY).stroke_width(2);
            let path = PathElement::new(vec![(x, y0), (x, y1)], style);
            chart.draw_series(std::iter::once(path)).map_err(err)?;
            // Left of the line at the top, where the capacity is the highest load drawn; right of
            // it at the bottom where the failed steps lie beyond it, high up.
            let (at, offset, pos) = match steps.is_empty() {
                true => ((x, y1), (-4, 4), Pos::new(HPos::Right, VPos::Top)),
                false => ((x, y0), (4, -4), Pos::new(HPos::Left, VPos::Bottom)),
            };
            let label = format!("capacity {}", short(x));
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at(at)
                        + Text::new(label, offset, text(13).color(&CAPACITY).pos(pos)),
                ))
                .map_err(err)?;
        }
        // The search's steps fill the bottom and climb to the upper right: the upper left is free.
        let corner = match steps.is_empty() {
            true => SeriesLabelPosition::LowerRight,
            false => SeriesLabelPosition::UpperLeft,
        };
        draw_legend(&mut chart, corner)?;
    }
    Ok(())
}

fn throughput_vs_latency<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    run: &RunDir,
) -> Result<(), String> {
    let root = blank(
        root,
        &format!("{}: throughput against latency", run.scenario),
    )?;
    let panels = root.split_evenly((1, 2));
    let series: [(&str, OneValue); 2] = [
        ("TTFT p99 (ms)", |s| s.ttft[2]),
        ("e2e p50 (ms)", |s| s.e2e[0]),
    ];
    for (panel, (name, get)) in panels.iter().zip(series) {
        let points: Vec<(f64, f64, f64)> = run
            .stages
            .iter()
            .filter_map(|s| get(s).map(|y| (s.output_tokens_per_sec, y, s.load)))
            .collect();
        let (x0, x1) = linear_bounds(points.iter().map(|p| p.0));
        let (y0, y1) = log_bounds(points.iter().map(|p| p.1));
        let mut chart = ChartBuilder::on(panel)
            .caption(format!("{name} vs output tokens/s"), text(18))
            .margin(8)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, (y0..y1).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("output tokens/s")
            .y_desc(name)
            .x_label_formatter(&|v| short(*v))
            .label_style(text(13))
            .axis_desc_style(text(14))
            .y_label_formatter(&|v| format_ms(*v))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|p| (p.0, p.1)),
                P50.stroke_width(2),
            ))
            .map_err(err)?;
        let unit = run.load_unit_short();
        chart
            .draw_series(points.iter().map(|&(x, y, load)| {
                EmptyElement::at((x, y))
                    + Circle::new((0, 0), 5, P50.filled())
                    + Text::new(format!("{}{unit}", short(load)), (6, -16), text(13))
            }))
            .map_err(err)?;
    }
    Ok(())
}

fn distributions<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    run: &RunDir,
) -> Result<(), String> {
    let root = blank(
        root,
        &format!("{}: latency distributions (all stages)", run.scenario),
    )?;
    let panels = root.split_evenly((1, 2));
    let Some(summary) = &run.summary else {
        return Ok(());
    };
    for (panel, (name, curve)) in panels
        .iter()
        .zip([("TTFT", &summary.ttft), ("ITL", &summary.itl)])
    {
        let (x0, x1) = log_bounds(curve.iter().map(|p| p.1));
        let mut chart = ChartBuilder::on(panel)
            .caption(
                format!("{name}: share of requests at or below (ms, log scale)"),
                text(17),
            )
            .margin(8)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d((x0..x1).log_scale(), 0.0..100.0)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(format!("{name} (ms)"))
            .y_desc("percentile")
            .label_style(text(13))
            .axis_desc_style(text(14))
            .x_label_formatter(&|v| format_ms(*v))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                curve.iter().map(|&(q, v)| (v, q)),
                P50.stroke_width(2),
            ))
            .map_err(err)?;
        chart
            .draw_series(
                curve
                    .iter()
                    .filter(|(q, _)| [50.0, 90.0, 99.0].contains(q))
                    .map(|&(q, v)| {
                        // Upper labels go left of their point so they stay inside the plot.
                        let (dx, anchor) = if q >= 90.0 {
                            (-8, Pos::new(HPos::Right, VPos::Center))
                        } else {
                            (8, Pos::new(HPos::Left, VPos::Center))
                        };
                        EmptyElement::at((v, q))
                            + Circle::new((0, 0), 4, P99.filled())
                            + Text::new(
                                format!("p{q}: {}", format_ms(v)),
                                (dx, 0),
                                text(13).pos(anchor),
                            )
                    }),
            )
            .map_err(err)?;
    }
    Ok(())
}

/// `12.3ms`, `1.2s`, `450us` for a value in milliseconds.
fn format_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.1}s", ms / 1000.0)
    } else if ms >= 1.0 {
        format!("{}ms", short(ms))
    } else {
        format!("{:.0}us", ms * 1000.0)
    }
}

/// A number without needless decimals.
fn short(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}
