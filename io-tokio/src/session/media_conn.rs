//! Uploads ask the session for `media_conn` ([`Request::MediaConn`]) as
//! any slow effect asks the server: through [`Asks`], answered by the
//! connection online at the time.

use std::time::Duration;

use blacksky_core::client::ask::{Answer, Request};
use blacksky_core::media::MediaConn;

use crate::media::MediaConnSource;
use crate::session::asks::Asks;

/// How long one `media_conn` may wait for a connection and its answer.
const MEDIA_CONN_WITHIN: Duration = Duration::from_secs(30);

impl MediaConnSource for Asks {
    async fn fetch_media_conn(&self) -> Result<MediaConn, String> {
        match self.ask(Request::MediaConn, MEDIA_CONN_WITHIN).await {
            Ok(Answer::MediaConn(conn)) => Ok(conn),
            Ok(_) => Err("the session answered something other than media_conn".to_owned()),
            Err(failure) => Err(failure.to_string()),
        }
    }
}
