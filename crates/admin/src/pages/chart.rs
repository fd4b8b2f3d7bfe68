//! A line chart drawn as SVG on the server (no script, no style attribute:
//! the Content-Security-Policy allows neither inline): counts on the left
//! axis, rates on the right, one polyline a series, and the numbers in the
//! table beside it for those who do not see the chart.

use std::fmt::Write;

/// One line of the chart.
pub struct Series {
    pub name: String,
    /// One value per slot; none: no point there.
    pub values: Vec<Option<f64>>,
    /// A rate between 0 and 1, on the right axis.
    pub rate: bool,
    pub colour: &'static str,
}

const W: f64 = 920.0;
const H: f64 = 300.0;
const LEFT: f64 = 50.0;
const RIGHT: f64 = 50.0;
const TOP: f64 = 20.0;
const BOTTOM: f64 = 60.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An axis figure: whole, or with one decimal below 10.
fn tick(v: f64) -> String {
    if v.fract().abs() < 1e-9 || v >= 10.0 {
        format!("{}", v.round())
    } else {
        format!("{v:.1}").replace('.', ",")
    }
}

/// A round axis top at or above `v`.
fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|m| *m >= v)
        .unwrap_or(10.0 * p)
}

/// The chart as an `<svg>` element.
pub fn line_chart(id: &str, title: &str, labels: &[String], series: &[Series]) -> String {
    let n = labels.len().max(1);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let x = |i: usize| {
        LEFT + if n == 1 {
            plot_w / 2.0
        } else {
            plot_w * i as f64 / (n - 1) as f64
        }
    };
    let count_max = nice_max(
        series
            .iter()
            .filter(|s| !s.rate)
            .flat_map(|s| s.values.iter().flatten().copied())
            .fold(0.0, f64::max),
    );
    let y = |v: f64, rate: bool| TOP + plot_h * (1.0 - if rate { v } else { v / count_max });
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg id="{id}" class="chart" viewBox="0 0 {W} {H}" role="img" aria-labelledby="{id}-title"><title id="{id}-title">{}</title>"#,
        esc(title)
    );
    // Grid and axes: 5 steps.
    for k in 0..=4 {
        let f = k as f64 / 4.0;
        let yy = TOP + plot_h * (1.0 - f);
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#d0d5dd" stroke-width="1"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end" fill="#333">{}</text><text x="{:.1}" y="{:.1}" font-size="11" fill="#333">{} %</text>"##,
            W - RIGHT,
            LEFT - 6.0,
            yy + 4.0,
            tick(count_max * f),
            W - RIGHT + 6.0,
            yy + 4.0,
            (f * 100.0).round()
        );
    }
    let every = n.div_ceil(12).max(1);
    for (i, l) in labels.iter().enumerate().filter(|(i, _)| i % every == 0) {
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle" fill="#333">{}</text>"##,
            x(i),
            H - BOTTOM + 18.0,
            esc(l)
        );
    }
    for (k, se) in series.iter().enumerate() {
        let pts: Vec<String> = se
            .values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| format!("{:.1},{:.1}", x(i), y(v, se.rate))))
            .collect();
        let dash = if se.rate {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        // A dot at each point: a lone slot shows too.
        for (i, v) in se.values.iter().enumerate() {
            if let Some(v) = v {
                let _ = write!(
                    s,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{}"/>"#,
                    x(i),
                    y(*v, se.rate),
                    se.colour
                );
            }
        }
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke="{}" stroke-width="2.5"{dash} points="{}"><title>{}</title></polyline>"#,
            se.colour,
            pts.join(" "),
            esc(&se.name)
        );
        // The legend, under the axis.
        let lx = LEFT + 170.0 * k as f64;
        let ly = H - 14.0;
        let _ = write!(
            s,
            r##"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{}" stroke-width="3"{dash}/><text x="{:.1}" y="{:.1}" font-size="12" fill="#1b1b1b">{}</text>"##,
            lx + 24.0,
            se.colour,
            lx + 30.0,
            ly + 4.0,
            esc(&se.name)
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_has_a_line_per_series_and_escapes_text() {
        let svg = line_chart(
            "c",
            "Appels <jour>",
            &["09:00".into(), "09:30".into(), "10:00".into()],
            &[
                Series {
                    name: "reçus".into(),
                    values: vec![Some(10.0), Some(40.0), None],
                    rate: false,
                    colour: "#0b4f9c",
                },
                Series {
                    name: "niveau de service".into(),
                    values: vec![Some(0.8), Some(0.5), Some(1.0)],
                    rate: true,
                    colour: "#a10e0e",
                },
            ],
        );
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("Appels &lt;jour&gt;"));
        assert!(!svg.contains("style="), "no inline style under the CSP");
        assert_eq!(nice_max(37.0), 50.0);
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(
            (tick(0.5), tick(2.0), tick(25.0)),
            ("0,5".to_string(), "2".to_string(), "25".to_string())
        );
        assert_eq!(svg.matches("<circle").count(), 5);
    }
}
