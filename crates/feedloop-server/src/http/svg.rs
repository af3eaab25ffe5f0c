//! Inline SVG line charts, rendered on the server.

use std::fmt::Write;

#[derive(Debug, Clone)]
pub struct Series {
    pub label: String,
    /// The series drawn: its metric, feature (per-feature metrics) and model version.
    pub metric: String,
    pub feature: Option<String>,
    pub model_version: String,
    /// (epoch ms, value), in time order.
    pub points: Vec<(i64, f64)>,
    /// (epoch ms, low, high): the ±kσ band at the windows that had one; an
    /// edge is `None` on a side where leaving the band does not alert (drawn
    /// open to the chart's edge).
    pub band: Vec<(i64, Option<f64>, Option<f64>)>,
    /// (start, end) epoch ms of the series' alerts: from the firing window's
    /// start to the resolving window's end (`i64::MAX` while open).
    pub alerts: Vec<(i64, i64)>,
}

const COLORS: [&str; 8] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f",
];

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn fmt_num(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 1000.0 || v.abs() < 0.01 {
        format!("{v:.3e}")
    } else {
        format!("{v:.3}")
    }
}

/// A line chart: one polyline per series, bands as filled paths, the series'
/// alert windows as red spans.
pub fn line_chart(title: &str, series: &[Series]) -> String {
    let (w, h) = (560.0_f64, 200.0_f64);
    let (l, r, t, b) = (56.0, 10.0, 36.0, 22.0);
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let (mut x0, mut x1) = (i64::MAX, i64::MIN);
    for x in xs {
        x0 = x0.min(x);
        x1 = x1.max(x);
    }
    let mut y0 = f64::INFINITY;
    let mut y1 = f64::NEG_INFINITY;
    for s in series {
        for p in &s.points {
            y0 = y0.min(p.1);
            y1 = y1.max(p.1);
        }
        for bnd in &s.band {
            for edge in [bnd.1, bnd.2].into_iter().flatten() {
                y0 = y0.min(edge);
                y1 = y1.max(edge);
            }
        }
    }
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="{t_}"><text x="{l}" y="14" font-size="12" font-weight="bold">{t_}</text>"#,
        t_ = esc(title)
    );
    if x0 > x1 || !y0.is_finite() {
        svg.push_str(
            r##"<text x="60" y="100" font-size="12" fill="#888">no data yet</text></svg>"##,
        );
        return svg;
    }
    if x1 == x0 {
        x1 = x0 + 1;
    }
    if y1 - y0 < 1e-12 {
        y0 -= 0.5;
        y1 += 0.5;
    }
    let pad = (y1 - y0) * 0.05;
    let (y0, y1) = (y0 - pad, y1 + pad);
    let px = |x: i64| l + (x - x0) as f64 / (x1 - x0) as f64 * (w - l - r);
    let py = |y: f64| t + (y1 - y) / (y1 - y0) * (h - t - b);
    // axes and labels
    let _ = write!(
        svg,
        r##"<line x1="{l}" y1="{t}" x2="{l}" y2="{yb}" stroke="#999"/><line x1="{l}" y1="{yb}" x2="{xr}" y2="{yb}" stroke="#999"/><text x="{lx}" y="{ty}" font-size="10" text-anchor="end">{ymax}</text><text x="{lx}" y="{yb}" font-size="10" text-anchor="end">{ymin}</text><text x="{l}" y="{xl}" font-size="10">{tmin}</text><text x="{xr}" y="{xl}" font-size="10" text-anchor="end">{tmax}</text>"##,
        yb = h - b,
        xr = w - r,
        lx = l - 4.0,
        ty = t + 8.0,
        xl = h - 6.0,
        ymax = fmt_num(y1),
        ymin = fmt_num(y0),
        tmin = fmt_time(x0),
        tmax = fmt_time(x1),
    );
    for (s, e) in series.iter().flat_map(|s| &s.alerts) {
        let (a, z) = (px((*s).max(x0)), px((*e).min(x1)));
        if z >= a {
            let _ = write!(
                svg,
                r##"<rect class="alert" x="{a:.1}" y="{t}" width="{:.1}" height="{}" fill="#d62728" fill-opacity="0.15"/>"##,
                (z - a).max(2.0),
                h - t - b
            );
        }
    }
    for (i, s) in series.iter().enumerate() {
        let c = COLORS[i % COLORS.len()];
        if s.band.len() >= 2 {
            let mut d = String::new();
            for (j, p) in s.band.iter().enumerate() {
                let _ = write!(
                    d,
                    "{}{:.1},{:.1} ",
                    if j == 0 { "M" } else { "L" },
                    px(p.0),
                    py(p.2.unwrap_or(y1))
                );
            }
            for p in s.band.iter().rev() {
                let _ = write!(d, "L{:.1},{:.1} ", px(p.0), py(p.1.unwrap_or(y0)));
            }
            d.push('Z');
            let _ = write!(
                svg,
                r#"<path class="band" d="{d}" fill="{c}" fill-opacity="0.15" stroke="none"/>"#
            );
        }
        let pts: Vec<String> = s
            .points
            .iter()
            .map(|p| format!("{:.1},{:.1}", px(p.0), py(p.1)))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline class="series" data-points="{}" points="{}" fill="none" stroke="{c}" stroke-width="1.5"/>"#,
            s.points.len(),
            pts.join(" ")
        );
        // Legend: one row under the title, as many entries as fit.
        let lx = l + i as f64 * 100.0;
        if lx + 100.0 <= w {
            let _ = write!(
                svg,
                r#"<text class="legend" x="{lx}" y="29" font-size="10" fill="{c}">{}</text>"#,
                esc(&truncate(&s.label, 17))
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

pub fn fmt_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn band_and_chart() {
        let pts: Vec<(i64, f64)> = (0..30)
            .map(|i| (i * 60_000, if i % 2 == 0 { 1.0 } else { 3.0 }))
            .collect();
        // Up-only from the 10th window: the lower edge is open.
        let band: Vec<_> = (10..30).map(|i| (i * 60_000, None, Some(4.0))).collect();
        let svg = line_chart(
            "x <y>",
            &[Series {
                label: "a".into(),
                metric: "a".into(),
                feature: None,
                model_version: "v".into(),
                points: pts,
                band,
                alerts: vec![(0, 60_000)],
            }],
        );
        assert!(
            svg.contains("<polyline")
                && svg.contains("class=\"band\"")
                && svg.contains("class=\"alert\"")
        );
        assert!(svg.contains("x &lt;y&gt;"));
        assert!(line_chart("empty", &[]).contains("no data"));
    }
}
