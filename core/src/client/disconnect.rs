//! Why a connection ended, as one enum with the protocol's codes. The
//! keeper decides what to do about each; this only names them.

use std::fmt;

use super::Violation;

/// The reason a connection closed. `code()` gives the number WhatsApp (and
/// every Baileys-based bot's logs) use for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// 401: the device was removed from the phone; pair again.
    LoggedOut,
    /// 403: the account may not use this client (banned or blocked).
    Forbidden,
    /// 405: the client version is too old; refresh it and retry.
    ClientOutdated,
    /// 408: the QR refs ran out, or a request timed out.
    TimedOut,
    /// 411: multi-device mismatch.
    MultideviceMismatch,
    /// 428: the socket closed (or went silent and we gave up on it).
    ConnectionClosed,
    /// 440: another client took over this session.
    Replaced,
    /// 500: the server considers the session bad.
    BadSession,
    /// 503: the service is unavailable.
    Unavailable,
    /// 515: the server asks for an immediate reconnect (after pairing).
    RestartRequired,
    /// Keepalive saw nothing from the server for too long (reported as 428
    /// by Baileys; kept apart here so the log says what happened).
    KeepaliveTimeout,
    /// The server sent bytes we could not accept.
    ProtocolViolation(Violation),
    /// A 401 at login for creds stored at pair-success whose login never
    /// completed (a crash between storing the pairing and the server
    /// getting our confirmation): the server never knew this device. The
    /// client unlinked the creds (same keys); reconnect at once to link
    /// again. Not a logout: nobody removed anything.
    LinkUnfinished,
    /// The store refused a batch that moved end-to-end state on (its queue
    /// was full): this connection's keys are ahead of what the store will
    /// hold, so it ends, and the next one starts from the store's.
    StoreRefused,
    /// Any other code the server sends.
    Other(u16),
}

impl DisconnectReason {
    /// Maps a `stream:error code` or `failure reason` number.
    pub fn from_code(code: u16) -> Self {
        match code {
            401 => Self::LoggedOut,
            403 => Self::Forbidden,
            405 => Self::ClientOutdated,
            408 => Self::TimedOut,
            411 => Self::MultideviceMismatch,
            428 => Self::ConnectionClosed,
            440 => Self::Replaced,
            500 => Self::BadSession,
            503 => Self::Unavailable,
            515 => Self::RestartRequired,
            other => Self::Other(other),
        }
    }

    /// The protocol number for this reason.
    pub fn code(&self) -> u16 {
        match self {
            Self::LoggedOut | Self::LinkUnfinished => 401,
            Self::Forbidden => 403,
            Self::ClientOutdated => 405,
            Self::TimedOut => 408,
            Self::MultideviceMismatch => 411,
            Self::ConnectionClosed | Self::KeepaliveTimeout => 428,
            Self::Replaced => 440,
            Self::BadSession | Self::ProtocolViolation(_) => 500,
            Self::Unavailable | Self::StoreRefused => 503,
            Self::RestartRequired => 515,
            Self::Other(code) => *code,
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = self.code();
        match self {
            Self::LoggedOut => write!(f, "{code} logged out"),
            Self::Forbidden => write!(f, "{code} forbidden"),
            Self::ClientOutdated => write!(f, "{code} client outdated"),
            Self::TimedOut => write!(f, "{code} timed out"),
            Self::MultideviceMismatch => write!(f, "{code} multi-device mismatch"),
            Self::ConnectionClosed => write!(f, "{code} connection closed"),
            Self::KeepaliveTimeout => write!(f, "{code} keepalive timeout"),
            Self::Replaced => write!(f, "{code} replaced by another client"),
            Self::BadSession => write!(f, "{code} bad session"),
            Self::Unavailable => write!(f, "{code} service unavailable"),
            Self::RestartRequired => write!(f, "{code} restart required"),
            Self::ProtocolViolation(what) => write!(f, "{code} protocol violation: {what}"),
            Self::LinkUnfinished => write!(f, "{code} linking never completed: linking again"),
            Self::StoreRefused => write!(f, "{code} the store refused a key write: reconnecting"),
            Self::Other(_) => write!(f, "{code} unknown"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_code_round_trips() {
        for code in [401, 403, 405, 408, 411, 428, 440, 500, 503, 515, 499] {
            assert_eq!(DisconnectReason::from_code(code).code(), code);
        }
    }
}
