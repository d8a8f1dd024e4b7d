//! Charts as SVG (plotters' SVG backend) and PNG (the same SVG rasterised by resvg with the
//! system's DejaVu fonts): a radar of the ten values, line charts for trajectories and bar
//! charts with 95 % confidence whiskers.

use std::f64::consts::PI;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use scrollsim_core::{PerValue, Value};

use crate::error::ReportError;
use crate::stats::{Estimate, MeanCi};

/// Tableau 10: distinguishable series colours (values, models, strategies).
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(78, 121, 167),
    RGBColor(242, 142, 43),
    RGBColor(225, 87, 89),
    RGBColor(118, 183, 178),
    RGBColor(89, 161, 79),
    RGBColor(237, 201, 72),
    RGBColor(176, 122, 161),
    RGBColor(255, 157, 167),
    RGBColor(156, 117, 95),
    RGBColor(186, 176, 172),
];

const FONT: &str = "sans-serif";

fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Why a chart could not be drawn or rasterised.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("{0}")]
    Draw(#[from] DrawError),
    #[error("{0}")]
    Svg(#[from] resvg::usvg::Error),
    #[error("empty chart")]
    Empty,
    #[error("chart too large")]
    TooLarge,
    #[error("{0}")]
    Png(Box<dyn std::error::Error + Send + Sync>),
}

/// What drawing on plotters' SVG backend returns.
type DrawError = DrawingAreaErrorKind<std::io::Error>;

fn err(name: &str) -> impl Fn(ChartError) -> ReportError + '_ {
    move |source| ReportError::Chart {
        name: name.to_string(),
        source,
    }
}

/// Height of the footnote strip under a chart.
const FOOTNOTE_H: u32 = 22;

/// Draws into an SVG string of size `(w, h)`, plus a strip with `footnote` (what judged, e.g.
/// that the offline persona model is not a VLM) under it when there is one: it travels with
/// the chart into the PNG and wherever the figure is pasted.
fn svg(
    name: &str,
    (w, h): (u32, u32),
    footnote: Option<&str>,
    draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<(), DrawError>,
) -> Result<String, ReportError> {
    let mut out = String::new();
    {
        let total = h + footnote.map_or(0, |_| FOOTNOTE_H);
        let root = SVGBackend::with_string(&mut out, (w, total)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(name)(e.into()))?;
        let (area, foot) = root.split_vertically(h);
        if let Some(text) = footnote {
            foot.draw(&Text::new(
                truncate(text, 130),
                (10, (FOOTNOTE_H / 2) as i32),
                text_style(12, Pos::new(HPos::Left, VPos::Center)).color(&RGBColor(90, 90, 90)),
            ))
            .map_err(|e| err(name)(e.into()))?;
        }
        draw(&area).map_err(|e| err(name)(e.into()))?;
        root.present().map_err(|e| err(name)(e.into()))?;
    }
    Ok(out)
}

fn text_style(size: u32, pos: Pos) -> TextStyle<'static> {
    TextStyle::from((FONT, size).into_font()).pos(pos)
}

