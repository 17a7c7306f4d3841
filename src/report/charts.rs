//! The report's plots as inline SVG, drawn with plotters' SVG backend.
//!
//! plotters is built without its font features (`ttf`, `ab_glyph`): with the SVG backend,
//! text is written as `<text>` elements that the browser lays out with its own fonts, so no
//! font file is read or bundled; plotters only estimates text extents for spacing. Category
//! labels (segment names, metric names) are placed by this module at the pixel positions
//! plotters maps the bands to, so long names never collide with plotters' own tick choice.
//! Scatter points are written as one `<g>` per segment (one colour per group, a compact file
//! and an easy structure to check), positioned with the chart's own coordinate mapping.

use std::fmt::Write as _;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::esc;

/// A colour as RGB bytes.
pub type Rgb = (u8, u8, u8);

/// Segment palette (Tableau 10, then a darker set). A segment's colour is chosen by its id,
/// so a segment keeps its colour in every version of a model.
const PALETTE: [Rgb; 20] = [
    (0x4e, 0x79, 0xa7),
    (0xf2, 0x8e, 0x2b),
    (0xe1, 0x57, 0x59),
    (0x76, 0xb7, 0xb2),
    (0x59, 0xa1, 0x4f),
    (0xed, 0xc9, 0x48),
    (0xb0, 0x7a, 0xa1),
    (0xff, 0x9d, 0xa7),
    (0x9c, 0x75, 0x5f),
    (0x79, 0x70, 0x6e),
    (0x1f, 0x4e, 0x79),
    (0xa6, 0x5a, 0x0c),
    (0x9e, 0x2a, 0x2b),
    (0x3d, 0x7f, 0x7a),
    (0x2f, 0x6b, 0x28),
    (0xa8, 0x86, 0x0f),
    (0x7a, 0x4b, 0x6e),
    (0xc7, 0x5b, 0x6a),
    (0x6b, 0x4c, 0x3b),
    (0x33, 0x33, 0x33),
];

/// Level palette for categorical shares (muted, distinct from the segment palette's order).
const LEVELS: [Rgb; 9] = [
    (0x66, 0xc2, 0xa5),
    (0xfc, 0x8d, 0x62),
    (0x8d, 0xa0, 0xcb),
    (0xe7, 0x8a, 0xc3),
    (0xa6, 0xd8, 0x54),
    (0xff, 0xd9, 0x2f),
    (0xe5, 0xc4, 0x94),
    (0x80, 0xb1, 0xd3),
    (0xbb, 0xbb, 0xbb),
];

/// The colour of a segment id.
pub fn segment_color(id: usize) -> Rgb {
    PALETTE[id % PALETTE.len()]
}

/// The colour of the `i`-th category level (the last one is kept for "other").
pub fn level_color(i: usize, other: bool) -> Rgb {
    if other {
        LEVELS[LEVELS.len() - 1]
    } else {
        LEVELS[i % (LEVELS.len() - 1)]
    }
}

/// `#rrggbb`.
pub fn hex((r, g, b): Rgb) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

fn rgb(c: Rgb) -> RGBColor {
    RGBColor(c.0, c.1, c.2)
}

/// Mixes a colour with white (`f` = 0 keeps it, 1 is white).
fn light(c: Rgb, f: f64) -> RGBColor {
    let m = |v: u8| (v as f64 + (255.0 - v as f64) * f).round() as u8;
    RGBColor(m(c.0), m(c.1), m(c.2))
}

const FONT: &str = "sans-serif";
const GRID: RGBColor = RGBColor(0xe4, 0xe4, 0xe4);
const AXIS_TEXT: RGBColor = RGBColor(0x33, 0x33, 0x33);

fn text_style(size: f64, h: HPos, v: VPos) -> TextStyle<'static> {
    (FONT, size)
        .into_font()
        .color(&AXIS_TEXT)
        .pos(Pos::new(h, v))
}

/// Cuts a label to `max` characters (with an ellipsis). Label areas are sized for about
/// 7 px per character at the 13 px labels; full names are in the tables.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// Drops the SVG namespace attribute (inline SVG in HTML needs none, and the page holds no
/// URL at all) and appends `extra` markup before the closing tag.
fn finish(mut svg: String, extra: &str) -> String {
    svg = svg.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1);
    if !extra.is_empty() {
        if let Some(pos) = svg.rfind("</svg>") {
            svg.insert_str(pos, extra);
        }
    }
    svg
}

