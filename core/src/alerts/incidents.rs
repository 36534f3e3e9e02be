//! The incident machine: fed what the keeper and the shell see (where the
//! connection stands, the store's health, the keeper's alerts), it decides
//! what is an incident and when it recovered. One alert per incident, not
//! per reconnect: an incident of a kind already open is not opened again,
//! and incidents a previous process left open (read back from the store)
//! are resumed, so a restart neither repeats them nor forgets to recover
//! them. Deadlines are `Instant`s; wall time only stamps the records.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use super::record::{AlertRecord, IncidentKind, OpenIncident, Phase};
use crate::time::UnixMillis;

/// Thresholds, units last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IncidentConfig {
    /// Not online this long (and nothing explains it): an incident.
    pub offline_after_ms: u64,
    /// The store down this long: an incident.
    pub store_down_after_ms: u64,
    /// Standing by after an unexplained 440 this long: someone outside
    /// has the session (a short grace lets the register answer first).
    pub taken_after_ms: u64,
}

impl Default for IncidentConfig {
    fn default() -> Self {
        IncidentConfig {
            offline_after_ms: 5 * 60_000,
            store_down_after_ms: 5 * 60_000,
            taken_after_ms: 15_000,
        }
    }
}

/// Where the connection stands, as the shell reads it off the keeper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Online,
    /// Not online, and nothing excuses it (connecting, backing off,
    /// waiting for a pairing, given up).
    Offline,
    /// Not online on purpose: standing by for a newer process of this
    /// session, or shutting down.
    Excused,
    /// Standing by after a 440 no process of this store explains.
    TakenOutside,
}

/// What the shell tells the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    Link(Link),
    Store {
        up: bool,
    },
    /// The keeper's `NeedsPairing` (401, 403).
    LoggedOut {
        code: u16,
    },
    /// The keeper's `GaveUp`.
    ReconnectsExhausted {
        attempts: u32,
    },
    /// The keeper's `PlannedRestart` (memory over the limit).
    MemoryRestart {
        rss_bytes: u64,
    },
    /// The start was refused; `why` names the unreadable records.
    RefusedStart {
        why: String,
    },
}

/// The machine. See the module docs.
#[derive(Debug)]
pub struct Incidents {
    config: IncidentConfig,
    /// At most one per kind: bounded by the number of kinds.
    open: BTreeMap<IncidentKind, OpenIncident>,
    link: Link,
    link_since: Instant,
    store_down_since: Option<Instant>,
    /// Drained by the shell after every step; a step emits at most one
    /// record per kind.
    outputs: VecDeque<AlertRecord>,
}

impl Incidents {
    /// A machine for a process that starts at `now`, not online yet, with
    /// the incidents earlier processes left open.
    pub fn new(config: IncidentConfig, now: Instant, resumed: Vec<OpenIncident>) -> Incidents {
        let mut open = BTreeMap::new();
        for incident in resumed {
            let kept = open
                .entry(incident.kind)
                .or_insert_with(|| incident.clone());
            if incident.opened_at < kept.opened_at {
                *kept = incident;
            }
        }
        Incidents {
            config,
            open,
            link: Link::Offline,
            link_since: now,
            store_down_since: None,
            outputs: VecDeque::new(),
        }
    }

    /// The incidents open now, by kind.
    pub fn open_incidents(&self) -> impl Iterator<Item = &OpenIncident> {
        self.open.values()
    }