/// A legend column: a colour swatch and a name per series, from `(x, y)` downwards.
fn legend(
    area: &DrawingArea<SVGBackend, Shift>,
    (x, y): (i32, i32),
    names: &[String],
) -> Result<(), DrawError> {
    for (i, name) in names.iter().enumerate() {
        let y = y + 22 * i as i32;
        area.draw(&Rectangle::new(
            [(x, y - 6), (x + 14, y + 6)],
            colour(i).filled(),
        ))?;
        area.draw(&Text::new(
            truncate(name, 34),
            (x + 20, y),
            text_style(13, Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }
    Ok(())
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// A radar of the ten values in circumplex order, one polygon per series, scaled to
/// `0..=max`. A value a series has no number for is drawn at 0 with a hollow marker.
pub fn radar(
    title: &str,
    series: &[(String, PerValue<Option<f64>>)],
    max: f64,
    footnote: Option<&str>,
) -> Result<String, ReportError> {
    let (w, h) = (860u32, 600u32);
    svg(title, (w, h), footnote, |root| {
        root.draw(&Text::new(
            title.to_string(),
            (20, 20),
            text_style(18, Pos::new(HPos::Left, VPos::Center)),
        ))?;
        let (cx, cy, r) = (320.0, 320.0, 210.0);
        let at = |i: usize, frac: f64| -> (i32, i32) {
            let a = -PI / 2.0 + i as f64 * 2.0 * PI / 10.0;
            (
                (cx + r * frac * a.cos()).round() as i32,
                (cy + r * frac * a.sin()).round() as i32,
            )
        };
        let grid = RGBColor(200, 200, 200);
        for k in 1..=4 {
            let f = k as f64 / 4.0;
            let mut ring: Vec<(i32, i32)> = (0..10).map(|i| at(i, f)).collect();
            ring.push(ring[0]);
            root.draw(&PathElement::new(ring, grid.stroke_width(1)))?;
            let (x, y) = at(0, f);
            root.draw(&Text::new(
                format!("{:.0}", max * f),
                (x + 4, y),
                text_style(11, Pos::new(HPos::Left, VPos::Center)),
            ))?;
        }
        for (i, v) in Value::ALL.iter().enumerate() {
            root.draw(&PathElement::new(
                vec![at(i, 0.0), at(i, 1.0)],
                grid.stroke_width(1),
            ))?;
            let (x, y) = at(i, 1.13);
            let h = if x < cx as i32 - 10 {
                HPos::Right
            } else if x > cx as i32 + 10 {
                HPos::Left
            } else {
                HPos::Center
            };
            root.draw(&Text::new(
                v.name().to_string(),
                (x, y),
                text_style(14, Pos::new(h, VPos::Center)),
            ))?;
        }
        for (si, (_, p)) in series.iter().enumerate() {
            let c = colour(si);
            let pts: Vec<(i32, i32)> = Value::ALL
                .iter()
                .enumerate()
                .map(|(i, v)| at(i, (p[*v].unwrap_or(0.0) / max).clamp(0.0, 1.0)))
                .collect();
            root.draw(&Polygon::new(pts.clone(), c.mix(0.12).filled()))?;
            let mut closed = pts.clone();
            closed.push(pts[0]);
            root.draw(&PathElement::new(closed, c.stroke_width(2)))?;
            for (i, v) in Value::ALL.iter().enumerate() {
                let style = if p[*v].is_some() {
                    c.filled()
                } else {
                    c.stroke_width(1)
                };
                root.draw(&Circle::new(pts[i], 3, style))?;
            }
        }
        let names: Vec<String> = series.iter().map(|(n, _)| n.clone()).collect();
        legend(root, (620, 60), &names)
    })
}

/// A named line: `(x, y)` points, y None where undefined.
pub type NamedLine = (String, Vec<(f64, Option<f64>)>);

/// A line chart over steps: one line per series (gaps where a point is None), y in `0..=ymax`.
pub fn lines(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[NamedLine],
    ymax: f64,
    footnote: Option<&str>,
) -> Result<String, ReportError> {
    let (w, h) = (860u32, 420u32);
    let xmax = series
        .iter()
        .flat_map(|(_, pts)| pts.iter().map(|(x, _)| *x))
        .fold(1.0f64, f64::max);
    svg(title, (w, h), footnote, |root| {
        let (plot, side) = root.split_horizontally(w - 190);
        let mut chart = ChartBuilder::on(&plot)
            .caption(title, (FONT, 17))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(52)
            .build_cartesian_2d(0.0..xmax, 0.0..ymax)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .light_line_style(RGBColor(244, 244, 244))
            .label_style((FONT, 12))
            .draw()?;
        for (i, (_, pts)) in series.iter().enumerate() {
            let c = colour(i);
            // Split at undefined points so a gap is drawn as a gap, not a line through zero.
            let mut run: Vec<(f64, f64)> = Vec::new();
            for (x, y) in pts
                .iter()
                .map(|(x, y)| (*x, *y))
                .chain(std::iter::once((f64::NAN, None)))
            {
                match y {
                    Some(y) => run.push((x, y)),
                    None if !run.is_empty() => {
                        let seg = std::mem::take(&mut run);
                        if seg.len() == 1 {
                            chart.draw_series(std::iter::once(Circle::new(
                                seg[0],
                                2,
                                c.filled(),
                            )))?;
                        } else {
                            chart.draw_series(LineSeries::new(seg, c.stroke_width(2)))?;
                        }
                    }
                    None => {}
                }
            }
        }
        let names: Vec<String> = series.iter().map(|(n, _)| n.clone()).collect();
        legend(&side, (8, 40), &names)
    })
}

/// One bar: a value and its 95 % interval (asymmetric for bootstrap intervals).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    pub value: f64,
    pub ci: Option<(f64, f64)>,
}

impl From<MeanCi> for Bar {
    fn from(m: MeanCi) -> Bar {
        Bar {
            value: m.mean,
            ci: m.ci95.map(|h| (m.mean - h, m.mean + h)),
        }
    }
}

impl From<Estimate> for Bar {
    fn from(e: Estimate) -> Bar {
        Bar {
            value: e.value,
            ci: e.ci95.map(|i| (i.lo, i.hi)),
        }
    }
}

/// Grouped bars with 95 % interval whiskers: one group per category, one bar per series.
/// `data[s][c]` is series `s` in category `c` (None: no bar).
pub fn bars(
    title: &str,
    y_desc: &str,
    categories: &[String],
    series_names: &[String],
    data: &[Vec<Option<Bar>>],
    footnote: Option<&str>,
) -> Result<String, ReportError> {
    let (w, h) = (860u32, 440u32);
    let mut lo = 0.0f64;
    let mut hi = 0.0f64;
    for m in data.iter().flatten().flatten() {
        let (a, b) = m.ci.unwrap_or((m.value, m.value));
        lo = lo.min(a.min(m.value));
        hi = hi.max(b.max(m.value));
    }
    let pad = ((hi - lo) * 0.1).max(1.0);
    let (lo, hi) = (if lo < 0.0 { lo - pad } else { 0.0 }, hi + pad);
    let n = categories.len().max(1) as f64;
    svg(title, (w, h), footnote, |root| {
        let (plot, side) = root.split_horizontally(w - 190);
        let mut chart = ChartBuilder::on(&plot)
            .caption(title, (FONT, 17))
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(52)
            .build_cartesian_2d(0.0..n, lo..hi)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_desc(y_desc)
            .y_label_formatter(&|y| format!("{y:.0}"))
            .light_line_style(RGBColor(244, 244, 244))
            .label_style((FONT, 12))
            .draw()?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(0.0, 0.0), (n, 0.0)],
            BLACK.stroke_width(1),
        )))?;
        let k = series_names.len().max(1) as f64;
        let bw = 0.8 / k;
        for (s, row) in data.iter().enumerate() {
            let c = colour(s);
            for (ci, m) in row.iter().enumerate() {
                let Some(m) = m else { continue };
                let x0 = ci as f64 + 0.1 + s as f64 * bw;
                let x1 = x0 + bw * 0.9;
                // A zero bar is the axis itself (an empty rectangle is invalid SVG for resvg).
                if m.value.abs() > 1e-9 {
                    chart.draw_series(std::iter::once(Rectangle::new(
                        [(x0, 0.0), (x1, m.value)],
                        c.filled(),
                    )))?;
                }
                if let Some((a, b)) = m.ci.filter(|(a, b)| b - a > 1e-9) {
                    let xm = (x0 + x1) / 2.0;
                    let wh = bw * 0.2;
                    let whisker = vec![
                        PathElement::new(vec![(xm, a), (xm, b)], BLACK.stroke_width(1)),
                        PathElement::new(vec![(xm - wh, a), (xm + wh, a)], BLACK.stroke_width(1)),
                        PathElement::new(vec![(xm - wh, b), (xm + wh, b)], BLACK.stroke_width(1)),
                    ];
                    chart.draw_series(whisker)?;
                }
            }
        }
        for (ci, name) in categories.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(ci as f64 + 0.5, lo));
            plot.draw(&Text::new(
                truncate(name, 22),
                (x, y + 10),
                text_style(12, Pos::new(HPos::Center, VPos::Top)),
            ))?;
        }
        legend(&side, (8, 40), series_names)
    })
}

