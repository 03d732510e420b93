//! Training curves (loss per epoch, train and validation) as PNG and SVG,
//! and the history of a training run drawn as them.
//!
//! Text is drawn with the compiled-in font of `viz::font`, so plots look
//! the same on a machine without any system fonts, such as a CI container.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::output::{DrawResult, Figure, save};
use crate::Result;
use crate::train::{EpochRecord, History, Metrics, ModelDir};

/// One named line: `(x, y)` points.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend label.
    pub name: String,
    /// Points in x order.
    pub points: Vec<(f64, f64)>,
}

/// A line chart's labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// Title above the plot.
    pub title: String,
    /// x-axis label.
    pub x_label: String,
    /// y-axis label.
    pub y_label: String,
}

/// Draws `series` as a line chart to `stem.png` and `stem.svg`, each written
/// atomically.
pub fn plot_lines(stem: &Path, chart: &Chart, series: &[Series]) -> Result<()> {
    let figure = LineChart { chart, series };
    save(&stem.with_extension("png"), &figure)?;
    save(&stem.with_extension("svg"), &figure)
}

struct LineChart<'a> {
    chart: &'a Chart,
    series: &'a [Series],
}

impl Figure for LineChart<'_> {
    fn size(&self) -> (u32, u32) {
        (800, 500)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        draw(root, self.chart, self.series)
    }
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &Chart,
    series: &[Series],
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let points = series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in points.filter(|(x, y)| x.is_finite() && y.is_finite()) {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    // A single point or a flat line still needs a visible range.
    let pad_y = ((y1 - y0) * 0.05).max(1e-6);
    let pad_x = if x1 > x0 { 0.0 } else { 0.5 };
    let mut ctx = ChartBuilder::on(root)
        .caption(&chart.title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((x0 - pad_x)..(x1 + pad_x), (y0 - pad_y)..(y1 + pad_y))?;
    ctx.configure_mesh()
        .x_desc(&chart.x_label)
        .y_desc(&chart.y_label)
        .label_style(("sans-serif", 14))
        .draw()?;
    for (i, s) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .copied()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        ctx.draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
            .label(&s.name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        ctx.draw_series(pts.into_iter().map(|p| Circle::new(p, 3, color.filled())))?;
    }
    ctx.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()?;
    Ok(())
}

/// Draws a training history into the model directory as the run goes: the
/// train and validation loss in `loss.png`/`.svg`, and every other metric
/// (BLEU, accuracy, F1, …) on its own axes, since their scales differ, as
/// `<metric>.png`/`.svg`. Several records in one epoch (validation inside
/// epochs) are plotted against steps, which keep their spacing. This is the
/// hook the recipes hand to [`Trainer::on_record`](crate::train::Trainer::on_record).
pub fn plot_history(dir: &ModelDir, history: &History) -> Result<()> {
    let epochs = &history.epochs;
    let by_step = epochs.windows(2).any(|w| w[0].epoch == w[1].epoch);
    let x = |r: &EpochRecord| {
        if by_step {
            r.step as f64
        } else {
            r.epoch as f64
        }
    };
    let x_label = if by_step { "step" } else { "epoch" };
    // One metric's points over the records that hold it.
    let points = |of: fn(&EpochRecord) -> &Metrics, name: &str| -> Vec<(f64, f64)> {
        epochs
            .iter()
            .filter_map(|r| of(r).get(name).map(|v| (x(r), *v)))
            .collect()
    };
    let mut series = vec![Series {
        name: "train loss".into(),
        points: epochs.iter().map(|r| (x(r), r.train_loss)).collect(),
    }];
    let valid = points(|r| &r.valid, "loss");
    if !valid.is_empty() {
        series.push(Series {
            name: "valid loss".into(),
            points: valid,
        });
    }
    let chart = Chart {
        title: "loss".into(),
        x_label: x_label.into(),
        y_label: "loss".into(),
    };
    plot_lines(&dir.file("loss"), &chart, &series)?;
    for name in history.valid_names() {
        if name == "loss" || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let chart = Chart {
            title: name.clone(),
            x_label: x_label.into(),
            y_label: name.clone(),
        };
        let series: Vec<Series> = [
            ("train", points(|r| &r.train, &name)),
            ("valid", points(|r| &r.valid, &name)),
        ]
        .into_iter()
        .filter(|(_, p)| !p.is_empty())
        .map(|(set, points)| Series {
            name: format!("{set} {name}"),
            points,
        })
        .collect();
        plot_lines(&dir.file(&name), &chart, &series)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn writes_png_and_svg_with_text() -> Result<()> {
        let tmp = tempfile::tempdir().map_err(|e| Error::io("tmp", e))?;
        let stem = tmp.path().join("loss");
        let series = [
            Series {
                name: "train".into(),
                points: vec![(1.0, 3.0), (2.0, 2.0), (3.0, 1.5)],
            },
            Series {
                name: "valid".into(),
                points: vec![(1.0, 3.2), (2.0, 2.4), (3.0, 2.1)],
            },
        ];
        let chart = Chart {
            title: "loss".into(),
            x_label: "epoch".into(),
            y_label: "loss".into(),
        };
        plot_lines(&stem, &chart, &series)?;
        let png = std::fs::read(stem.with_extension("png")).map_err(|e| Error::io("png", e))?;
        assert_eq!(&png[1..4], b"PNG");
        let svg =
            std::fs::read_to_string(stem.with_extension("svg")).map_err(|e| Error::io("svg", e))?;
        assert!(svg.contains("<svg") && svg.contains("epoch") && svg.contains("valid"));
        Ok(())
    }
}