fn failed(what: &str, e: impl std::fmt::Display) -> String {
    format!(
        "<p class=\"err\">The {} plot could not be drawn: {}</p>",
        esc(what),
        esc(&e.to_string())
    )
}

/// A value range with some room around it, wide enough for plotters to place ticks: constant
/// or nearly constant data (a span below a millionth of the magnitude, or values that are
/// numerically zero, such as the inertia of a k search on duplicate customers) gets a range
/// around its value; plotters' tick search does not finish on spans of ~1e-30.
fn padded(lo: f64, hi: f64, pad: f64) -> (f64, f64) {
    if !lo.is_finite() || !hi.is_finite() || lo > hi {
        return (0.0, 1.0);
    }
    let scale = lo.abs().max(hi.abs());
    if scale > 1e150 {
        return (0.0, 1.0);
    }
    let span = hi - lo;
    if scale < 1e-9 {
        return (lo - 1.0, hi + 1.0);
    }
    if span <= 1e-6 * scale {
        let d = scale * 0.1;
        return (lo - d, hi + d);
    }
    (lo - span * pad, hi + span * pad)
}

fn short_number(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.1}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// One curve of the k search.
pub struct KCurve<'a> {
    pub title: &'a str,
    /// e.g. "higher is better".
    pub hint: &'a str,
    pub points: Vec<(usize, f64)>,
    pub chosen: Option<usize>,
}

/// A small line chart of an index against k with the chosen k marked.
pub fn k_curve(c: &KCurve) -> String {
    match k_curve_inner(c) {
        Ok(s) => s,
        Err(e) => failed(c.title, e),
    }
}

fn k_curve_inner(c: &KCurve) -> Result<String, Box<dyn std::error::Error>> {
    let (w, h) = (292u32, 250u32);
    let mut buf = String::new();
    let pts: Vec<(i32, f64)> = c
        .points
        .iter()
        .filter(|p| p.1.is_finite())
        .map(|&(k, v)| (k as i32, v))
        .collect();
    let kmin = c.points.iter().map(|p| p.0).min().unwrap_or(2) as i32;
    let kmax = c.points.iter().map(|p| p.0).max().unwrap_or(2) as i32;
    let (kmin, kmax) = if kmin == kmax {
        (kmin - 1, kmax + 1)
    } else {
        (kmin, kmax)
    };
    let lo = pts.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let hi = pts.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = padded(lo, hi, 0.12);
    {
        let root = SVGBackend::with_string(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE)?;
        let caption = format!("{} ({})", c.title, c.hint);
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, (FONT, 17))
            .margin(8)
            .x_label_area_size(34)
            .y_label_area_size(52)
            .build_cartesian_2d(kmin..kmax, lo..hi)?;
        let fmt = |v: &f64| short_number(*v);
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .x_labels((kmax - kmin + 1) as usize)
            .y_labels(5)
            .y_label_formatter(&fmt)
            .x_desc("k")
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 14))
            .draw()?;
        if let Some(k) = c.chosen {
            let k = k as i32;
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(k, lo), (k, hi)],
                RGBColor(0xd6, 0x27, 0x28).stroke_width(1),
            )))?;
        }
        let line = rgb(PALETTE[0]);
        chart.draw_series(LineSeries::new(pts.iter().copied(), line.stroke_width(2)))?;
        chart.draw_series(
            pts.iter()
                .map(|&p| Circle::new(p, 3, ShapeStyle::from(&line).filled())),
        )?;
        if let Some(k) = c.chosen {
            if let Some(&p) = pts.iter().find(|p| p.0 == k as i32) {
                let red = RGBColor(0xd6, 0x27, 0x28);
                chart.draw_series(std::iter::once(Circle::new(p, 7, red.stroke_width(2))))?;
                let (px, py) = chart.backend_coord(&p);
                // The label goes on the side of the plot away from the point.
                let (_, yr) = chart.plotting_area().get_pixel_range();
                let low = py > (yr.start + yr.end) / 2;
                let right = px > (w as i32) * 2 / 3;
                root.draw(&Text::new(
                    format!("k = {k}"),
                    (
                        if right { px - 6 } else { px + 6 },
                        if low { yr.start + 4 } else { yr.end - 4 },
                    ),
                    text_style(
                        14.0,
                        if right { HPos::Right } else { HPos::Left },
                        if low { VPos::Top } else { VPos::Bottom },
                    )
                    .color(&red),
                ))?;
            }
        }
        root.present()?;
    }
    Ok(finish(buf, ""))
}

