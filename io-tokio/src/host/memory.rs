//! Resident memory: how much the process holds (for the keeper's
//! MEMORY_LIMIT_MB policy, /stats and /metrics), and the hooks that give
//! some back when the keeper says `ShedCaches`.
//!
//! RSS comes from `/proc/self/status` (`VmRSS`, in kB) rather than
//! `/proc/self/statm`: statm counts pages, and the page size cannot be
//! asked for without libc and `unsafe` (it is 64 KiB on some arm64 hosts,
//! so assuming 4 KiB would be wrong there).

use std::sync::{Arc, Mutex, PoisonError};

/// Where the kernel reports this process's memory.
pub const PROC_STATUS_PATH: &str = "/proc/self/status";

/// Why a sample could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    #[error("resident memory cannot be sampled on this platform")]
    Unsupported,
    #[error("cannot read {path}: {source}")]
    Read {
        path: &'static str,
        source: std::io::Error,
    },
    #[error("{path} has no usable VmRSS line")]
    NoRssLine { path: &'static str },
}

/// The process's resident set size in bytes.
pub fn read_rss_bytes() -> Result<u64, MemoryError> {
    if !cfg!(target_os = "linux") {
        return Err(MemoryError::Unsupported);
    }
    let status = std::fs::read_to_string(PROC_STATUS_PATH).map_err(|source| MemoryError::Read {
        path: PROC_STATUS_PATH,
        source,
    })?;
    parse_vm_rss_bytes(&status).ok_or(MemoryError::NoRssLine {
        path: PROC_STATUS_PATH,
    })
}

/// [`read_rss_bytes`], for callers that only skip a sample on failure.
pub fn sample_rss_bytes() -> Option<u64> {
    read_rss_bytes().ok()
}

/// Where the keeper's memory samples come from: this process's RSS by
/// default; the simulation injects memory pressure through its own.
#[derive(Clone)]
pub struct RssSampler(pub Arc<dyn Fn() -> Option<u64> + Send + Sync>);

impl RssSampler {
    #[must_use]
    pub fn sample(&self) -> Option<u64> {
        (self.0)()
    }
}

impl Default for RssSampler {
    fn default() -> Self {
        RssSampler(Arc::new(sample_rss_bytes))
    }
}

impl std::fmt::Debug for RssSampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RssSampler")
    }
}

/// The `VmRSS:   12345 kB` line of `/proc/<pid>/status`, in bytes.
pub fn parse_vm_rss_bytes(status: &str) -> Option<u64> {
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?;
    let mut words = line.split_whitespace();
    let value: u64 = words.next()?.parse().ok()?;
    // The kernel has only ever written kB here; any other unit means the
    // line is not what we think it is.
    match words.next() {
        Some("kB") => value.checked_mul(1024),
        _ => None,
    }
}

/// Something that holds memory it can rebuild later (a media cache, a
/// contact cache…) and drops it when asked.
pub trait CacheShedder: Send + Sync {
    /// For the log line.
    fn name(&self) -> &str;
    /// Drops what can be rebuilt; returns about how many bytes it freed.
    fn shed(&self) -> u64;
}

/// A shedder made of a name and a closure.
struct FnShedder<F> {
    name: &'static str,
    shed: F,
}

impl<F: Fn() -> u64 + Send + Sync> CacheShedder for FnShedder<F> {
    fn name(&self) -> &str {
        self.name
    }

    fn shed(&self) -> u64 {
        (self.shed)()
    }
}

/// What one round of shedding gave back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShedReport {
    /// (shedder name, bytes it says it freed), in registration order.
    pub freed: Vec<(String, u64)>,
    pub total_bytes: u64,
}

/// The registered shedders. Clones share the list, so a cache can
/// register itself wherever it is built.
#[derive(Clone, Default)]
pub struct ShedHooks {
    hooks: Arc<Mutex<Vec<Arc<dyn CacheShedder>>>>,
}

impl std::fmt::Debug for ShedHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShedHooks")
            .field("hooks", &self.len())
            .finish()
    }
}

impl ShedHooks {
    pub fn new() -> ShedHooks {
        ShedHooks::default()
    }

    pub fn register(&self, shedder: Arc<dyn CacheShedder>) {
        self.hooks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(shedder);
    }

    pub fn register_fn(&self, name: &'static str, shed: impl Fn() -> u64 + Send + Sync + 'static) {
        self.register(Arc::new(FnShedder { name, shed }));
    }

    pub fn len(&self) -> usize {
        self.hooks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Asks every shedder to give memory back (the keeper's `ShedCaches`).
    pub fn shed_all(&self) -> ShedReport {
        // Called outside the lock, so a shedder may register another.
        let hooks: Vec<Arc<dyn CacheShedder>> = self
            .hooks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let mut report = ShedReport::default();
        for hook in hooks {
            let bytes = hook.shed();
            report.total_bytes = report.total_bytes.saturating_add(bytes);
            report.freed.push((hook.name().to_owned(), bytes));
        }
        tracing::info!(
            shedders = report.freed.len(),
            freed_bytes = report.total_bytes,
            "caches shed"
        );
        report
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    const STATUS: &str =
        "Name:\tblacksky\nVmPeak:\t  120000 kB\nVmRSS:\t   15360 kB\nRssAnon:\t    9000 kB\n";

    #[test]
    fn vm_rss_is_read_in_bytes() {
        assert_eq!(parse_vm_rss_bytes(STATUS), Some(15_360 * 1024));
    }

    #[test]
    fn malformed_status_gives_nothing() {
        for bad in [
            "",
            "VmRSS:\n",
            "VmRSS:\tlots kB\n",
            "VmRSS:\t15360 MB\n",
            "VmRSS:\t15360\n",
            "VmRSSX 1 kB\n",
            "VmRSS:\t99999999999999999999 kB\n",
        ] {
            assert_eq!(parse_vm_rss_bytes(bad), None, "{bad:?}");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_some_resident_memory() {
        let rss = read_rss_bytes().expect("linux has /proc/self/status");
        assert!(rss > 1024 * 1024, "{rss}");
        assert_eq!(sample_rss_bytes().map(|b| b > 0), Some(true));
    }

    #[test]
    fn every_hook_runs_and_the_report_adds_up() {
        let hooks = ShedHooks::new();
        assert!(hooks.is_empty());
        let calls = Arc::new(AtomicU64::new(0));
        let seen = Arc::clone(&calls);
        hooks.register_fn("media", move || {
            seen.fetch_add(1, Ordering::SeqCst);
            4096
        });
        hooks.clone().register_fn("contacts", || 100);
        let report = hooks.shed_all();
        assert_eq!(
            report.freed,
            vec![("media".to_owned(), 4096), ("contacts".to_owned(), 100)]
        );
        assert_eq!(report.total_bytes, 4196);
        hooks.shed_all();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_shedder_may_register_another_without_deadlock() {
        let hooks = ShedHooks::new();
        let inner = hooks.clone();
        hooks.register_fn("registers", move || {
            inner.register_fn("late", || 1);
            0
        });
        assert_eq!(hooks.shed_all().freed.len(), 1);
        assert_eq!(hooks.len(), 2);
    }
}
