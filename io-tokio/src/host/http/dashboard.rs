//! The dashboard at `/`: how the bot is doing and its last 24 hours as
//! plots, server-rendered HTML with inline SVG (no script, no external
//! asset: it works offline and under the pages' `default-src 'none'`).
//! Behind the pairing page's access rule; a visitor the rule does not let
//! in gets the plain index of routes.

use std::fmt::Write;

use blacksky_core::time::UnixMillis;

use super::qr_page::escape_html;
use crate::alerts::body::iso8601;
use crate::host::history::{HISTORY_MINUTES, MinuteSample};
use crate::host::status::DashboardView;

/// The plots' size in SVG units (they scale with the page).
const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 140.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 22.0;
const MINUTE_MS: u64 = 60_000;
/// The page reloads itself this often.
const REFRESH_S: u64 = 30;

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60rem;margin:1.5rem auto;padding:0 1rem;color:#111}\
h1{font-size:1.4rem}h2{font-size:1.05rem;margin:1.4rem 0 .3rem}table{border-collapse:collapse}\
td,th{padding:.2rem .8rem .2rem 0;text-align:left;vertical-align:top}th{font-weight:600;color:#444}\
.ok{color:#070}.warn{color:#a40}.bad{color:#b00}svg{width:100%;height:auto;background:#fafafa;border:1px solid #ddd}\
.axis{stroke:#bbb;stroke-width:1}.grid{stroke:#e4e4e4;stroke-width:1}.lbl{font:10px sans-serif;fill:#666}\
.in{fill:none;stroke:#1f6feb;stroke-width:1.5}.out{fill:none;stroke:#d97706;stroke-width:1.5}\
.mem{fill:none;stroke:#7c3aed;stroke-width:1.5}.limit{stroke:#b00;stroke-dasharray:4 3}\
.in-dot{fill:#1f6feb}.out-dot{fill:#d97706}.mem-dot{fill:#7c3aed}.rc{fill:#b00}.off{fill:#f5c2c2;opacity:.7}.key{font-size:.85rem;color:#555}\
.key i{display:inline-block;width:.8rem;height:.2rem;vertical-align:middle;margin:0 .3rem 0 .8rem}";

/// The whole page for a visitor the access rule let in.
pub fn page(view: &DashboardView) -> String {
    let mut body = String::new();
    let state_class = match view.state {
        "online" => "ok",
        "needs_pairing" | "gave_up" | "standing_by" => "bad",
        _ => "warn",
    };
    let _ = write!(
        body,
        "<table><tr><th>State</th><td class=\"{state_class}\" id=\"state\">{}</td><td>since {}</td></tr>",
        escape_html(view.state),
        iso8601(view.since)
    );
    let account = match (&view.jid, view.linked) {
        (Some(jid), true) => format!("<code>{}</code>", escape_html(jid)),
        (_, _) if view.needs_pairing => {
            "<span class=\"bad\">logged out</span>: <a href=\"/qr\">link it again</a>".to_owned()
        }
        _ => "not linked: <a href=\"/qr\">link a phone</a>".to_owned(),
    };
    let _ = write!(
        body,
        "<tr><th>Linked account</th><td colspan=\"2\">{account}</td></tr>\
         <tr><th>Uptime</th><td colspan=\"2\">{} (started {})</td></tr>",
        duration(view.uptime_s),
        iso8601(view.started_at)
    );
    let last = match &view.last_disconnect {
        Some(d) => format!(
            "{} at {} · {} reconnects",
            escape_html(&d.reason),
            iso8601(UnixMillis(d.at)),
            view.reconnects
        ),
        None => format!("none · {} reconnects", view.reconnects),
    };
    let _ = write!(
        body,
        "<tr><th>Last disconnect</th><td colspan=\"2\">{last}</td></tr>\
         <tr><th>Store</th><td colspan=\"2\" class=\"{}\">{} · {} writes waiting · {} failures</td></tr>\
         <tr><th>Pre-keys left</th><td colspan=\"2\">{}</td></tr>\
         <tr><th>Alerts waiting</th><td colspan=\"2\">{}</td></tr></table>",
        if view.store.up { "ok" } else { "bad" },
        if view.store.up { "up" } else { "down" },
        view.store.queue,
        view.store.failures,
        view.pre_keys_left
            .map_or_else(|| "unknown yet".to_owned(), |n| n.to_string()),
        view.alerts_unsent
    );
    body.push_str("<h2>Messages per minute, last 24 h</h2>");
    body.push_str(&messages_plot(view));
    body.push_str(
        "<p class=\"key\"><i style=\"background:#1f6feb\"></i>in<i style=\"background:#d97706\"></i>out</p>",
    );
    body.push_str("<h2>Resident memory, last 24 h</h2>");
    body.push_str(&memory_plot(view));
    body.push_str("<h2>Reconnects and offline spans, last 24 h</h2>");
    body.push_str(&connection_plot(view));
    body.push_str(
        "<p class=\"key\"><i style=\"background:#b00\"></i>reconnect<i style=\"background:#f5c2c2;height:.6rem\"></i>offline</p>",
    );
    if !view.alerts.is_empty() {
        body.push_str("<h2>Recent alerts</h2><ul>");
        for alert in &view.alerts {
            let _ = write!(
                body,
                "<li>{} <b>{}</b>: {}</li>",
                iso8601(UnixMillis(alert.at)),
                escape_html(alert.kind),
                escape_html(&alert.detail)
            );
        }
        body.push_str("</ul>");
    }
    let _ = write!(
        body,
        "<p class=\"key\">blacksky {} · times in UTC · <a href=\"/metrics\">/metrics</a> \
         <a href=\"/status\">/status</a> <a href=\"/stats\">/stats</a> <a href=\"/qr\">/qr</a></p>",
        escape_html(view.version)
    );
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><meta http-equiv=\"refresh\" content=\"{REFRESH_S}\">\
         <title>blacksky · {}</title><style>{STYLE}</style></head>\
         <body><h1>blacksky</h1>{body}</body></html>",
        escape_html(view.state)
    )
}

fn duration(secs: u64) -> String {
    match secs {
        0..=119 => format!("{secs} s"),
        120..=7199 => format!("{} min", secs / 60),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

/// The x of minute `index` (0 = 24 h ago, the last = now).
fn x_of(index: usize) -> f64 {
    LEFT + index as f64 * (WIDTH - LEFT - RIGHT) / (HISTORY_MINUTES - 1) as f64
}

/// The y of `value` on a scale up to `max`.
fn y_of(value: f64, max: f64) -> f64 {
    let span = HEIGHT - TOP - BOTTOM;
    HEIGHT - BOTTOM - (value / max.max(f64::MIN_POSITIVE)).min(1.0) * span
}

/// The minutes the process lived through (earlier ones are not data).
fn lived(view: &DashboardView) -> impl Iterator<Item = (usize, &MinuteSample)> {
    let first = view.started_at.as_millis() / MINUTE_MS;
    view.minutes
        .iter()
        .enumerate()
        .filter(move |(_, m)| m.minute >= first)
}

/// A path through `points` (`M x y L x y …`).
fn path(points: &[(f64, f64)]) -> String {
    let mut d = String::new();
    for (i, (x, y)) in points.iter().enumerate() {
        let _ = write!(d, "{}{x:.1} {y:.1}", if i == 0 { "M" } else { " L" });
    }
    // A single point still draws: a short flat step.
    if let [(x, y)] = points {
        let _ = write!(d, " L{:.1} {y:.1}", x + 1.0);
    }
    d
}

/// A nice ceiling for an axis: 1, 2 or 5 times a power of ten.
fn ceiling(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|c| *c >= max)
        .unwrap_or(10.0 * magnitude)
}

/// The frame: axes, the value scale, and hour marks every six hours.
fn frame(view: &DashboardView, id: &str, label: &str, max: f64, inner: &str) -> String {
    let mut svg = format!(
        "<svg id=\"{id}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{label}\" \
         xmlns=\"http://www.w3.org/2000/svg\">"
    );
    let now_minute = view.now.as_millis() / MINUTE_MS;
    for (i, m) in view.minutes.iter().enumerate() {
        if m.minute % 360 == 0 {
            let x = x_of(i);
            let at = UnixMillis(m.minute * MINUTE_MS);
            let hhmm = &iso8601(at)[11..16];
            let _ = write!(
                svg,
                "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{:.1}\"/>\
                 <text class=\"lbl\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{hhmm}</text>",
                HEIGHT - BOTTOM,
                HEIGHT - 8.0
            );
        }
    }
    let _ = write!(
        svg,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/>\
         <line class=\"axis\" x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{:.1}\"/>\
         <text class=\"lbl\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
         <text class=\"lbl\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">0</text>\
         <text class=\"lbl\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">now {}</text>",
        HEIGHT - BOTTOM,
        WIDTH - RIGHT,
        HEIGHT - BOTTOM,
        HEIGHT - BOTTOM,
        LEFT - 4.0,
        TOP + 8.0,
        label_number(max),
        LEFT - 4.0,
        HEIGHT - BOTTOM,
        WIDTH - RIGHT,
        TOP + 8.0,
        &iso8601(UnixMillis(now_minute * MINUTE_MS))[11..16],
    );
    svg.push_str(inner);
    svg.push_str("</svg>");
    svg
}

fn label_number(value: f64) -> String {
    if value >= 10.0 || value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

fn messages_plot(view: &DashboardView) -> String {
    let max = ceiling(
        lived(view)
            .map(|(_, m)| m.received.max(m.sent))
            .max()
            .unwrap_or(0) as f64,
    );
    let mut inner = String::new();
    for (class, pick) in [
        (
            "in",
            (|m: &MinuteSample| m.received) as fn(&MinuteSample) -> u64,
        ),
        ("out", |m: &MinuteSample| m.sent),
    ] {
        let points: Vec<(f64, f64)> = lived(view)
            .map(|(i, m)| (x_of(i), y_of(pick(m) as f64, max)))
            .collect();
        let sum: u64 = lived(view).map(|(_, m)| pick(m)).sum();
        let _ = write!(
            inner,
            "<path class=\"{class}\" data-points=\"{}\" data-sum=\"{sum}\" d=\"{}\"/>",
            points.len(),
            path(&points)
        );
        // A dot on each minute with messages: one busy minute in a day is
        // one pixel wide otherwise.
        for (i, m) in lived(view).filter(|(_, m)| pick(m) > 0) {
            let _ = write!(
                inner,
                "<circle class=\"{class}-dot\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\"/>",
                x_of(i),
                y_of(pick(m) as f64, max)
            );
        }
    }
    frame(view, "plot-messages", "messages per minute", max, &inner)
}

fn memory_plot(view: &DashboardView) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    let peak = lived(view)
        .filter_map(|(_, m)| m.rss_bytes)
        .max()
        .unwrap_or(0) as f64
        / MIB;
    let limit = view.memory_limit_bytes.map(|l| l as f64 / MIB);
    let max = ceiling(peak.max(limit.unwrap_or(0.0)));
    let points: Vec<(f64, f64)> = lived(view)
        .filter_map(|(i, m)| m.rss_bytes.map(|r| (x_of(i), y_of(r as f64 / MIB, max))))
        .collect();
    let mut inner = format!(
        "<path class=\"mem\" data-points=\"{}\" d=\"{}\"/>",
        points.len(),
        path(&points)
    );
    if let Some((x, y)) = points.last() {
        let _ = write!(
            inner,
            "<circle class=\"mem-dot\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"2.5\"/>"
        );
    }
    if let Some(limit) = limit {
        let y = y_of(limit, max);
        let _ = write!(
            inner,
            "<line class=\"limit\" x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\"/>",
            WIDTH - RIGHT
        );
    }
    frame(view, "plot-memory", "resident memory, MiB", max, &inner)
}

fn connection_plot(view: &DashboardView) -> String {
    let first = view.minutes.first().map_or(0, |m| m.minute);
    let max = ceiling(lived(view).map(|(_, m)| m.reconnects).max().unwrap_or(0) as f64);
    let mut inner = String::new();
    let index_of = |at: UnixMillis| {
        let minute = at.as_millis() / MINUTE_MS;
        minute.saturating_sub(first).min(HISTORY_MINUTES as u64 - 1) as usize
    };
    for span in &view.offline_spans {
        let (from, to) = (index_of(span.start), index_of(span.end.unwrap_or(view.now)));
        let (x1, x2) = (x_of(from), x_of(to) + 1.0);
        let _ = write!(
            inner,
            "<rect class=\"off\" x=\"{x1:.1}\" y=\"{TOP}\" width=\"{:.1}\" height=\"{:.1}\"/>",
            x2 - x1,
            HEIGHT - TOP - BOTTOM
        );
    }
    for (i, m) in lived(view).filter(|(_, m)| m.reconnects > 0) {
        let y = y_of(m.reconnects as f64, max);
        let _ = write!(
            inner,
            "<rect class=\"rc\" x=\"{:.1}\" y=\"{y:.1}\" width=\"2\" height=\"{:.1}\"/>",
            x_of(i) - 1.0,
            HEIGHT - BOTTOM - y
        );
    }
    frame(
        view,
        "plot-connection",
        "reconnects per minute",
        max,
        &inner,
    )
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use blacksky_core::client::{DisconnectReason, Event};

    use super::*;
    use crate::host::status::StatusBoard;

    const T0: UnixMillis = UnixMillis(1_735_689_600_000);

    #[test]
    fn the_plots_follow_the_samples() {
        let started = Instant::now();
        let board = StatusBoard::new(started, T0);
        board.on_event(&Event::Online, T0);
        for i in 0..5 {
            board.on_event(
                &Event::MessageStored {
                    id: format!("m{i}"),
                    from: "x".into(),
                },
                T0.saturating_add_millis(90_000),
            );
        }
        board.on_memory(40 << 20, T0.saturating_add_millis(60_000));
        board.record_disconnect(
            &DisconnectReason::ConnectionClosed,
            T0.saturating_add_millis(150_000),
        );
        let wall = T0.saturating_add_millis(200_000);
        let html = page(&board.dashboard(started + Duration::from_secs(200), wall));
        assert!(
            html.contains("<path class=\"in\" data-points=\"4\" data-sum=\"5\""),
            "{html}"
        );
        assert!(
            html.contains("<path class=\"mem\" data-points=\"1\""),
            "{html}"
        );
        assert!(html.contains("class=\"rc\""), "{html}");
        assert!(html.contains("class=\"off\""), "{html}");
        assert!(html.contains("<a href=\"/qr\">link a phone</a>"), "{html}");
        assert!(!html.contains("<script"), "no script");
        assert!(
            !html.contains("http://") || !html.contains("src=\"http"),
            "no external asset"
        );
    }

    #[test]
    fn axis_ceilings_are_round() {
        assert_eq!(ceiling(0.0), 1.0);
        assert_eq!(ceiling(3.0), 5.0);
        assert_eq!(ceiling(11.0), 20.0);
        assert_eq!(ceiling(100.0), 100.0);
    }
}