/// lifetimes' `plot_calibration_purchases_vs_holdout_purchases`: the mean actual and mean
/// predicted holdout purchases of the customers with each number of calibration repeat
/// purchases (`rows`: label, actual, predicted), as two lines.
pub fn calibration_vs_holdout(rows: &[(String, f64, f64)]) -> String {
    match calibration_inner(rows) {
        Ok(s) => s,
        Err(e) => failed("calibration vs holdout", e),
    }
}

fn calibration_inner(rows: &[(String, f64, f64)]) -> Result<String, Box<dyn std::error::Error>> {
    let (w, h) = (560u32, 320u32);
    let mut buf = String::new();
    let n = rows.len().max(1) as i32;
    let hi = rows
        .iter()
        .flat_map(|r| [r.1, r.2])
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    let (_, hi) = padded(0.0, hi, 0.1);
    let labels: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    {
        let root = SVGBackend::with_string(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "Holdout purchases by calibration repeat purchases",
                (FONT, 17),
            )
            .margin(8)
            .x_label_area_size(40)
            .y_label_area_size(52)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0.0..hi)?;
        let fmt_y = |v: &f64| short_number(*v);
        let fmt_x = |v: &f64| {
            let i = v.round();
            if (v - i).abs() < 1e-9 && i >= 0.0 {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .x_labels(rows.len() * 2 + 1)
            .x_label_formatter(&fmt_x)
            .y_labels(5)
            .y_label_formatter(&fmt_y)
            .x_desc("repeat purchase days in calibration")
            .y_desc("mean purchase days in holdout")
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 14))
            .draw()?;
        let series = [(0usize, "actual", PALETTE[0]), (1, "predicted", PALETTE[1])];
        for (k, name, color) in series {
            let pts: Vec<(f64, f64)> = rows
                .iter()
                .enumerate()
                .map(|(i, r)| (i as f64, if k == 0 { r.1 } else { r.2 }))
                .filter(|p| p.1.is_finite())
                .collect();
            let c = rgb(color);
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2))
                });
            chart.draw_series(
                pts.iter()
                    .map(|&p| Circle::new(p, 3, ShapeStyle::from(&c).filled())),
            )?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font((FONT, 14))
            .border_style(GRID)
            .background_style(WHITE)
            .draw()?;
        root.present()?;
    }
    Ok(finish(buf, ""))
}

/// One row of a horizontal bar chart: a label, its colour and bar values (0..1 shares).
pub struct BarRow {
    pub label: String,
    pub color: Rgb,
    pub values: Vec<Option<f64>>,
}

/// Horizontal grouped bars of shares (one group per row, first row on top); the first
/// series is drawn in the row's colour, the next ones lighter. Values are printed at the bar
/// ends as percentages.
pub fn share_bars(title: &str, rows: &[BarRow], series: &[&str]) -> String {
    match share_bars_inner(title, rows, series) {
        Ok(s) => s,
        Err(e) => failed(title, e),
    }
}

type ShareChart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// A horizontal bar chart's frame: x a share from 0 to `xmax` labelled in percent, y one band
/// per row (`n`), no labels on y (the caller places them). `areas` = (right margin, x label
/// area, y label area).
fn share_frame<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    (title, size): (&str, u32),
    (right, x_area, y_area): (u32, u32, u32),
    xmax: f64,
    n: usize,
) -> Result<ShareChart<'a, 'b>, Box<dyn std::error::Error>> {
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, size))
        .margin(10)
        .margin_right(right)
        .x_label_area_size(x_area)
        .y_label_area_size(y_area)
        .build_cartesian_2d(0.0..xmax, 0.0..n as f64)?;
    let pct = |v: &f64| format!("{:.0}%", v * 100.0);
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .y_labels(0)
        .x_labels(6)
        .x_label_formatter(&pct)
        .label_style((FONT, 14))
        .draw()?;
    Ok(chart)
}

