//! Hand-made SVG charts: a bar chart with optional 95 % interval whiskers, a line chart and a
//! per-host timeline. Plain strings, no dependency and no script, so a report is one file that
//! any browser (or an e-mail attachment viewer) shows as it is.

use std::fmt::Write as _;

/// Chart width in SVG user units; the page scales it to the screen (`viewBox`).
const W: f64 = 720.0;
/// Left margin for the y-axis labels.
const LEFT: f64 = 70.0;
/// Right margin.
const RIGHT: f64 = 20.0;
/// Top margin (title).
const TOP: f64 = 34.0;
/// Bottom margin (x labels).
const BOTTOM: f64 = 56.0;

/// Colours with at least 3:1 contrast against white, told apart without relying on hue alone
/// (each series also has its own dash pattern or marker).
pub const PALETTE: [&str; 8] = [
    "#1f5fa8", "#b8460b", "#2a7d2e", "#7b3fa0", "#a8123e", "#5c5c5c", "#00707a", "#8a6d00",
];

/// Escapes text for HTML and SVG (both XML-like here): `&`, `<`, `>`, quotes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One bar: its label, value and, for `promig evaluate`, the 95 % interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// Label under the bar (the policy).
    pub label: String,
    /// Height.
    pub value: f64,
    /// Whisker from low to high, when the value is a mean over seeds.
    pub ci95: Option<[f64; 2]>,
}

/// One line of a line chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Points (x, y), in x order.
    pub points: Vec<(f64, f64)>,
}

/// A "nice" axis step (1, 2 or 5 times a power of ten) giving about `ticks` ticks over `span`.
fn nice_step(span: f64, ticks: usize) -> f64 {
    if !(span.is_finite() && span > 0.0) {
        return 1.0;
    }
    let raw = span / ticks.max(1) as f64;
    let p = 10f64.powf(raw.log10().floor());
    let m = raw / p;
    let n = if m <= 1.0 {
        1.0
    } else if m <= 2.0 {
        2.0
    } else if m <= 5.0 {
        5.0
    } else {
        10.0
    };
    n * p
}

/// A number short enough for an axis label.
pub fn short(v: f64) -> String {
    let a = v.abs();
    if !v.is_finite() {
        "n/a".into()
    } else if v == 0.0 {
        "0".into()
    } else if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else if a >= 0.01 {
        format!("{v:.2}")
    } else {
        format!("{v:.1e}")
    }
}

fn open(out: &mut String, h: f64, title: &str, id: &str) {
    let _ = write!(
        out,
        r##"<svg viewBox="0 0 {W} {h}" width="{W}" height="{h}" role="img" aria-labelledby="{id}-t" class="chart"><title id="{id}-t">{t}</title><rect width="{W}" height="{h}" fill="#fff"/><text x="{LEFT}" y="20" font-size="15" font-weight="bold" fill="#111">{t}</text>"##,
        t = escape(title)
    );
}

/// Horizontal grid lines and y labels from `lo` to `hi`; returns the y mapping's (lo, hi).
fn y_axis(out: &mut String, lo: f64, hi: f64, h: f64, unit: &str) -> (f64, f64) {
    let step = nice_step(hi - lo, 5);
    let lo = (lo / step).floor() * step;
    let hi = ((hi / step).ceil() * step).max(lo + step);
    let plot_h = h - TOP - BOTTOM;
    let mut v = lo;
    while v <= hi + step * 1e-9 {
        let y = TOP + plot_h * (1.0 - (v - lo) / (hi - lo));
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{x2}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{lx}" y="{ty:.1}" font-size="11" text-anchor="end" fill="#333">{s}</text>"##,
            x2 = W - RIGHT,
            lx = LEFT - 6.0,
            ty = y + 4.0,
            s = short(v)
        );
        v += step;
    }
    let _ = write!(
        out,
        r##"<text x="14" y="{y:.1}" font-size="11" fill="#333" transform="rotate(-90 14 {y:.1})" text-anchor="middle">{u}</text>"##,
        y = TOP + plot_h / 2.0,
        u = escape(unit)
    );
    (lo, hi)
}