    pub fn handle(&mut self, now: Instant, wall: UnixMillis, observation: Observation) {
        match observation {
            Observation::Link(link) => {
                if link != self.link {
                    self.link = link;
                    self.link_since = now;
                    if link == Link::Online {
                        let kinds: Vec<IncidentKind> = self
                            .open
                            .keys()
                            .copied()
                            .filter(|k| *k != IncidentKind::StoreDown)
                            .collect();
                        for kind in kinds {
                            self.recover(kind, wall, "online again".to_owned());
                        }
                    }
                }
            }
            Observation::Store { up: true } => {
                self.store_down_since = None;
                self.recover(
                    IncidentKind::StoreDown,
                    wall,
                    "the store answers again".to_owned(),
                );
            }
            Observation::Store { up: false } => {
                self.store_down_since.get_or_insert(now);
            }
            Observation::LoggedOut { code } => self.open(
                IncidentKind::LoggedOut,
                wall,
                format!("WhatsApp closed the session with {code}: link this device again on the pairing page"),
            ),
            Observation::ReconnectsExhausted { attempts } => self.open(
                IncidentKind::ReconnectsExhausted,
                wall,
                format!("no connection after {attempts} attempts: the process exits and the host starts it again"),
            ),
            Observation::MemoryRestart { rss_bytes } => self.open(
                IncidentKind::MemoryRestart,
                wall,
                format!(
                    "resident memory {} MiB stayed over the limit: restarting",
                    rss_bytes / (1024 * 1024)
                ),
            ),
            Observation::RefusedStart { why } => self.open(IncidentKind::RefusedStart, wall, why),
        }
        self.check(now, wall);
    }

    pub fn handle_timeout(&mut self, now: Instant, wall: UnixMillis) {
        self.check(now, wall);
    }

    /// When a threshold next runs out, if one is running.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.offline_deadline(),
            self.taken_deadline(),
            self.store_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    #[must_use]
    pub fn poll_output(&mut self) -> Option<AlertRecord> {
        self.outputs.pop_front()
    }

    fn offline_deadline(&self) -> Option<Instant> {
        let explained = self.open.keys().any(|k| k.explains_offline());
        (self.link == Link::Offline
            && !explained
            && !self.open.contains_key(&IncidentKind::Offline))
        .then(|| self.link_since + ms(self.config.offline_after_ms))
    }

    fn taken_deadline(&self) -> Option<Instant> {
        (self.link == Link::TakenOutside && !self.open.contains_key(&IncidentKind::SessionTaken))
            .then(|| self.link_since + ms(self.config.taken_after_ms))
    }

    fn store_deadline(&self) -> Option<Instant> {
        let since = self.store_down_since?;
        (!self.open.contains_key(&IncidentKind::StoreDown))
            .then(|| since + ms(self.config.store_down_after_ms))
    }

    fn check(&mut self, now: Instant, wall: UnixMillis) {
        if self.offline_deadline().is_some_and(|at| now >= at) {
            let detail = format!(
                "not online for {} min",
                now.saturating_duration_since(self.link_since).as_secs() / 60
            );
            self.open(IncidentKind::Offline, wall, detail);
        }
        if self.taken_deadline().is_some_and(|at| now >= at) {
            self.open(
                IncidentKind::SessionTaken,
                wall,
                "a 440 no process of this store explains: someone outside has the session; \
                 standing by (never fighting)"
                    .to_owned(),
            );
        }
        if let Some(at) = self.store_deadline()
            && now >= at
        {
            let since = self.store_down_since.unwrap_or(now);
            let detail = format!(
                "no write committed for {} min; messages wait un-acked",
                now.saturating_duration_since(since).as_secs() / 60
            );
            self.open(IncidentKind::StoreDown, wall, detail);
        }
    }

    fn open(&mut self, kind: IncidentKind, wall: UnixMillis, detail: String) {
        if self.open.contains_key(&kind) {
            return;
        }
        let incident = OpenIncident {
            kind,
            opened_at: wall,
        };
        self.open.insert(kind, incident.clone());
        self.outputs.push_back(AlertRecord {
            incident,
            phase: Phase::Opened,
            at: wall,
            detail,
        });
    }

    fn recover(&mut self, kind: IncidentKind, wall: UnixMillis, detail: String) {
        if let Some(incident) = self.open.remove(&kind) {
            self.outputs.push_back(AlertRecord {
                incident,
                phase: Phase::Recovered,
                at: wall,
                detail,
            });
        }
    }
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WALL0: u64 = 1_735_689_600_000;

