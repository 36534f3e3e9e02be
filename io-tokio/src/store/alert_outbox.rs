//! The alert outbox (table `alert_outbox`, migration 0007): alerts stay
//! until the webhook took them, so a process that dies first leaves them
//! to the next one; and the incidents still open, so a restart neither
//! repeats an alert nor forgets its recovery. SQLite, PostgreSQL and the
//! memory store implement it; [`super::Store::alert_outbox`] hands out a
//! handle on the same database.

use std::future::Future;

use blacksky_core::alerts::{AlertRecord, IncidentKind, OpenIncident, Phase};
use blacksky_core::time::UnixMillis;
use sqlx::Row;

use super::{AnyStore, Backlog, MemoryStore, PgStore, SqliteStore, Store, StoreError};

/// Sent rows older than this are deleted as new ones come in.
pub const ALERTS_KEPT_MS: u64 = 30 * 24 * 3_600_000;

/// An alert as the outbox holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRow {
    /// The row's number (0 before it is stored).
    pub seq: i64,
    pub record: AlertRecord,
    /// Failed deliveries so far.
    pub attempts: u32,
    pub next_attempt_at: UnixMillis,
    pub sent_at: Option<UnixMillis>,
}

impl AlertRow {
    /// A new row, due at once; `sent_at` is set when there is nowhere to
    /// send it (no ALERT_WEBHOOK_URL: the row only records the incident).
    pub fn new(record: AlertRecord, sent_at: Option<UnixMillis>) -> AlertRow {
        AlertRow {
            seq: 0,
            next_attempt_at: record.at,
            record,
            attempts: 0,
            sent_at,
        }
    }
}

/// What became of one delivery attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Sent { at: UnixMillis },
    Retry { attempts: u32, next_at: UnixMillis },
}

/// The outbox's operations, one transaction each.
pub trait AlertOutbox: Send + 'static {
    /// Stores `row` unless that incident's phase is stored already; also
    /// deletes sent rows older than [`ALERTS_KEPT_MS`].
    fn put_alert(&mut self, row: &AlertRow) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The oldest `limit` unsent rows, oldest first, due or not: they are
    /// delivered in this order, and one not yet due holds back those after
    /// it (a recovery never arrives before its incident).
    fn unsent_alerts(
        &mut self,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<AlertRow>, StoreError>> + Send;

    fn alert_delivery(
        &mut self,
        seq: i64,
        delivery: Delivery,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Incidents with an "opened" row and no "recovered" one.
    fn open_incidents(
        &mut self,
    ) -> impl Future<Output = Result<Vec<OpenIncident>, StoreError>> + Send;

    fn alert_backlog(&mut self) -> impl Future<Output = Result<Backlog, StoreError>> + Send;

    /// Every row, oldest first (tools and tests).
    fn alerts(&mut self) -> impl Future<Output = Result<Vec<AlertRow>, StoreError>> + Send;
}

fn db(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Db { what, source }
}

fn millis(value: i64) -> UnixMillis {
    UnixMillis(u64::try_from(value).unwrap_or(0))
}

fn sql_millis(value: UnixMillis) -> i64 {
    i64::try_from(value.as_millis()).unwrap_or(i64::MAX)
}

fn corrupt(field: &str, value: &str) -> StoreError {
    StoreError::Corrupt {
        what: "alert_outbox row".to_owned(),
        detail: format!("unknown {field} {value:?}"),
    }
}

const COLUMNS: &str =
    "seq, kind, phase, detail, opened_at, created_at, attempts, next_attempt_at, sent_at";

/// A row as [`COLUMNS`] selects it.
fn alert_row<R: Row>(row: &R) -> Result<AlertRow, StoreError>
where
    usize: sqlx::ColumnIndex<R>,
    i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i32: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let what = "reading the alert outbox";
    let kind: String = row.try_get(1).map_err(db(what))?;
    let phase: String = row.try_get(2).map_err(db(what))?;
    let kind = IncidentKind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?;
    let phase = Phase::parse(&phase).ok_or_else(|| corrupt("phase", &phase))?;
    Ok(AlertRow {
        seq: row.try_get(0).map_err(db(what))?,
        record: AlertRecord {
            incident: OpenIncident {
                kind,
                opened_at: millis(row.try_get(4).map_err(db(what))?),
            },
            phase,
            at: millis(row.try_get(5).map_err(db(what))?),
            detail: row.try_get(3).map_err(db(what))?,
        },
        attempts: u32::try_from(row.try_get::<i32, _>(6).map_err(db(what))?).unwrap_or(0),
        next_attempt_at: millis(row.try_get(7).map_err(db(what))?),
        sent_at: row
            .try_get::<Option<i64>, _>(8)
            .map_err(db(what))?
            .map(millis),
    })
}