/// A bar chart, one bar per policy, with 95 % whiskers where given.
pub fn bar_chart(id: &str, title: &str, unit: &str, bars: &[Bar]) -> String {
    let h = 300.0;
    let mut out = String::new();
    open(&mut out, h, title, id);
    let finite = |v: f64| if v.is_finite() { v } else { 0.0 };
    let top = bars
        .iter()
        .map(|b| finite(b.ci95.map_or(b.value, |c| c[1].max(b.value))))
        .fold(0.0f64, f64::max);
    let (lo, hi) = y_axis(&mut out, 0.0, if top > 0.0 { top } else { 1.0 }, h, unit);
    let plot_h = h - TOP - BOTTOM;
    let y_of = |v: f64| TOP + plot_h * (1.0 - (finite(v).clamp(lo, hi) - lo) / (hi - lo));
    let slot = (W - LEFT - RIGHT) / bars.len().max(1) as f64;
    let bw = (slot * 0.6).min(70.0);
    for (i, b) in bars.iter().enumerate() {
        let cx = LEFT + slot * (i as f64 + 0.5);
        let y = y_of(b.value);
        let base = y_of(0.0);
        let ci = b
            .ci95
            .map(|c| format!(" (95 % CI {} to {})", short(c[0]), short(c[1])))
            .unwrap_or_default();
        let _ = write!(
            out,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{bw:.1}" height="{hh:.1}" fill="{c}"><title>{l}: {v}{ci}</title></rect>"#,
            x = cx - bw / 2.0,
            hh = (base - y).max(0.0),
            c = PALETTE[i % PALETTE.len()],
            l = escape(&b.label),
            v = short(b.value),
        );
        if let Some([l, u]) = b.ci95 {
            let (yl, yu) = (y_of(l), y_of(u));
            let _ = write!(
                out,
                r##"<path d="M{cx:.1} {yl:.1}V{yu:.1}M{a:.1} {yl:.1}H{b:.1}M{a:.1} {yu:.1}H{b:.1}" stroke="#111" stroke-width="1.5" fill="none"/>"##,
                a = cx - bw / 4.0,
                b = cx + bw / 4.0,
            );
        }
        let _ = write!(
            out,
            r##"<text x="{vx:.1}" y="{ty:.1}" font-size="11" text-anchor="{va}" fill="#111">{v}</text><text x="{cx:.1}" y="{ly:.1}" font-size="11" text-anchor="end" fill="#111" transform="rotate(-25 {cx:.1} {ly:.1})">{l}</text>"##,
            // Beside the bar's top when a whisker runs through it, above it otherwise.
            vx = if b.ci95.is_some() {
                cx + bw / 2.0 + 3.0
            } else {
                cx
            },
            va = if b.ci95.is_some() { "start" } else { "middle" },
            ty = if b.ci95.is_some() { y + 4.0 } else { y - 4.0 },
            ly = h - BOTTOM + 14.0,
            v = short(b.value),
            l = escape(&b.label)
        );
    }
    out.push_str("</svg>");
    out
}