    struct Run {
        machine: Incidents,
        t0: Instant,
    }

    impl Run {
        fn new(resumed: Vec<OpenIncident>) -> Run {
            let t0 = Instant::now();
            Run {
                machine: Incidents::new(IncidentConfig::default(), t0, resumed),
                t0,
            }
        }

        fn at(&self, secs: u64) -> (Instant, UnixMillis) {
            (
                self.t0 + Duration::from_secs(secs),
                UnixMillis(WALL0 + secs * 1000),
            )
        }

        fn see(&mut self, secs: u64, observation: Observation) -> Vec<(IncidentKind, Phase)> {
            let (now, wall) = self.at(secs);
            self.machine.handle(now, wall, observation);
            self.drain()
        }

        fn tick(&mut self, secs: u64) -> Vec<(IncidentKind, Phase)> {
            let (now, wall) = self.at(secs);
            self.machine.handle_timeout(now, wall);
            self.drain()
        }

        fn drain(&mut self) -> Vec<(IncidentKind, Phase)> {
            std::iter::from_fn(|| self.machine.poll_output())
                .map(|r| (r.incident.kind, r.phase))
                .collect()
        }
    }

    use IncidentKind as K;
    use Phase::{Opened, Recovered};

    #[test]
    fn offline_past_the_threshold_is_one_incident_however_many_reconnects() {
        let mut run = Run::new(Vec::new());
        assert!(run.see(2, Observation::Link(Link::Online)).is_empty());
        assert!(run.see(10, Observation::Link(Link::Offline)).is_empty());
        assert_eq!(
            run.machine.poll_timeout(),
            Some(run.t0 + Duration::from_secs(310))
        );
        assert!(run.tick(309).is_empty(), "not before the threshold");
        assert_eq!(run.tick(310), [(K::Offline, Opened)]);
        // Reconnect attempts come and go: no second alert.
        for s in 311..400 {
            assert!(run.tick(s).is_empty());
        }
        assert!(run.machine.poll_timeout().is_none());
        assert_eq!(
            run.see(400, Observation::Link(Link::Online)),
            [(K::Offline, Recovered)]
        );
        assert!(run.see(401, Observation::Link(Link::Online)).is_empty());
    }

    #[test]
    fn a_short_outage_is_no_incident() {
        let mut run = Run::new(Vec::new());
        run.see(0, Observation::Link(Link::Online));
        for cycle in 0..10 {
            let s = 1 + cycle * 200;
            run.see(s, Observation::Link(Link::Offline));
            assert!(run.tick(s + 299).is_empty());
            assert!(run.see(s + 299, Observation::Link(Link::Online)).is_empty());
        }
    }

    #[test]
    fn a_logout_is_one_incident_and_explains_the_offline_time() {
        let mut run = Run::new(Vec::new());
        run.see(0, Observation::Link(Link::Online));
        run.see(5, Observation::Link(Link::Offline));
        assert_eq!(
            run.see(5, Observation::LoggedOut { code: 401 }),
            [(K::LoggedOut, Opened)]
        );
        assert!(run.see(6, Observation::LoggedOut { code: 401 }).is_empty());
        assert!(run.tick(3600).is_empty(), "no offline alert beside it");
        assert_eq!(
            run.see(3700, Observation::Link(Link::Online)),
            [(K::LoggedOut, Recovered)]
        );
    }

    #[test]
    fn standing_by_for_our_newer_process_is_no_incident() {
        let mut run = Run::new(Vec::new());
        run.see(0, Observation::Link(Link::Online));
        run.see(5, Observation::Link(Link::Excused));
        assert!(run.tick(10_000).is_empty());
    }

