//! /metrics in the Prometheus text exposition format (version 0.0.4):
//! per family one `# HELP`, one `# TYPE`, then its samples; counters end
//! in `_total`; a family with no value yet (memory before the first sample)
//! keeps its HELP/TYPE and has no sample line; the body ends in a newline.

use std::fmt::Write;

use blacksky_core::client::Ignored;

use crate::host::status::{MetricsView, VERSION};

/// The content type Prometheus expects for this format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

struct Exposition {
    out: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: Kind, help: &str) {
        // HELP text escapes only backslash and newline.
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.as_str());
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (key, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{key}=\"{}\"", escape_label(value));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }

    fn one(&mut self, name: &str, kind: Kind, help: &str, value: impl std::fmt::Display) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn flag(on: bool) -> u8 {
    u8::from(on)
}

/// The whole /metrics body.
pub fn render(view: &MetricsView) -> String {
    use Kind::{Counter, Gauge};
    let mut e = Exposition { out: String::new() };
    e.one("blacksky_up", Gauge, "1 while the process runs.", 1);
    e.one(
        "blacksky_online",
        Gauge,
        "1 while the WhatsApp session is open.",
        flag(view.online),
    );
    e.one(
        "blacksky_reconnects_total",
        Counter,
        "Connections opened after the first.",
        view.reconnects_total,
    );
    e.one(
        "blacksky_disconnects_total",
        Counter,
        "Connections that ended or could not be opened.",
        view.disconnects_total,
    );
    e.one(
        "blacksky_messages_received_total",
        Counter,
        "Incoming messages stored and acked.",
        view.messages_received_total,
    );
    e.one(
        "blacksky_messages_sent_total",
        Counter,
        "Outgoing messages acked by the server.",
        view.messages_sent_total,
    );
    e.one(
        "blacksky_store_up",
        Gauge,
        "1 while the session store accepts writes.",
        flag(view.store_up),
    );
    e.one(
        "blacksky_store_write_queue_length",
        Gauge,
        "Store writes waiting to become durable.",
        view.store_write_queue_len,
    );
    e.one(
        "blacksky_store_failures_total",
        Counter,
        "Store commands that failed.",
        view.store_failures_total,
    );
    e.one(
        "blacksky_store_stale_refusals_total",
        Counter,
        "Batches refused because another process of this session had changed a key record first (overlapping dynos); the connection restarted from the store.",
        view.store_stale_refusals_total,
    );
    e.one(
        "blacksky_limits_reached_total",
        Counter,
        "Times a connection hit one of its bounds and held back instead of growing.",
        view.limits_reached_total,
    );
    e.one(
        "blacksky_channel_waits_total",
        Counter,
        "Times a bounded channel between tasks was full and its producer waited (nothing is dropped).",
        view.channel_waits_total,
    );
    e.one(
        "blacksky_retry_receipts_total",
        Counter,
        "Messages that did not decrypt: retry receipts sent to their senders.",
        view.e2e.retry_receipts_total,
    );
    e.one(
        "blacksky_unreadable_messages_total",
        Counter,
        "Messages recorded as unreadable (bad padding or protobuf, or out of retries) and acked.",
        view.e2e.unreadable_total,
    );
    e.one(
        "blacksky_identity_changes_total",
        Counter,
        "Contacts' devices that came with a new identity key (accepted, as WhatsApp does).",
        view.e2e.identity_changes_total,
    );
    let console = &view.console;
    e.family(
        "blacksky_decrypt_failures_total",
        Counter,
        "Messages that did not decrypt, by reason (a retry receipt went out for each).",
    );
    for (reason, count) in &console.decrypt_failures {
        e.sample(
            "blacksky_decrypt_failures_total",
            &[("reason", reason.as_str())],
            count,
        );
    }
    e.family(
        "blacksky_retry_receipts_by_direction_total",
        Counter,
        "Retry receipts: out = sent for messages that did not decrypt; in = contacts asking again for ours.",
    );
    e.sample(
        "blacksky_retry_receipts_by_direction_total",
        &[("direction", "out")],
        view.e2e.retry_receipts_total,
    );
    e.sample(
        "blacksky_retry_receipts_by_direction_total",
        &[("direction", "in")],
        console.retry_receipts_in_total,
    );
    e.one(
        "blacksky_outbox_depth",
        Gauge,
        "Outgoing messages the server has not taken yet (counted every 30 s).",
        console.outbox_unsent,
    );
    e.one(
        "blacksky_outbox_oldest_age_seconds",
        Gauge,
        "Seconds the oldest of them has waited (0 when none waits).",
        format_args!("{:.3}", console.outbox_oldest_age_s.unwrap_or(0.0)),
    );
    e.one(
        "blacksky_alert_outbox_depth",
        Gauge,
        "Alerts not yet delivered to ALERT_WEBHOOK_URL.",
        console.alert_outbox_unsent,
    );
    e.one(
        "blacksky_alert_outbox_oldest_age_seconds",
        Gauge,
        "Seconds the oldest undelivered alert has waited (0 when none waits).",
        format_args!("{:.3}", console.alert_outbox_oldest_age_s.unwrap_or(0.0)),
    );
    e.family(
        "blacksky_pre_keys_left",
        Gauge,
        "One-time pre-keys the session holds for new contacts.",
    );
    if let Some(left) = console.pre_keys_left {
        e.sample("blacksky_pre_keys_left", &[], left);
    }
    e.one(
        "blacksky_sends_per_second",
        Gauge,
        "Messages sent per second over the last complete minute.",
        format_args!("{:.3}", console.sends_per_second),
    );
    e.family(
        "blacksky_stanzas_ignored_total",
        Counter,
        "Stanzas the client could not use, answered where they could be and skipped (no reconnect), by kind.",
    );
    for (kind, count) in Ignored::KINDS.iter().zip(view.e2e.stanzas_ignored_total) {
        e.sample("blacksky_stanzas_ignored_total", &[("kind", kind)], count);
    }
    e.family(
        "blacksky_resident_memory_bytes",
        Gauge,
        "Resident set size of the process at the last sample.",
    );
    if let Some(rss) = view.resident_memory_bytes {
        e.sample("blacksky_resident_memory_bytes", &[], rss);
    }
    e.one(
        "blacksky_uptime_seconds",
        Gauge,
        "Seconds since the process started.",
        format_args!("{:.3}", view.uptime_s),
    );
    e.family(
        "blacksky_build_info",
        Gauge,
        "The running version, as a label; the value is always 1.",
    );
    e.sample("blacksky_build_info", &[("version", VERSION)], 1);
    e.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::status::{ConsoleMetrics, E2eCounts};

    #[test]
    fn labels_are_escaped() {
        assert_eq!(escape_label(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape_label("x\ny"), "x\\ny");
    }

    #[test]
    fn unknown_memory_has_no_sample_but_keeps_its_family() {
        let body = render(&MetricsView {
            online: true,
            reconnects_total: 2,
            disconnects_total: 3,
            messages_received_total: 4,
            messages_sent_total: 5,
            store_up: true,
            store_write_queue_len: 6,
            store_failures_total: 0,
            store_stale_refusals_total: 0,
            limits_reached_total: 7,
            channel_waits_total: 9,
            e2e: E2eCounts {
                retry_receipts_total: 8,
                unreadable_total: 0,
                identity_changes_total: 0,
                stanzas_ignored_total: [0, 3, 0, 0, 0],
            },
            resident_memory_bytes: None,
            uptime_s: 1.5,
            console: ConsoleMetrics {
                decrypt_failures: vec![("msg without a session".to_owned(), 2)],
                retry_receipts_in_total: 0,
                outbox_unsent: 3,
                outbox_oldest_age_s: Some(12.5),
                alert_outbox_unsent: 1,
                alert_outbox_oldest_age_s: Some(2.5),
                pre_keys_left: Some(812),
                sends_per_second: 0.0,
            },
        });
        assert!(
            body.contains(
                "\nblacksky_decrypt_failures_total{reason=\"msg without a session\"} 2\n"
            )
        );
        assert!(
            body.contains("\nblacksky_retry_receipts_by_direction_total{direction=\"in\"} 0\n")
        );
        assert!(body.contains("\nblacksky_outbox_depth 3\n"), "{body}");
        assert!(
            body.contains("\nblacksky_outbox_oldest_age_seconds 12.500\n"),
            "{body}"
        );
        assert!(body.contains("\nblacksky_alert_outbox_depth 1\n"));
        assert!(body.contains("\nblacksky_alert_outbox_oldest_age_seconds 2.500\n"));
        assert!(body.contains("\nblacksky_pre_keys_left 812\n"));
        assert!(body.contains("\nblacksky_sends_per_second 0.000\n"));
        assert!(body.contains("# TYPE blacksky_resident_memory_bytes gauge\n"));
        assert!(!body.contains("\nblacksky_resident_memory_bytes "));
        assert!(body.contains("\nblacksky_online 1\n"));
        assert!(body.contains("\nblacksky_limits_reached_total 7\n"));
        assert!(body.contains("\nblacksky_channel_waits_total 9\n"));
        assert!(body.contains("\nblacksky_retry_receipts_total 8\n"));
        assert!(body.contains("\nblacksky_stanzas_ignored_total{kind=\"message_without_id\"} 3\n"));
        assert!(body.contains("\nblacksky_stanzas_ignored_total{kind=\"undecodable_stanza\"} 0\n"));
        assert!(body.contains("\nblacksky_uptime_seconds 1.500\n"));
        assert!(body.ends_with('\n'));
    }
}
