//! JIDs ("Jabber ids": `user[:device]@server`) as the wire carries them.
//! Each variant is one wire form, so a decoded JID re-encodes to the
//! bytes it came from.

use std::fmt;

use super::str::Str;

/// A JID value. Text form (what [`Jid::parse`] reads and `Display`
/// writes) follows Baileys: `user@server`, `@server` for an empty user,
/// `user:device@server` for a device, `user_agent:device@s.whatsapp.net`
/// for a device with an unnamed domain byte, and
/// `integrator-user:device@server` for interop.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Jid {
    /// `JID_PAIR`: a user (or none) at a server. No device part.
    Pair { user: Str, server: Str },
    /// `AD_JID`: one device of a user. The domain byte names the server:
    /// see the `DOMAIN_*` constants; other values are kept as they came
    /// (Baileys reads them as `s.whatsapp.net` with an agent).
    Device { user: Str, domain: u8, device: u8 },
    /// `FB_JID`: a Messenger user's device (server `msgr`).
    Fb { user: Str, device: u16, server: Str },
    /// `INTEROP_JID`: a user of an interop integrator (server `interop`).
    Interop {
        user: Str,
        device: u16,
        integrator: u16,
        server: Str,
    },
}

impl Jid {
    /// `AD_JID` domain of `s.whatsapp.net` (phone-number users).
    pub const DOMAIN_WHATSAPP: u8 = 0;
    /// `AD_JID` domain of `lid` (linked-identity users).
    pub const DOMAIN_LID: u8 = 1;
    /// `AD_JID` domain of `hosted`.
    pub const DOMAIN_HOSTED: u8 = 128;
    /// `AD_JID` domain of `hosted.lid`.
    pub const DOMAIN_HOSTED_LID: u8 = 129;

    /// `user@server`, no device.
    #[must_use]
    pub fn new(user: impl Into<Str>, server: impl Into<Str>) -> Jid {
        Jid::Pair {
            user: user.into(),
            server: server.into(),
        }
    }

    /// A server on its own, e.g. `@s.whatsapp.net`, the `to` of most iqs
    /// (written as `JID_PAIR` with an empty user, as Baileys does).
    #[must_use]
    pub fn at(server: impl Into<Str>) -> Jid {
        Jid::new(Str::EMPTY, server)
    }

    /// Device `device` of `user` in `domain` (a `DOMAIN_*` constant).
    #[must_use]
    pub fn ad(user: impl Into<Str>, domain: u8, device: u8) -> Jid {
        Jid::Device {
            user: user.into(),
            domain,
            device,
        }
    }

    /// The user part ("" when there is none).
    #[must_use]
    pub fn user(&self) -> &str {
        match self {
            Jid::Pair { user, .. }
            | Jid::Device { user, .. }
            | Jid::Fb { user, .. }
            | Jid::Interop { user, .. } => user,
        }
    }

    /// The server part.
    #[must_use]
    pub fn server(&self) -> &str {
        match self {
            Jid::Pair { server, .. } | Jid::Fb { server, .. } | Jid::Interop { server, .. } => {
                server
            }
            Jid::Device { domain, .. } => domain_server(*domain),
        }
    }

    /// The device, for the forms that have one.
    #[must_use]
    pub fn device(&self) -> Option<u16> {
        match self {
            Jid::Pair { .. } => None,
            Jid::Device { device, .. } => Some(u16::from(*device)),
            Jid::Fb { device, .. } | Jid::Interop { device, .. } => Some(*device),
        }
    }

    /// Parses the text form (see the type docs). `None` for text that is
    /// not a JID, and for JIDs no wire form can carry without loss (a
    /// device on a server with no domain byte, say `1:2@g.us`): Baileys
    /// would write those as `AD_JID` of `s.whatsapp.net`, changing them.
    #[must_use]
    pub fn parse(text: &str) -> Option<Jid> {
        let (user_part, server) = text.split_once('@')?;
        if server.is_empty() || server.contains('@') {
            return None;
        }
        let Some((user, device)) = user_part.split_once(':') else {
            return Some(Jid::new(Str::copy_from(user_part), Str::copy_from(server)));
        };
        let device = decimal(device)?;
        if server == "interop" {
            let (integrator, user) = user.split_once('-')?;
            return Some(Jid::Interop {
                user: Str::copy_from(user),
                device: u16::try_from(device).ok()?,
                integrator: u16::try_from(decimal(integrator)?).ok()?,
                server: Str::from_static("interop"),
            });
        }
        if server == "msgr" {
            return Some(Jid::Fb {
                user: Str::copy_from(user),
                device: u16::try_from(device).ok()?,
                server: Str::from_static("msgr"),
            });
        }
        let device = u8::try_from(device).ok()?;
        let (user, domain) = match server {
            "s.whatsapp.net" => match user.split_once('_').map(|(u, a)| (u, decimal(a))) {
                Some((u, Some(agent)))
                    if u8::try_from(agent).is_ok_and(|a| domain_name(a).is_none()) =>
                {
                    (u, u8::try_from(agent).ok()?)
                }
                _ => (user, Jid::DOMAIN_WHATSAPP),
            },
            "lid" => (user, Jid::DOMAIN_LID),
            "hosted" => (user, Jid::DOMAIN_HOSTED),
            "hosted.lid" => (user, Jid::DOMAIN_HOSTED_LID),
            _ => return None,
        };
        Some(Jid::ad(Str::copy_from(user), domain, device))
    }
}

