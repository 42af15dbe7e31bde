//! The report's figures, drawn with plotters into SVG text (axes, ticks, legends and error
//! bars are plotters'; nothing here draws an axis). Each function takes the numbers to show and
//! returns one self-contained `<svg>` document, which the report writes as a file and inlines in
//! `index.html`.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{LabError, Result};

const WIDTH: u32 = 760;
const HEIGHT: u32 = 440;
const FONT: &str = "sans-serif";

/// Colour `i` of a palette that stays apart in print (Tableau 10).
pub fn colour(i: usize) -> RGBColor {
    const C: [(u8, u8, u8); 10] = [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ];
    let (r, g, b) = C[i % C.len()];
    RGBColor(r, g, b)
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Draws with `draw` on a white `size` canvas and returns the SVG text.
fn svg(
    size: (u32, u32),
    draw: impl FnOnce(&Area<'_>) -> std::result::Result<(), String>,
) -> Result<String> {
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| LabError::Results(format!("figure: {e}")))?;
        draw(&root).map_err(|e| LabError::Results(format!("figure: {e}")))?;
        root.present()
            .map_err(|e| LabError::Results(format!("figure: {e}")))?;
    }
    Ok(text)
}

fn s<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// One named series of (x, y) points.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

fn range_of(values: impl Iterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-9 {
        return (lo - 0.5, hi + 0.5);
    }
    (lo - pad * (hi - lo), hi + pad * (hi - lo))
}

/// Lines with points, one per series, with a legend.
pub fn lines(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    y_range: Option<(f64, f64)>,
    series: &[Series],
) -> Result<String> {
    let (x0, x1) = range_of(
        series.iter().flat_map(|s| s.points.iter().map(|p| p.0)),
        0.02,
    );
    let (y0, y1) = y_range.unwrap_or_else(|| {
        range_of(
            series.iter().flat_map(|s| s.points.iter().map(|p| p.1)),
            0.08,
        )
    });
    svg((WIDTH, HEIGHT), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 19))
            .margin(14)
            .x_label_area_size(42)
            .y_label_area_size(58)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(s)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .draw()
            .map_err(s)?;
        for (i, series) in series.iter().enumerate() {
            let c = colour(i);
            chart
                .draw_series(LineSeries::new(
                    series.points.iter().copied(),
                    c.stroke_width(2),
                ))
                .map_err(s)?
                .label(series.name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
            chart
                .draw_series(series.points.iter().map(|&p| Circle::new(p, 3, c.filled())))
                .map_err(s)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font((FONT, 13))
            .draw()
            .map_err(s)
    })
}

/// One group of a category chart: per category, the mean with an error bar (low, high) and the
/// points behind it (e.g. each seed's value).
pub struct Group {
    pub name: String,
    pub values: Vec<Option<Spread>>,
}

#[derive(Debug, Clone)]
pub struct Spread {
    pub mean: f64,
    pub low: f64,
    pub high: f64,
    pub points: Vec<f64>,
}

