//! Alerts for the operator: what counts as an incident, when it recovered,
//! and the words a person reads. Pure and deterministic: the shell feeds
//! observations with the time, [`Incidents`] emits [`AlertRecord`]s (one
//! when an incident opens, one when it recovers), and the shell makes them
//! durable and posts them.

mod incidents;
mod owner;
mod record;

pub use incidents::{IncidentConfig, Incidents, Link, Observation};
pub use owner::owner_text;
pub use record::{AlertRecord, IncidentKind, OpenIncident, Phase};