    #[test]
    fn an_unexplained_440_opens_after_the_register_had_its_say() {
        let mut run = Run::new(Vec::new());
        run.see(0, Observation::Link(Link::Online));
        run.see(10, Observation::Link(Link::TakenOutside));
        assert!(run.tick(24).is_empty());
        // The register said "a newer process of ours" in time: nothing.
        run.see(24, Observation::Link(Link::Excused));
        assert!(run.tick(100).is_empty());
        run.see(200, Observation::Link(Link::TakenOutside));
        assert_eq!(run.tick(215), [(K::SessionTaken, Opened)]);
        assert!(run.tick(10_000).is_empty());
        assert_eq!(
            run.see(10_001, Observation::Link(Link::Online)),
            [(K::SessionTaken, Recovered)]
        );
    }

    #[test]
    fn the_store_down_past_the_threshold_recovers_when_it_answers() {
        let mut run = Run::new(Vec::new());
        run.see(0, Observation::Link(Link::Online));
        run.see(10, Observation::Store { up: false });
        // Each sample while down: the first one counts.
        assert!(run.see(100, Observation::Store { up: false }).is_empty());
        assert_eq!(run.tick(310), [(K::StoreDown, Opened)]);
        assert!(run.see(320, Observation::Store { up: false }).is_empty());
        // Coming online does not end a store outage.
        run.see(330, Observation::Link(Link::Offline));
        assert!(run.see(331, Observation::Link(Link::Online)).is_empty());
        assert_eq!(
            run.see(400, Observation::Store { up: true }),
            [(K::StoreDown, Recovered)]
        );
    }

    #[test]
    fn incidents_a_previous_process_left_open_recover_once_and_are_not_repeated() {
        let left = vec![
            OpenIncident {
                kind: K::ReconnectsExhausted,
                opened_at: UnixMillis(WALL0 - 60_000),
            },
            OpenIncident {
                kind: K::MemoryRestart,
                opened_at: UnixMillis(WALL0 - 30_000),
            },
        ];
        let mut run = Run::new(left.clone());
        assert_eq!(run.machine.open_incidents().count(), 2);
        assert!(
            run.see(1, Observation::ReconnectsExhausted { attempts: 3 })
                .is_empty(),
            "already open"
        );
        let recovered = run.see(2, Observation::Link(Link::Online));
        assert_eq!(
            recovered,
            [
                (K::ReconnectsExhausted, Recovered),
                (K::MemoryRestart, Recovered)
            ]
        );
        assert_eq!(run.machine.open_incidents().count(), 0);
    }

    #[test]
    fn the_recovery_names_the_incident_it_ends() {
        let mut run = Run::new(Vec::new());
        run.see(
            1,
            Observation::RefusedStart {
                why: "creds".into(),
            },
        );
        let (now, wall) = run.at(90);
        run.machine
            .handle(now, wall, Observation::Link(Link::Online));
        let record = run.machine.poll_output().expect("recovered");
        assert_eq!(record.phase, Recovered);
        assert_eq!(record.incident.opened_at, UnixMillis(WALL0 + 1000));
        assert_eq!(
            record.incident.id(),
            format!("refused_start-{}", WALL0 + 1000)
        );
        assert!(
            record.headline().contains("after 89 s"),
            "{}",
            record.headline()
        );
    }

    #[test]
    fn the_same_inputs_give_the_same_records() {
        let script = |run: &mut Run| {
            let mut all = Vec::new();
            all.extend(run.see(0, Observation::Link(Link::Online)));
            all.extend(run.see(3, Observation::Link(Link::Offline)));
            all.extend(run.see(4, Observation::Store { up: false }));
            all.extend(run.tick(500));
            all.extend(run.see(501, Observation::MemoryRestart { rss_bytes: 1 << 30 }));
            all.extend(run.see(600, Observation::Link(Link::Online)));
            all.extend(run.see(601, Observation::Store { up: true }));
            all
        };
        let first = script(&mut Run::new(Vec::new()));
        let second = script(&mut Run::new(Vec::new()));
        assert_eq!(first, second);
        assert_eq!(
            first,
            [
                (K::Offline, Opened),
                (K::StoreDown, Opened),
                (K::MemoryRestart, Opened),
                (K::Offline, Recovered),
                (K::MemoryRestart, Recovered),
                (K::StoreDown, Recovered),
            ]
        );
    }
}