/// A line chart; the legend names each series, which also has its own dash pattern.
pub fn line_chart(
    id: &str,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> String {
    let h = 320.0;
    let mut out = String::new();
    open(&mut out, h, title, id);
    let pts = || {
        series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|p| p.0.is_finite() && p.1.is_finite())
    };
    let (x0, x1) = pts().fold((f64::INFINITY, f64::NEG_INFINITY), |a, p| {
        (a.0.min(p.0), a.1.max(p.0))
    });
    let (y0, y1) = pts().fold((f64::INFINITY, f64::NEG_INFINITY), |a, p| {
        (a.0.min(p.1), a.1.max(p.1))
    });
    let (x0, x1) = if x0.is_finite() && x1 > x0 {
        (x0, x1)
    } else {
        (0.0, 1.0)
    };
    let (y0, y1) = if y0.is_finite() && y1 > y0 {
        (y0, y1)
    } else {
        (0.0, 1.0)
    };
    let (lo, hi) = y_axis(&mut out, y0, y1, h, y_label);
    let plot_h = h - TOP - BOTTOM;
    let plot_w = W - LEFT - RIGHT;
    let xs = |x: f64| LEFT + plot_w * (x - x0) / (x1 - x0);
    let ys = |y: f64| TOP + plot_h * (1.0 - (y - lo) / (hi - lo));
    let step = nice_step(x1 - x0, 6);
    let mut x = (x0 / step).ceil() * step;
    while x <= x1 + step * 1e-9 {
        let _ = write!(
            out,
            r##"<text x="{px:.1}" y="{y:.1}" font-size="11" text-anchor="middle" fill="#333">{s}</text>"##,
            px = xs(x),
            y = h - BOTTOM + 16.0,
            s = short(x)
        );
        x += step;
    }
    let _ = write!(
        out,
        r##"<text x="{x:.1}" y="{y:.1}" font-size="11" text-anchor="middle" fill="#333">{l}</text>"##,
        x = LEFT + plot_w / 2.0,
        y = h - BOTTOM + 34.0,
        l = escape(x_label)
    );
    const DASH: [&str; 4] = ["", "6 3", "2 2", "8 3 2 3"];
    for (i, s) in series.iter().enumerate() {
        let mut d = String::new();
        for (k, p) in s
            .points
            .iter()
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .enumerate()
        {
            let _ = write!(
                d,
                "{}{:.1} {:.1}",
                if k == 0 { "M" } else { "L" },
                xs(p.0),
                ys(p.1)
            );
        }
        let c = PALETTE[i % PALETTE.len()];
        let _ = write!(
            out,
            r#"<path d="{d}" fill="none" stroke="{c}" stroke-width="{sw}" stroke-dasharray="{da}"/>"#,
            sw = if i == 0 { 1.2 } else { 2.2 },
            da = DASH[i % DASH.len()]
        );
        let lx = LEFT + 10.0 + 200.0 * i as f64;
        let ly = h - 8.0;
        let _ = write!(
            out,
            r##"<line x1="{lx:.1}" x2="{x2:.1}" y1="{y:.1}" y2="{y:.1}" stroke="{c}" stroke-width="2.5" stroke-dasharray="{da}"/><text x="{tx:.1}" y="{ty:.1}" font-size="11" fill="#111">{n}</text>"##,
            x2 = lx + 24.0,
            y = ly - 4.0,
            tx = lx + 30.0,
            ty = ly,
            da = DASH[i % DASH.len()],
            n = escape(&s.name)
        );
    }
    out.push_str("</svg>");
    out
}

/// One host's row in a timeline.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HostRow {
    /// Host name.
    pub name: String,
    /// Predicted risk (probability) over time: (seconds, risk).
    pub risk: Vec<(f64, f64)>,
    /// Faults: (cause, onset, strike if it struck).
    pub faults: Vec<(String, f64, Option<f64>)>,
    /// Migrations away from this host: seconds.
    pub migrations_out: Vec<f64>,
}