macro_rules! sql_outbox {
    ($store:ty) => {
        impl AlertOutbox for $store {
            async fn put_alert(&mut self, row: &AlertRow) -> Result<(), StoreError> {
                let what = "storing an alert";
                let session = self.session_name().to_owned();
                let record = &row.record;
                let mut tx = self.pool().begin().await.map_err(db(what))?;
                sqlx::query(
                    "INSERT INTO alert_outbox (session, incident, kind, phase, detail, opened_at, \
                     created_at, attempts, next_attempt_at, sent_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                     ON CONFLICT (session, incident, phase) DO NOTHING",
                )
                .bind(&session)
                .bind(record.incident.id())
                .bind(record.incident.kind.as_str())
                .bind(record.phase.as_str())
                .bind(&record.detail)
                .bind(sql_millis(record.incident.opened_at))
                .bind(sql_millis(record.at))
                .bind(i32::try_from(row.attempts).unwrap_or(i32::MAX))
                .bind(sql_millis(row.next_attempt_at))
                .bind(row.sent_at.map(sql_millis))
                .execute(&mut *tx)
                .await
                .map_err(db(what))?;
                let horizon = record.at.as_millis().saturating_sub(ALERTS_KEPT_MS);
                sqlx::query(
                    "DELETE FROM alert_outbox WHERE session = $1 AND sent_at IS NOT NULL \
                     AND created_at < $2",
                )
                .bind(&session)
                .bind(sql_millis(UnixMillis(horizon)))
                .execute(&mut *tx)
                .await
                .map_err(db(what))?;
                tx.commit().await.map_err(db(what))
            }

            async fn unsent_alerts(&mut self, limit: u32) -> Result<Vec<AlertRow>, StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM alert_outbox WHERE session = $1 AND sent_at IS NULL \
                     ORDER BY seq LIMIT $2"
                ))
                .bind(self.session_name())
                .bind(i64::from(limit))
                .fetch_all(self.pool())
                .await
                .map_err(db("reading due alerts"))?;
                rows.iter().map(alert_row).collect()
            }

            async fn alert_delivery(
                &mut self,
                seq: i64,
                delivery: Delivery,
            ) -> Result<(), StoreError> {
                let query = match delivery {
                    Delivery::Sent { at } => sqlx::query(
                        "UPDATE alert_outbox SET sent_at = $3 WHERE session = $1 AND seq = $2",
                    )
                    .bind(self.session_name())
                    .bind(seq)
                    .bind(sql_millis(at)),
                    Delivery::Retry { attempts, next_at } => sqlx::query(
                        "UPDATE alert_outbox SET attempts = $3, next_attempt_at = $4 \
                         WHERE session = $1 AND seq = $2",
                    )
                    .bind(self.session_name())
                    .bind(seq)
                    .bind(i32::try_from(attempts).unwrap_or(i32::MAX))
                    .bind(sql_millis(next_at)),
                };
                query
                    .execute(self.pool())
                    .await
                    .map_err(db("recording an alert delivery"))?;
                Ok(())
            }

            async fn open_incidents(&mut self) -> Result<Vec<OpenIncident>, StoreError> {
                let what = "reading open incidents";
                let rows = sqlx::query(
                    "SELECT kind, opened_at FROM alert_outbox a WHERE session = $1 \
                     AND phase = 'opened' AND NOT EXISTS (SELECT 1 FROM alert_outbox b \
                     WHERE b.session = a.session AND b.incident = a.incident \
                     AND b.phase = 'recovered') ORDER BY seq",
                )
                .bind(self.session_name())
                .fetch_all(self.pool())
                .await
                .map_err(db(what))?;
                rows.iter()
                    .map(|row| {
                        let kind: String = row.try_get(0).map_err(db(what))?;
                        Ok(OpenIncident {
                            kind: IncidentKind::parse(&kind)
                                .ok_or_else(|| corrupt("kind", &kind))?,
                            opened_at: millis(row.try_get(1).map_err(db(what))?),
                        })
                    })
                    .collect()
            }

            async fn alert_backlog(&mut self) -> Result<Backlog, StoreError> {
                self.backlog("alert_outbox", "counting unsent alerts").await
            }

            async fn alerts(&mut self) -> Result<Vec<AlertRow>, StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM alert_outbox WHERE session = $1 ORDER BY seq"
                ))
                .bind(self.session_name())
                .fetch_all(self.pool())
                .await
                .map_err(db("reading the alert outbox"))?;
                rows.iter().map(alert_row).collect()
            }
        }
    };
}

sql_outbox!(SqliteStore);
sql_outbox!(PgStore);

impl AlertOutbox for MemoryStore {
    async fn put_alert(&mut self, row: &AlertRow) -> Result<(), StoreError> {
        self.with_alerts(|alerts, next_seq| {
            let id = row.record.incident.id();
            let exists = alerts
                .iter()
                .any(|a| a.record.incident.id() == id && a.record.phase == row.record.phase);
            if !exists {
                *next_seq += 1;
                alerts.push(AlertRow {
                    seq: *next_seq,
                    ..row.clone()
                });
            }
            let horizon = row.record.at.as_millis().saturating_sub(ALERTS_KEPT_MS);
            alerts.retain(|a| a.sent_at.is_none() || a.record.at.as_millis() >= horizon);
        })
    }