fn share_bars_inner(
    title: &str,
    rows: &[BarRow],
    series: &[&str],
) -> Result<String, Box<dyn std::error::Error>> {
    let n = rows.len().max(1);
    let m = series.len().max(1);
    let band = (14 * m + 14).max(30) as u32;
    let (w, h) = (520u32, 70 + band * n as u32 + 40);
    let max = rows
        .iter()
        .flat_map(|r| r.values.iter().flatten())
        .fold(0.0_f64, |a, &b| a.max(b));
    let xmax = (max * 1.15).clamp(0.05, 1.0);
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = share_frame(&root, (title, 18), (34, 34, 170), xmax, n)?;
        let (_, py) = chart.plotting_area().get_pixel_range();
        let band_px = (py.end - py.start) as f64 / n as f64;
        let bar_px = ((band_px * 0.8) / m as f64).max(2.0);
        let mut labels = Vec::new();
        for (i, r) in rows.iter().enumerate() {
            let y_top = (n - i) as f64;
            for (s, v) in r.values.iter().enumerate() {
                let Some(v) = v else { continue };
                let top = band_px * 0.1 + bar_px * s as f64;
                let bottom = band_px - top - bar_px;
                let fill = if s == 0 {
                    rgb(r.color).filled()
                } else {
                    light(r.color, 0.55).filled()
                };
                let mut rect = Rectangle::new([(0.0, y_top), (*v, y_top - 1.0)], fill);
                rect.set_margin(top.round() as u32, bottom.max(0.0).round() as u32, 0, 0);
                chart.draw_series(std::iter::once(rect))?;
                let (px, _) = chart.backend_coord(&(*v, y_top));
                let cy = py.start as f64 + band_px * i as f64 + top + bar_px / 2.0;
                labels.push((format!("{:.1}%", v * 100.0), px + 4, cy.round() as i32));
            }
            let (x0, _) = chart.backend_coord(&(0.0, y_top));
            let cy = py.start as f64 + band_px * (i as f64 + 0.5);
            root.draw(&Text::new(
                clip(&r.label, 22),
                (x0 - 8, cy.round() as i32),
                text_style(16.0, HPos::Right, VPos::Center),
            ))?;
        }
        for (t, x, y) in labels {
            root.draw(&Text::new(
                t,
                (x, y),
                text_style(14.0, HPos::Left, VPos::Center),
            ))?;
        }
        root.present()?;
    }
    Ok(finish(buf, ""))
}

/// A small vertical bar chart of percentile standings (0..1) in a segment's colour.
pub fn standing_panel(title: &str, color: Rgb, bars: &[(&str, f64)]) -> String {
    match standing_panel_inner(title, color, bars) {
        Ok(s) => s,
        Err(e) => failed(title, e),
    }
}

fn standing_panel_inner(
    title: &str,
    color: Rgb,
    bars: &[(&str, f64)],
) -> Result<String, Box<dyn std::error::Error>> {
    let (w, h) = (236u32, 210u32);
    let n = bars.len().max(1);
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(clip(title, 24), (FONT, 17))
            .margin(8)
            .x_label_area_size(24)
            .y_label_area_size(36)
            .build_cartesian_2d(0.0..n as f64, 0.0..100.0)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .x_labels(0)
            .y_labels(6)
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style((FONT, 13))
            .draw()?;
        let (px, py) = chart.plotting_area().get_pixel_range();
        let band = (px.end - px.start) as f64 / n as f64;
        let pad = (band * 0.18).round() as u32;
        for (i, (label, v)) in bars.iter().enumerate() {
            let x = i as f64;
            let pctl = (v * 100.0).clamp(0.0, 100.0);
            let mut rect = Rectangle::new([(x, 0.0), (x + 1.0, pctl)], rgb(color).filled());
            rect.set_margin(0, 0, pad, pad);
            chart.draw_series(std::iter::once(rect))?;
            let (cx, top) = chart.backend_coord(&(x + 0.5, pctl));
            root.draw(&Text::new(
                format!("{pctl:.0}"),
                (cx, top - 3),
                text_style(14.0, HPos::Center, VPos::Bottom),
            ))?;
            root.draw(&Text::new(
                label.to_string(),
                (cx, py.end + 6),
                text_style(14.0, HPos::Center, VPos::Top),
            ))?;
        }
        root.present()?;
    }
    Ok(finish(buf, ""))
}

/// One row of a stacked 100 % bar.
pub struct StackRow {
    pub label: String,
    pub color: Rgb,
    /// Share per level, in the order of the chart's levels.
    pub shares: Vec<f64>,
}