/// Rasterises an SVG chart to PNG at `scale` (2.0 for crisp figures); `comment` goes into a
/// `tEXt` chunk too (what judged), so a PNG separated from its report still says it.
pub fn png(
    name: &str,
    svg: &str,
    scale: f32,
    comment: Option<&str>,
) -> Result<Vec<u8>, ReportError> {
    use resvg::{tiny_skia, usvg};
    let opts = usvg::Options {
        fontdb: scrollsim_media::fonts(),
        font_family: scrollsim_media::SANS.into(),
        ..Default::default()
    };
    let tree = usvg::Tree::from_str(svg, &opts).map_err(|e| err(name)(e.into()))?;
    let size = tree
        .size()
        .to_int_size()
        .scale_by(scale)
        .ok_or_else(|| err(name)(ChartError::Empty))?;
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height())
        .ok_or_else(|| err(name)(ChartError::TooLarge))?;
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    let png = pixmap
        .encode_png()
        .map_err(|e| err(name)(ChartError::Png(Box::new(e))))?;
    Ok(match comment {
        Some(text) => with_text_chunk(png, "Comment", text),
        None => png,
    })
}

/// Inserts a `tEXt` chunk (keyword, NUL, Latin-1 text) right after the 8-byte signature and
/// the IHDR chunk, where the PNG specification allows it.
fn with_text_chunk(png: Vec<u8>, keyword: &str, text: &str) -> Vec<u8> {
    const IHDR_END: usize = 8 + 4 + 4 + 13 + 4;
    if png.len() < IHDR_END || &png[12..16] != b"IHDR" {
        return png;
    }
    let mut data = Vec::new();
    data.extend(keyword.bytes());
    data.push(0);
    data.extend(
        text.chars()
            .map(|c| if c.is_ascii() { c as u8 } else { b'?' }),
    );
    let mut chunk = Vec::with_capacity(data.len() + 12);
    chunk.extend((data.len() as u32).to_be_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(b"tEXt");
    crc.update(&data);
    chunk.extend(b"tEXt");
    chunk.extend(&data);
    chunk.extend(crc.finalize().to_be_bytes());
    let mut out = Vec::with_capacity(png.len() + chunk.len());
    out.extend(&png[..IHDR_END]);
    out.extend(chunk);
    out.extend(&png[IHDR_END..]);
    out
}