    async fn unsent_alerts(&mut self, limit: u32) -> Result<Vec<AlertRow>, StoreError> {
        self.with_alerts(|alerts, _| {
            alerts
                .iter()
                .filter(|a| a.sent_at.is_none())
                .take(limit as usize)
                .cloned()
                .collect()
        })
    }

    async fn alert_delivery(&mut self, seq: i64, delivery: Delivery) -> Result<(), StoreError> {
        self.with_alerts(|alerts, _| {
            if let Some(row) = alerts.iter_mut().find(|a| a.seq == seq) {
                match delivery {
                    Delivery::Sent { at } => row.sent_at = Some(at),
                    Delivery::Retry { attempts, next_at } => {
                        row.attempts = attempts;
                        row.next_attempt_at = next_at;
                    }
                }
            }
        })
    }

    async fn open_incidents(&mut self) -> Result<Vec<OpenIncident>, StoreError> {
        self.with_alerts(|alerts, _| {
            alerts
                .iter()
                .filter(|a| a.record.phase == Phase::Opened)
                .filter(|a| {
                    !alerts.iter().any(|b| {
                        b.record.phase == Phase::Recovered && b.record.incident == a.record.incident
                    })
                })
                .map(|a| a.record.incident.clone())
                .collect()
        })
    }

    async fn alert_backlog(&mut self) -> Result<Backlog, StoreError> {
        self.with_alerts(|alerts, _| {
            let unsent: Vec<&AlertRow> = alerts.iter().filter(|a| a.sent_at.is_none()).collect();
            Backlog {
                unsent: unsent.len() as u64,
                oldest_at: unsent.iter().map(|a| a.record.at).min(),
            }
        })
    }

    async fn alerts(&mut self) -> Result<Vec<AlertRow>, StoreError> {
        self.with_alerts(|alerts, _| alerts.clone())
    }
}

macro_rules! dispatch {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            AnyStore::Sqlite($s) => $call.await,
            AnyStore::Postgres($s) => $call.await,
            AnyStore::Memory($s) => $call.await,
        }
    };
}

impl AlertOutbox for AnyStore {
    async fn put_alert(&mut self, row: &AlertRow) -> Result<(), StoreError> {
        dispatch!(self, s => s.put_alert(row))
    }

    async fn unsent_alerts(&mut self, limit: u32) -> Result<Vec<AlertRow>, StoreError> {
        dispatch!(self, s => s.unsent_alerts(limit))
    }

    async fn alert_delivery(&mut self, seq: i64, delivery: Delivery) -> Result<(), StoreError> {
        dispatch!(self, s => s.alert_delivery(seq, delivery))
    }

    async fn open_incidents(&mut self) -> Result<Vec<OpenIncident>, StoreError> {
        dispatch!(self, s => s.open_incidents())
    }

    async fn alert_backlog(&mut self) -> Result<Backlog, StoreError> {
        dispatch!(self, s => s.alert_backlog())
    }

    async fn alerts(&mut self) -> Result<Vec<AlertRow>, StoreError> {
        dispatch!(self, s => s.alerts())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryDb;

    /// The memory store keeps the SQL stores' promises (those are in
    /// `tests/store_support`: stored once, in order, open until recovered).
    #[tokio::test]
    async fn the_memory_outbox_stores_once_in_order_and_tracks_open_incidents() {
        let mut store = MemoryStore::new(MemoryDb::new(), "s");
        let incident = OpenIncident {
            kind: IncidentKind::StoreDown,
            opened_at: UnixMillis(1_000),
        };
        let record = |phase, at| AlertRecord {
            incident: incident.clone(),
            phase,
            at: UnixMillis(at),
            detail: String::new(),
        };
        for _ in 0..3 {
            store
                .put_alert(&AlertRow::new(record(Phase::Opened, 1_000), None))
                .await
                .expect("put");
        }
        assert_eq!(
            store.open_incidents().await.expect("open"),
            std::slice::from_ref(&incident)
        );
        store
            .put_alert(&AlertRow::new(record(Phase::Recovered, 9_000), None))
            .await
            .expect("put");
        assert!(store.open_incidents().await.expect("open").is_empty());
        let unsent = store.unsent_alerts(10).await.expect("unsent");
        assert_eq!(
            unsent.iter().map(|r| r.record.phase).collect::<Vec<_>>(),
            [Phase::Opened, Phase::Recovered]
        );
        store
            .alert_delivery(
                unsent[0].seq,
                Delivery::Sent {
                    at: UnixMillis(2_000),
                },
            )
            .await
            .expect("sent");
        let backlog = store.alert_backlog().await.expect("backlog");
        assert_eq!(
            (backlog.unsent, backlog.oldest_at),
            (1, Some(UnixMillis(9_000)))
        );
    }
}
