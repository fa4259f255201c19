//! Bar charts drawn on the server as inline SVG (no script): one bar per bucket, the
//! largest value at the top, the figures in the caption and in a table beside it.

use crate::html::Html;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 140.0;

/// One series: a value per bucket (oldest first), labelled by the bucket's start.
pub struct Series<'a> {
    /// A stable name (`data-metric`), e.g. `messages`.
    pub metric: &'a str,
    pub title: &'a str,
    pub points: Vec<(String, u64)>,
    /// Whether the figure is summed over the range (counts) or its peak is what matters
    /// (online users).
    pub summed: bool,
}

impl Series<'_> {
    pub fn total(&self) -> u64 {
        self.points.iter().map(|(_, v)| v).sum()
    }

    pub fn peak(&self) -> u64 {
        self.points.iter().map(|(_, v)| *v).max().unwrap_or(0)
    }
}

/// A `<figure>` with the chart and its caption; `data-total` and `data-peak` carry the
/// figures for tests and scripts.
pub fn bar_chart(series: &Series<'_>) -> Html {
    let n = series.points.len().max(1) as f64;
    let peak = series.peak();
    let slot = WIDTH / n;
    let bar = (slot * 0.8).max(1.0);
    let bars = Html::concat(
        series
            .points
            .iter()
            .map(|(label, value)| {
                let h = if peak == 0 {
                    0.0
                } else {
                    HEIGHT * (*value as f64) / (peak as f64)
                };
                (label, value, h)
            })
            .enumerate()
            .map(|(i, (label, value, h))| {
                html!(
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>{}: {}</title></rect>",
            format!("{:.1}", i as f64 * slot + (slot - bar) / 2.0),
            format!("{:.1}", HEIGHT - h),
            format!("{bar:.1}"),
            format!("{h:.1}"),
            label,
            *value
        )
            }),
    );
    let caption = if series.summed {
        format!(
            "{}: {} in all, at most {} in one bucket",
            series.title,
            series.total(),
            peak
        )
    } else {
        format!("{}: peak {}", series.title, peak)
    };
    let first = series.points.first().map(|(l, _)| l.as_str()).unwrap_or("");
    let last = series.points.last().map(|(l, _)| l.as_str()).unwrap_or("");
    html!(
        "<figure class=\"chart\" data-metric=\"{}\" data-total=\"{}\" data-peak=\"{}\">\
         <svg viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{}\" preserveAspectRatio=\"none\">{}</svg>\
         <div class=\"axis\"><span>{}</span><span>{}</span></div>\
         <figcaption>{}</figcaption></figure>",
        series.metric,
        series.total(),
        peak,
        WIDTH,
        HEIGHT,
        caption,
        bars,
        first,
        last,
        caption
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_peak_and_the_figures_are_in_the_caption() {
        let series = Series {
            metric: "messages",
            title: "Messages",
            points: vec![
                ("10:00".into(), 2),
                ("11:00".into(), 0),
                ("12:00".into(), 4),
            ],
            summed: true,
        };
        let chart = bar_chart(&series).into_string();
        assert!(
            chart.contains(r#"data-metric="messages" data-total="6" data-peak="4""#),
            "{chart}"
        );
        assert!(chart.contains("Messages: 6 in all, at most 4 in one bucket"));
        assert!(
            chart.contains(r#"height="70.0"><title>10:00: 2</title>"#),
            "{chart}"
        );
        assert!(chart.contains(r#"height="140.0"><title>12:00: 4</title>"#));
        assert!(chart.contains(r#"height="0.0"><title>11:00: 0</title>"#));

        let empty = Series {
            metric: "online",
            title: "Online",
            points: vec![],
            summed: false,
        };
        assert!(bar_chart(&empty).as_str().contains("Online: peak 0"));
    }
}
