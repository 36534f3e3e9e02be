//! The session model: what one linked device is (its credentials and,
//! later, its key stores), as plain values the client changes only through
//! store ops the shell carries out.

mod creds;

pub use creds::{
    AppVersion, Creds, CredsError, KEY_TYPE_DJB, Me, PreKey, SignedPreKey, prefixed_public,
};