/// The server an interop JID implies when the wire leaves it out.
pub(super) const INTEROP_SERVER: &str = "interop";

/// The server a known domain byte names.
pub(super) fn domain_name(domain: u8) -> Option<&'static str> {
    match domain {
        Jid::DOMAIN_WHATSAPP => Some("s.whatsapp.net"),
        Jid::DOMAIN_LID => Some("lid"),
        Jid::DOMAIN_HOSTED => Some("hosted"),
        Jid::DOMAIN_HOSTED_LID => Some("hosted.lid"),
        _ => None,
    }
}

/// The server of a domain byte; unnamed ones are phone-number agents.
pub(super) fn domain_server(domain: u8) -> &'static str {
    domain_name(domain).unwrap_or("s.whatsapp.net")
}

/// A canonical decimal (no sign, no leading zero) up to `u32::MAX`, so
/// that parse and display are inverses.
fn decimal(s: &str) -> Option<u32> {
    let canonical = !s.is_empty()
        && s.len() <= 10
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    if canonical { s.parse().ok() } else { None }
}

/// What a JID's text form writes around its user and server,
/// `{prefix}{user}{infix}{server}`: shared by [`Jid`]'s `Display` and the
/// decoder, which writes the text of a JID that arrives where a string
/// goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Shape {
    Pair,
    Device { domain: u8, device: u8 },
    Fb { device: u16 },
    Interop { device: u16, integrator: u16 },
}

impl Shape {
    pub(super) fn write_prefix(self, w: &mut impl fmt::Write) -> fmt::Result {
        match self {
            Shape::Interop { integrator, .. } => write!(w, "{integrator}-"),
            _ => Ok(()),
        }
    }

    pub(super) fn write_infix(self, w: &mut impl fmt::Write) -> fmt::Result {
        match self {
            Shape::Pair => w.write_str("@"),
            Shape::Device { domain, device } => match domain_name(domain) {
                Some(_) => write!(w, ":{device}@"),
                None => write!(w, "_{domain}:{device}@"),
            },
            Shape::Fb { device } | Shape::Interop { device, .. } => write!(w, ":{device}@"),
        }
    }
}

impl Jid {
    fn shape(&self) -> Shape {
        match self {
            Jid::Pair { .. } => Shape::Pair,
            Jid::Device { domain, device, .. } => Shape::Device {
                domain: *domain,
                device: *device,
            },
            Jid::Fb { device, .. } => Shape::Fb { device: *device },
            Jid::Interop {
                device, integrator, ..
            } => Shape::Interop {
                device: *device,
                integrator: *integrator,
            },
        }
    }
}

impl fmt::Display for Jid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shape = self.shape();
        shape.write_prefix(f)?;
        f.write_str(self.user())?;
        shape.write_infix(f)?;
        f.write_str(self.server())
    }
}

impl fmt::Debug for Jid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Jid({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> Jid {
        let jid = Jid::parse(text).unwrap_or_else(|| panic!("{text:?} should parse"));
        assert_eq!(jid.to_string(), text);
        jid
    }

    #[test]
    fn text_forms_round_trip() {
        assert_eq!(
            round_trip("491556123456@s.whatsapp.net"),
            Jid::new("491556123456", "s.whatsapp.net")
        );
        assert_eq!(round_trip("@s.whatsapp.net"), Jid::at("s.whatsapp.net"));
        assert_eq!(
            round_trip("491556123400:1@s.whatsapp.net"),
            Jid::ad("491556123400", Jid::DOMAIN_WHATSAPP, 1)
        );
        assert_eq!(round_trip("5:0@lid"), Jid::ad("5", Jid::DOMAIN_LID, 0));
        assert_eq!(
            round_trip("5:9@hosted"),
            Jid::ad("5", Jid::DOMAIN_HOSTED, 9)
        );
        assert_eq!(round_trip("5:9@hosted.lid"), Jid::ad("5", 129, 9));
        assert_eq!(round_trip("5_7:9@s.whatsapp.net"), Jid::ad("5", 7, 9));
        assert_eq!(
            round_trip("120363025246125486@g.us"),
            Jid::new("120363025246125486", "g.us")
        );
        let fb = round_trip("100001:300@msgr");
        assert_eq!(fb.device(), Some(300));
        let interop = round_trip("7-5551234:2@interop");
        assert!(matches!(
            interop,
            Jid::Interop {
                integrator: 7,
                device: 2,
                ..
            }
        ));
        assert_eq!(interop.user(), "5551234");
        assert_eq!(interop.server(), "interop");
    }

    #[test]
    fn rejects_what_would_not_survive() {
        for text in [
            "no-at-sign",
            "user@",
            "a@b@c",
            "1:2@g.us",
            "1:256@s.whatsapp.net",
            "1:01@s.whatsapp.net",
            "1:-1@lid",
            "1:x@lid",
            "1:@lid",
            "x:70000@msgr",
            "5551234:2@interop",
        ] {
            assert_eq!(Jid::parse(text), None, "{text:?}");
        }
        // An underscore that is not a fresh agent stays in the user.
        assert_eq!(
            Jid::parse("a_1:2@s.whatsapp.net"),
            Some(Jid::ad("a_1", 0, 2))
        );
        assert_eq!(
            Jid::parse("a_b@s.whatsapp.net"),
            Some(Jid::new("a_b", "s.whatsapp.net"))
        );
    }
}