/// Horizontal stacked bars of level shares, one bar per segment (first row on top). Level
/// colours come from the level palette; the last level is "other" when `last_is_other`.
pub fn stacked_shares(
    title: &str,
    rows: &[StackRow],
    n_levels: usize,
    last_is_other: bool,
) -> String {
    match stacked_inner(title, rows, n_levels, last_is_other) {
        Ok(s) => s,
        Err(e) => failed(title, e),
    }
}

fn stacked_inner(
    title: &str,
    rows: &[StackRow],
    n_levels: usize,
    last_is_other: bool,
) -> Result<String, Box<dyn std::error::Error>> {
    let n = rows.len().max(1);
    let (w, h) = (610u32, 60 + 32 * n as u32 + 36);
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = share_frame(&root, (title, 17), (20, 30, 190), 1.0, n)?;
        let (_, py) = chart.plotting_area().get_pixel_range();
        let band = (py.end - py.start) as f64 / n as f64;
        let pad = (band * 0.15).round() as u32;
        let mut labels = Vec::new();
        for (i, r) in rows.iter().enumerate() {
            let y_top = (n - i) as f64;
            let mut cum = 0.0;
            for (l, &s) in r.shares.iter().enumerate().take(n_levels) {
                if s <= 0.0 {
                    continue;
                }
                let other = last_is_other && l + 1 == n_levels;
                let mut rect = Rectangle::new(
                    [(cum, y_top), ((cum + s).min(1.0), y_top - 1.0)],
                    rgb(level_color(l, other)).filled(),
                );
                rect.set_margin(pad, pad, 0, 0);
                chart.draw_series(std::iter::once(rect))?;
                let (x0, _) = chart.backend_coord(&(cum, y_top));
                let (x1, _) = chart.backend_coord(&((cum + s).min(1.0), y_top));
                if x1 - x0 >= 34 {
                    let cy = py.start as f64 + band * (i as f64 + 0.5);
                    labels.push((
                        format!("{:.0}%", s * 100.0),
                        (x0 + x1) / 2,
                        cy.round() as i32,
                    ));
                }
                cum += s;
            }
            let (x0, _) = chart.backend_coord(&(0.0, y_top));
            let cy = py.start as f64 + band * (i as f64 + 0.5);
            root.draw(&Text::new(
                clip(&r.label, 23),
                (x0 - 14, cy.round() as i32),
                text_style(16.0, HPos::Right, VPos::Center),
            ))?;
            // A swatch of the segment colour beside the name.
            root.draw(&Rectangle::new(
                [(x0 - 10, cy as i32 - 6), (x0 - 4, cy as i32 + 6)],
                rgb(r.color).filled(),
            ))?;
        }
        for (t, x, y) in labels {
            root.draw(&Text::new(
                t,
                (x, y),
                text_style(13.0, HPos::Center, VPos::Center),
            ))?;
        }
        root.present()?;
    }
    Ok(finish(buf, ""))
}

