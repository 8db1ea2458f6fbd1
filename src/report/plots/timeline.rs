//! The run over time: requests in flight and completions per second, and mean TTFT and e2e latency,
//! one point a second on the run's clock, with each stage's start marked.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::*;
use crate::report::rundir::RunDir;
use crate::report::schema::TimelineEntry;

pub(super) fn timeline<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    run: &RunDir,
) -> Result<(), String> {
    let root = blank(root, &format!("{}: the run over time", run.scenario))?;
    let (top, bottom) = root.split_vertically(TALL.1 / 2 - 20);
    let (t0, t1) = linear_bounds(run.timeline.iter().map(|p| p.t));
    let t0 = t0.min(0.0);
    let boundaries = run.stage_starts();
    // Counts start at zero, so the axis does too.
    let counts = linear_bounds(
        run.timeline
            .iter()
            .flat_map(|p| [p.in_flight as f64, p.completed_per_s, 0.0]),
    );
    let mut chart = ChartBuilder::on(&top)
        .caption("requests in flight and completed per second", text(17))
        .margin(8)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(t0..t1, counts.0..counts.1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .label_style(text(13))
        .x_label_formatter(&|v| short(*v))
        .draw()
        .map_err(err)?;
    let (c0, c1) = (chart.y_range().start, chart.y_range().end);
    chart
        .draw_series(
            boundaries
                .iter()
                .map(|&x| PathElement::new(vec![(x, c0), (x, c1)], STAGE.stroke_width(1))),
        )
        .map_err(err)?;
    chart
        .draw_series(boundaries.iter().enumerate().map(|(i, &x)| {
            EmptyElement::at((x, c1))
                + Text::new(format!("stage {i}"), (3, 2), text(12).color(&STAGE))
        }))
        .map_err(err)?;
    for (label, color, get) in [
        (
            "in flight",
            P50,
            (|p: &TimelineEntry| p.in_flight as f64) as fn(&_) -> f64,
        ),
        ("completed/s", P95, |p: &TimelineEntry| p.completed_per_s),
    ] {
        chart
            .draw_series(LineSeries::new(
                run.timeline.iter().map(|p| (p.t, get(p))),
                color.stroke_width(2),
            ))
            .map_err(err)?
            .label(label)
            .legend(move |at| legend_mark(at, color));
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperMiddle)?;
    let (y0, y1) = log_bounds(
        run.timeline
            .iter()
            .flat_map(|p| [p.ttft_avg_ms, p.e2e_avg_ms].into_iter().flatten()),
    );
    let mut chart = ChartBuilder::on(&bottom)
        .caption(
            "mean latency of the requests that finished each second (ms, log scale)",
            text(17),
        )
        .margin(8)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(t0..t1, (y0..y1).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("seconds from the start of the run (purple lines: stage starts)")
        .label_style(text(13))
        .x_label_formatter(&|v| short(*v))
        .axis_desc_style(text(14))
        .y_label_formatter(&|v| format_ms(*v))
        .draw()
        .map_err(err)?;
    for (label, color, get) in [
        (
            "TTFT",
            P50,
            (|p: &TimelineEntry| p.ttft_avg_ms) as fn(&_) -> Option<f64>,
        ),
        ("e2e", P99, |p: &TimelineEntry| p.e2e_avg_ms),
    ] {
        chart
            .draw_series(LineSeries::new(
                run.timeline.iter().filter_map(|p| get(p).map(|y| (p.t, y))),
                color.stroke_width(2),
            ))
            .map_err(err)?
            .label(label)
            .legend(move |at| legend_mark(at, color));
    }
    chart
        .draw_series(
            boundaries
                .iter()
                .map(|&x| PathElement::new(vec![(x, y0), (x, y1)], STAGE.stroke_width(1))),
        )
        .map_err(err)?;
    draw_legend(&mut chart, SeriesLabelPosition::MiddleLeft)?;
    Ok(())
}
