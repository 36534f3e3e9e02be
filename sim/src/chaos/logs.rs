//! The bot's own logs in a chaos run: `SIM_LOG=<filter>` (a `RUST_LOG`
//! filter, e.g. `warn` or `blacksky_io=debug`) prints them on stderr,
//! each stamped with the simulated time, to read beside the trace.

use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

/// Stamps a log line with turmoil's elapsed time (`-` outside a host).
struct SimTime;

impl FormatTime for SimTime {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        match turmoil::sim_elapsed() {
            Some(at) => write!(w, "{:.1}s", at.as_secs_f64()),
            None => write!(w, "-"),
        }
    }
}

/// Installs the log printer when `SIM_LOG` is set (once per process).
pub fn from_env() {
    let Ok(filter) = std::env::var("SIM_LOG") else {
        return;
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|err| panic!("SIM_LOG is not a log filter: {err}"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_timer(SimTime)
        .with_writer(std::io::stderr)
        .try_init();
}