/// Categories along x (rules, models), each group's mean ± error bar side by side.
pub fn categories(
    title: &str,
    names: &[String],
    y_desc: &str,
    y_range: Option<(f64, f64)>,
    groups: &[Group],
    reference: Option<(&str, f64)>,
) -> Result<String> {
    let values = groups.iter().flat_map(|g| {
        g.values
            .iter()
            .flatten()
            .flat_map(|v| [v.low, v.high].into_iter().chain(v.points.iter().copied()))
    });
    let (y0, y1) = y_range.unwrap_or_else(|| range_of(values.chain(reference.map(|r| r.1)), 0.1));
    let n = names.len();
    let k = groups.len().max(1) as f64;
    svg((WIDTH.max(90 * n as u32 + 120), HEIGHT), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 19))
            .margin(14)
            .x_label_area_size(48)
            .y_label_area_size(58)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), y0..y1)
            .map_err(s)?;
        let label = |x: &f64| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < n {
                names[i as usize].clone()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .x_labels(n.max(1))
            .x_label_formatter(&label)
            .disable_x_mesh()
            .y_desc(y_desc)
            .draw()
            .map_err(s)?;
        if let Some((name, y)) = reference {
            chart
                .draw_series(LineSeries::new(
                    [(-0.5, y), (n as f64 - 0.5, y)],
                    BLACK.mix(0.5).stroke_width(1),
                ))
                .map_err(s)?
                .label(name.to_string())
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.mix(0.5)));
        }
        for (gi, group) in groups.iter().enumerate() {
            let c = colour(gi);
            let offset = |i: usize| i as f64 + (gi as f64 - (k - 1.0) / 2.0) * (0.6 / k);
            let present: Vec<(usize, &Spread)> = group
                .values
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.as_ref().map(|v| (i, v)))
                .collect();
            chart
                .draw_series(present.iter().map(|(i, v)| {
                    ErrorBar::new_vertical(offset(*i), v.low, v.mean, v.high, c.stroke_width(2), 10)
                }))
                .map_err(s)?
                .label(group.name.clone())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
            chart
                .draw_series(present.iter().flat_map(|(i, v)| {
                    v.points
                        .iter()
                        .map(move |&p| Circle::new((offset(*i) + 0.08, p), 2, c.mix(0.6).filled()))
                }))
                .map_err(s)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font((FONT, 13))
            .draw()
            .map_err(s)
    })
}

/// A square heatmap of `values` (rows and columns named by `names`, values in [0, 1]), each cell
/// with its number; the diagonal's cells are outlined (they hold each row's own reference, e.g.
/// the seed-to-seed noise floor).
pub fn heatmap(title: &str, names: &[String], values: &[Vec<Option<f64>>]) -> Result<String> {
    let n = names.len();
    let size = (140 + 70 * n as u32).max(420);
    svg((size + 60, size), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 17))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(100)
            .build_cartesian_2d(0f64..n as f64, 0f64..n as f64)
            .map_err(s)?;
        // Row 0 on top: y runs from the last row (bottom) to the first.
        let label = move |v: &f64, flip: bool| {
            let i = v.floor();
            if (v - i - 0.5).abs() > 1e-6 || i < 0.0 || i as usize >= n {
                return String::new();
            }
            let i = i as usize;
            names[if flip { n - 1 - i } else { i }].clone()
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(2 * n + 1)
            .y_labels(2 * n + 1)
            .x_label_formatter(&|v| label(v, false))
            .y_label_formatter(&|v| label(v, true))
            .draw()
            .map_err(s)?;
        for (i, row) in values.iter().enumerate() {
            for (j, v) in row.iter().enumerate() {
                let y = (n - 1 - i) as f64;
                let x = j as f64;
                let fill = match v {
                    Some(v) => {
                        let t = v.clamp(0.0, 1.0);
                        RGBColor(
                            (255.0 - 220.0 * t) as u8,
                            (255.0 - 160.0 * t) as u8,
                            (255.0 - 60.0 * t) as u8,
                        )
                    }
                    None => RGBColor(235, 235, 235),
                };
                chart
                    .draw_series([Rectangle::new([(x, y), (x + 1.0, y + 1.0)], fill.filled())])
                    .map_err(s)?;
                if i == j {
                    chart
                        .draw_series([Rectangle::new(
                            [(x + 0.03, y + 0.03), (x + 0.97, y + 0.97)],
                            BLACK.stroke_width(2),
                        )])
                        .map_err(s)?;
                }
                let text = v.map_or("–".to_string(), |v| format!("{v:.3}"));
                let ink = if v.is_some_and(|v| v > 0.6) {
                    WHITE
                } else {
                    BLACK
                };
                chart
                    .draw_series([Text::new(
                        text,
                        (x + 0.28, y + 0.58),
                        (FONT, 12).into_font().color(&ink),
                    )])
                    .map_err(s)?;
            }
        }
        Ok(())
    })
}
