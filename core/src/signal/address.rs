//! Which Signal session a device's messages belong to. A session is kept
//! per device, named `user.device` for phone-number users and
//! `user_<domain>.device` for the other address spaces (`_1` for `@lid`),
//! the naming the Node.js bots use in their stores (a fact, so a store can
//! be read side by side with theirs).

use crate::wire::binary::Jid;

/// The session name of the device `jid` names (device 0 when it names a
/// user). `None` for a JID that is no user's device (a group, a server).
#[must_use]
pub fn device_address(jid: &Jid) -> Option<String> {
    let user = jid.user();
    if user.is_empty() {
        return None;
    }
    let domain = match jid.server() {
        "s.whatsapp.net" | "c.us" => None,
        "lid" => Some(Jid::DOMAIN_LID),
        "hosted" => Some(Jid::DOMAIN_HOSTED),
        "hosted.lid" => Some(Jid::DOMAIN_HOSTED_LID),
        _ => return None,
    };
    let device = jid.device().unwrap_or(0);
    Some(match domain {
        None => format!("{user}.{device}"),
        Some(domain) => format!("{user}_{domain}.{device}"),
    })
}

/// True for a JID in the linked-identity (`@lid`) address space.
#[must_use]
pub fn is_lid(jid: &Jid) -> bool {
    matches!(jid.server(), "lid" | "hosted.lid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_are_named_per_address_space() {
        let pn = Jid::ad("15551234567", Jid::DOMAIN_WHATSAPP, 3);
        assert_eq!(device_address(&pn).as_deref(), Some("15551234567.3"));
        let user = Jid::new("15551234567", "s.whatsapp.net");
        assert_eq!(device_address(&user).as_deref(), Some("15551234567.0"));
        let lid = Jid::ad("987654321", Jid::DOMAIN_LID, 0);
        assert_eq!(device_address(&lid).as_deref(), Some("987654321_1.0"));
        assert!(is_lid(&lid) && !is_lid(&pn));
        assert_eq!(device_address(&Jid::new("1203630001", "g.us")), None);
        assert_eq!(device_address(&Jid::at("s.whatsapp.net")), None);
    }
}