/// Points of one segment in the scatter.
pub struct PointGroup {
    pub id: usize,
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// The PCA scatter: plotters draws the frame, grid and axes; the points go in one `<g>`
/// per segment (`class="seg-points" data-segment-id="ID"`), drawn largest group first so
/// small segments stay visible.
pub fn scatter(title: &str, x_desc: &str, y_desc: &str, groups: &[PointGroup]) -> String {
    match scatter_inner(title, x_desc, y_desc, groups) {
        Ok(s) => s,
        Err(e) => failed(title, e),
    }
}

fn scatter_inner(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    groups: &[PointGroup],
) -> Result<String, Box<dyn std::error::Error>> {
    let (w, h) = (960u32, 640u32);
    let all = || groups.iter().flat_map(|g| g.points.iter());
    let fold = |f: fn(&(f64, f64)) -> f64| {
        all()
            .map(f)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            })
    };
    let (x0, x1) = fold(|p| p.0);
    let (y0, y1) = fold(|p| p.1);
    let (x0, x1) = padded(x0, x1, 0.04);
    let (y0, y1) = padded(y0, y1, 0.04);
    let mut buf = String::new();
    let mut extra = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 19))
            .margin(12)
            .margin_right(24)
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        let fmt = |v: &f64| format!("{v:.1}");
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .x_label_formatter(&fmt)
            .y_label_formatter(&fmt)
            .x_desc(x_desc)
            .y_desc(y_desc)
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 16))
            .draw()?;
        let mut order: Vec<&PointGroup> = groups.iter().collect();
        order.sort_by_key(|g| std::cmp::Reverse(g.points.len()));
        for g in order {
            let _ = write!(
                extra,
                "<g class=\"seg-points\" data-segment-id=\"{}\" fill=\"{}\" fill-opacity=\"0.65\"><title>{}</title>",
                g.id,
                hex(segment_color(g.id)),
                esc(&format!("{} · {}", g.id, g.name))
            );
            for p in &g.points {
                let (px, py) = chart.backend_coord(p);
                let _ = write!(extra, "<circle cx=\"{px}\" cy=\"{py}\" r=\"2.6\"/>");
            }
            extra.push_str("</g>\n");
        }
        root.present()?;
    }
    Ok(finish(buf, &extra))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_wide_enough_for_ticks() {
        assert_eq!(padded(0.0, 0.0, 0.1), (-1.0, 1.0));
        assert_eq!(padded(0.0, 1.2e-31, 0.1), (-1.0, 1.0 + 1.2e-31));
        let (lo, hi) = padded(1000.0, 1000.0 + 1e-7, 0.1);
        assert!(hi - lo > 100.0);
        assert_eq!(padded(f64::NAN, 1.0, 0.1), (0.0, 1.0));
        assert_eq!(padded(1.0, f64::INFINITY, 0.1), (0.0, 1.0));
        assert_eq!(padded(2.0, 1.0, 0.1), (0.0, 1.0));
        let (lo, hi) = padded(1.0, 3.0, 0.5);
        assert_eq!((lo, hi), (0.0, 4.0));
    }

    #[test]
    fn numerically_zero_curves_finish() {
        // A k search on duplicate customers: inertias of ~1e-31. plotters never finished
        // placing ticks on such a range; the chart must come back (run with a deadline so a
        // regression fails instead of hanging).
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let svg = k_curve(&KCurve {
                title: "Inertia",
                hint: "elbow",
                points: vec![(2, 1.2e-31), (3, 0.0), (4, 3.0e-32)],
                chosen: Some(2),
            });
            let _ = tx.send(svg);
        });
        let svg = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("the chart is drawn in time");
        assert!(svg.starts_with("<svg"), "{svg}");
    }

    #[test]
    fn palette_is_by_id_and_wraps() {
        assert_eq!(segment_color(3), segment_color(23));
        assert_ne!(segment_color(0), segment_color(1));
        assert_eq!(hex((0, 16, 255)), "#0010ff");
    }

    #[test]
    fn plot_text_is_escaped_and_has_no_namespace_url() {
        let rows = [BarRow {
            label: "<script> & co".into(),
            color: segment_color(0),
            values: vec![Some(0.5), None],
        }];
        let svg = share_bars("<b>sizes</b>", &rows, &["customers", "revenue"]);
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(!svg.contains("<script") && !svg.contains("<b>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;") && svg.contains("&amp; co"));
        assert!(!svg.contains("http"));
    }

    #[test]
    fn scatter_writes_one_group_per_segment() {
        let groups = vec![
            PointGroup {
                id: 7,
                name: "A".into(),
                points: vec![(0.0, 0.0), (1.0, 1.0)],
            },
            PointGroup {
                id: 2,
                name: "B".into(),
                points: vec![(2.0, -1.0)],
            },
        ];
        let svg = scatter("t", "x", "y", &groups);
        assert_eq!(svg.matches("class=\"seg-points\"").count(), 2);
        assert_eq!(svg.matches("<circle cx=").count(), 3);
        assert!(svg.contains("data-segment-id=\"7\""));
        let close = svg.rfind("</svg>").unwrap();
        assert!(svg.rfind("seg-points").unwrap() < close);
    }

    #[test]
    fn k_curve_marks_the_chosen_k_and_survives_one_point() {
        let c = KCurve {
            title: "Silhouette",
            hint: "higher is better",
            points: vec![(2, 0.4), (3, 0.5), (4, 0.45)],
            chosen: Some(3),
        };
        assert!(k_curve(&c).contains("k = 3"));
        let one = KCurve {
            points: vec![(4, 1.0)],
            chosen: Some(4),
            ..c
        };
        assert!(k_curve(&one).starts_with("<svg"));
    }
}
