//! JIDs in the stable JSON of actions and settings: their text form
//! (`491556123456@s.whatsapp.net`), read back with [`Jid::parse`].

use blacksky_core::wire::binary::Jid;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serializer};

pub fn serialize<S: Serializer>(jid: &Jid, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(jid)
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Jid, D::Error> {
    let text = String::deserialize(deserializer)?;
    Jid::parse(&text).ok_or_else(|| D::Error::custom("a JID (user@server) was expected"))
}

/// A list of JIDs, each in its text form.
pub mod list {
    use super::{Deserialize, Deserializer, Jid, Serializer};
    use serde::de::Error as _;
    use serde::ser::SerializeSeq as _;

    pub fn serialize<S: Serializer>(jids: &[Jid], serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(jids.len()))?;
        for jid in jids {
            seq.serialize_element(&jid.to_string())?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Jid>, D::Error> {
        Vec::<String>::deserialize(deserializer)?
            .iter()
            .map(|text| {
                Jid::parse(text).ok_or_else(|| D::Error::custom("a JID (user@server) was expected"))
            })
            .collect()
    }
}

/// An optional JID.
pub mod option {
    use super::{Deserialize, Deserializer, Jid, Serializer};
    use serde::de::Error as _;

    pub fn serialize<S: Serializer>(jid: &Option<Jid>, serializer: S) -> Result<S::Ok, S::Error> {
        match jid {
            Some(jid) => serializer.collect_str(jid),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Jid>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|text| {
                Jid::parse(&text)
                    .ok_or_else(|| D::Error::custom("a JID (user@server) was expected"))
            })
            .transpose()
    }
}