/// Each host's predicted risk (a line, 0 to 1 within its row) against its faults (a shaded band
/// from onset to strike, a red cross at the strike) with migrations off the host marked (a
/// triangle), over the run's time in hours.
pub fn timeline(id: &str, title: &str, start_s: f64, end_s: f64, rows: &[HostRow]) -> String {
    let row_h = 42.0;
    let h = TOP + BOTTOM + row_h * rows.len().max(1) as f64;
    let left = 110.0;
    let plot_w = W - left - RIGHT;
    let span = if end_s > start_s {
        end_s - start_s
    } else {
        1.0
    };
    let xs = |t: f64| left + plot_w * ((t - start_s) / span).clamp(0.0, 1.0);
    let mut out = String::new();
    open(&mut out, h, title, id);
    for (r, row) in rows.iter().enumerate() {
        let top = TOP + row_h * r as f64;
        let bottom = top + row_h - 6.0;
        let _ = write!(
            out,
            r##"<rect x="{left}" y="{top:.1}" width="{plot_w:.1}" height="{hh:.1}" fill="#f4f6f8" stroke="#ccc"/><text x="{lx}" y="{ty:.1}" font-size="11" text-anchor="end" fill="#111">{n}</text>"##,
            hh = row_h - 6.0,
            lx = left - 6.0,
            ty = top + row_h / 2.0,
            n = escape(&row.name)
        );
        for (cause, onset, strike) in &row.faults {
            let x0 = xs(*onset);
            let x1 = xs(strike.unwrap_or(*onset)).max(x0 + 2.0);
            let _ = write!(
                out,
                r##"<rect x="{x0:.1}" y="{top:.1}" width="{w:.1}" height="{hh:.1}" fill="#f3c9a8" opacity="0.8"><title>{c}: onset {o:.2} h{s}</title></rect>"##,
                w = x1 - x0,
                hh = row_h - 6.0,
                c = escape(cause),
                o = onset / 3600.0,
                s = strike
                    .map(|s| format!(", struck {:.2} h", s / 3600.0))
                    .unwrap_or_else(|| ", did not strike".into())
            );
            if let Some(s) = strike {
                let x = xs(*s);
                let _ = write!(
                    out,
                    r##"<path d="M{a:.1} {b:.1}l8 8m0 -8l-8 8" stroke="#b00020" stroke-width="2.5"><title>{c} struck at {h:.2} h</title></path>"##,
                    a = x - 4.0,
                    b = top + 2.0,
                    c = escape(cause),
                    h = s / 3600.0
                );
            }
        }
        if !row.risk.is_empty() {
            let mut d = String::new();
            for (k, (t, p)) in row.risk.iter().enumerate() {
                let y = bottom - (row_h - 10.0) * p.clamp(0.0, 1.0);
                let _ = write!(
                    d,
                    "{}{:.1} {:.1}",
                    if k == 0 { "M" } else { "L" },
                    xs(*t),
                    y
                );
            }
            let _ = write!(
                out,
                r##"<path d="{d}" fill="none" stroke="#1f5fa8" stroke-width="1.6"/>"##
            );
        }
        for t in &row.migrations_out {
            let x = xs(*t);
            let _ = write!(
                out,
                r##"<path d="M{a:.1} {b:.1}l5 -8l5 8z" fill="#2a7d2e"><title>migration off this host at {h:.2} h</title></path>"##,
                a = x - 5.0,
                b = bottom,
                h = t / 3600.0
            );
        }
    }
    // Time axis.
    let hours = span / 3600.0;
    let step = nice_step(hours, 8);
    let mut k = 0.0;
    while k <= hours + step * 1e-9 {
        let _ = write!(
            out,
            r##"<text x="{x:.1}" y="{y:.1}" font-size="11" text-anchor="middle" fill="#333">{s}</text>"##,
            x = xs(start_s + k * 3600.0),
            y = h - BOTTOM + 16.0,
            s = short(k)
        );
        k += step;
    }
    let ly = h - 12.0;
    let _ = write!(
        out,
        r##"<text x="{left}" y="{y:.1}" font-size="11" fill="#333">hours from start</text><line x1="240" x2="264" y1="{l:.1}" y2="{l:.1}" stroke="#1f5fa8" stroke-width="2"/><text x="270" y="{ly:.1}" font-size="11" fill="#111">predicted risk (row = 0 to 1)</text><rect x="440" y="{r:.1}" width="16" height="10" fill="#f3c9a8"/><text x="460" y="{ly:.1}" font-size="11" fill="#111">fault</text><path d="M500 {r:.1}l8 8m0 -8l-8 8" stroke="#b00020" stroke-width="2.5"/><text x="514" y="{ly:.1}" font-size="11" fill="#111">strike</text><path d="M566 {b:.1}l5 -8l5 8z" fill="#2a7d2e"/><text x="582" y="{ly:.1}" font-size="11" fill="#111">migration off</text>"##,
        y = h - BOTTOM + 34.0,
        l = ly - 4.0,
        r = ly - 9.0,
        b = ly + 1.0
    );
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_steps_are_one_two_or_five() {
        assert_eq!(nice_step(10.0, 5), 2.0);
        assert_eq!(nice_step(1.0, 5), 0.2);
        assert_eq!(nice_step(700.0, 5), 200.0);
        assert_eq!(nice_step(0.0, 5), 1.0);
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
        let s = bar_chart(
            "x",
            "<t>",
            "u",
            &[Bar {
                label: "<p>".into(),
                value: f64::NAN,
                ci95: None,
            }],
        );
        assert!(
            !s.contains("<t>") && !s.contains("<p>") && !s.contains("NaN"),
            "{s}"
        );
    }
}
