//! A received message as a bot reads it: who sent it where and when (from
//! the stanza's attributes) and what it says (the decrypted `Message`).
//! Built from an inbox row, so what the handler sees is exactly what was
//! committed before the message was acked.

use std::fmt;

use thiserror::Error;

use super::content::Kind;
use super::{Content, ContentError};
use crate::time::UnixMillis;
use crate::wire::binary::{DecodeError, Jid, Node, decode};

/// A message for the bot.
#[derive(Clone, PartialEq, Eq)]
pub struct Incoming {
    /// WhatsApp's id of the message.
    pub id: String,
    /// Where it was written, and where an answer goes: the group, or the
    /// contact for a 1:1 chat.
    pub chat: Jid,
    /// Who wrote it, by phone number and by LID, as far as the stanza says.
    pub sender: Sender,
    /// The name the sender gave themselves (`notify`), if sent.
    pub push_name: Option<String>,
    /// When the sender sent it (whole seconds on the wire).
    pub sent_at: UnixMillis,
    /// It waited on the server while the bot was away.
    pub from_offline_queue: bool,
    /// What it says: text, quote and mentions, media descriptors, a
    /// reaction, …
    pub content: Content,
    /// Written by the linked account itself on another of its devices
    /// (its phone), and copied to this one: `chat` is where it was sent,
    /// `content` what it said. The owner's own commands come so.
    pub from_me: bool,
}

/// A sender's addresses. At least one is set.
#[derive(Clone, PartialEq, Eq)]
pub struct Sender {
    /// `number@s.whatsapp.net` (with the device, as the stanza names it).
    pub pn: Option<Jid>,
    /// `id@lid`, once WhatsApp told it.
    pub lid: Option<Jid>,
}

/// An inbox row that does not make an [`Incoming`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IncomingError {
    #[error("stored stanza: {0}")]
    Stanza(#[from] DecodeError),
    #[error("stored stanza: <message> lacks {0}")]
    Missing(&'static str),
    #[error("stored message: {0}")]
    Content(#[from] ContentError),
}

impl Incoming {
    /// Reads a stored `<message>` stanza (its decrypted frame bytes) and
    /// its decrypted `Message` protobuf.
    pub fn read(stanza: &[u8], message: &[u8]) -> Result<Incoming, IncomingError> {
        let node = decode(stanza)?;
        let id = node.attr("id").ok_or(IncomingError::Missing("id"))?;
        let chat = node
            .attr_jid("from")
            .ok_or(IncomingError::Missing("from"))?;
        let in_group = matches!(chat.server(), "g.us" | "broadcast" | "newsletter");
        let (author, alternates) = if in_group {
            let author = node
                .attr_jid("participant")
                .ok_or(IncomingError::Missing("participant"))?;
            (author, ["participant_lid", "participant_pn"])
        } else {
            (chat.clone(), ["sender_lid", "sender_pn"])
        };
        let content = Content::decode(message)?;
        // Our phone's copy of what it sent: the chat is its destination.
        let (chat, content, from_me) = match content.kind {
            Kind::DeviceSent {
                destination,
                message,
            } if !in_group => match Jid::parse(&destination) {
                Some(to) => (to, *message, true),
                None => return Err(IncomingError::Missing("destination")),
            },
            kind => (chat, Content { kind, ..content }, false),
        };
        Ok(Incoming {
            id: id.to_owned(),
            sender: Sender::of(author, &node, alternates),
            chat,
            push_name: node.attr("notify").map(str::to_owned),
            sent_at: node
                .attr("t")
                .and_then(|t| t.parse::<u64>().ok())
                .map_or(UnixMillis(0), |secs| UnixMillis(secs.saturating_mul(1000))),
            from_offline_queue: node.attr("offline").is_some(),
            content,
            from_me,
        })
    }

    /// True when it is for a person to read (text, media, a reaction),
    /// not only the protocol's (a sender key, a key share, …).
    #[must_use]
    pub fn is_for_the_bot(&self) -> bool {
        use super::content::{Kind, Protocol};
        match &self.content.kind {
            Kind::Text(_) | Kind::Media(_) | Kind::Reaction(_) => true,
            Kind::Protocol(Protocol::Edit { .. } | Protocol::Revoke { .. }) => true,
            Kind::Protocol(_) | Kind::DeviceSent { .. } | Kind::Empty => false,
        }
    }
}

impl Sender {
    fn of(author: Jid, node: &Node, alternates: [&str; 2]) -> Sender {
        let alternate = alternates.iter().find_map(|key| node.attr_jid(key));
        let is_lid = |jid: &Jid| matches!(jid.server(), "lid" | "hosted.lid");
        let (mut pn, mut lid) = (None, None);
        for jid in std::iter::once(author).chain(alternate) {
            let slot = if is_lid(&jid) { &mut lid } else { &mut pn };
            slot.get_or_insert(jid);
        }
        Sender { pn, lid }
    }
}

// Phone numbers and texts stay out of logs: `Debug` shows the id and kind.
impl fmt::Debug for Incoming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Incoming")
            .field("id", &self.id)
            .field("chat_server", &self.chat.server())
            .field("from_offline_queue", &self.from_offline_queue)
            .field("from_me", &self.from_me)
            .field("content", &self.content)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("pn", &self.pn.as_ref().map(|_| "<set>"))
            .field("lid", &self.lid.as_ref().map(|_| "<set>"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::binary::encode;
    use blacksky_proto::wa;
    use prost::Message as _;

    fn stanza(node: Node) -> Vec<u8> {
        encode(&node).expect("encodes")
    }

    fn text(body: &str) -> Vec<u8> {
        wa::Message {
            conversation: Some(body.into()),
            ..Default::default()
        }
        .encode_to_vec()
    }

    #[test]
    fn a_group_message_names_its_group_author_and_time() {
        let node = Node::new("message")
            .with_attr("from", Jid::new("120363000000000001", "g.us"))
            .with_attr("participant", Jid::new("15550001111", "s.whatsapp.net"))
            .with_attr("participant_lid", Jid::new("777000111", "lid"))
            .with_attr("id", "3EB0AA")
            .with_attr("t", "1700000000")
            .with_attr("notify", "Ana")
            .with_attr("offline", "1");
        let incoming = Incoming::read(&stanza(node), &text("hi")).expect("reads");
        assert_eq!(incoming.id, "3EB0AA");
        assert_eq!(incoming.chat.server(), "g.us");
        assert_eq!(
            incoming.sender.pn.as_ref().map(Jid::user),
            Some("15550001111")
        );
        assert_eq!(
            incoming.sender.lid.as_ref().map(Jid::user),
            Some("777000111")
        );
        assert_eq!(incoming.push_name.as_deref(), Some("Ana"));
        assert_eq!(incoming.sent_at, UnixMillis(1_700_000_000_000));
        assert!(incoming.from_offline_queue);
        assert_eq!(incoming.content.text(), Some("hi"));
        assert!(incoming.is_for_the_bot());
        let shown = format!("{incoming:?}");
        assert!(
            !shown.contains("15550001111") && !shown.contains("Ana"),
            "{shown}"
        );
    }

    #[test]
    fn a_stanza_without_a_sender_is_named() {
        let node = Node::new("message").with_attr("id", "1");
        assert_eq!(
            Incoming::read(&stanza(node), &text("x")),
            Err(IncomingError::Missing("from"))
        );
    }

    #[test]
    fn our_phones_copy_is_read_as_written_by_us_in_its_destination_chat() {
        let own = Jid::new("15550009999", "s.whatsapp.net");
        let node = Node::new("message")
            .with_attr("from", own.clone())
            .with_attr("recipient", Jid::new("15550001111", "s.whatsapp.net"))
            .with_attr("id", "DSM1")
            .with_attr("t", "1700000000");
        let copy = wa::Message {
            device_sent_message: Some(Box::new(wa::message::DeviceSentMessage {
                destination_jid: Some("15550001111@s.whatsapp.net".into()),
                message: Some(Box::new(wa::Message {
                    conversation: Some(".ping".into()),
                    ..Default::default()
                })),
                ..Default::default()
            })),
            ..Default::default()
        };
        let incoming = Incoming::read(&stanza(node), &copy.encode_to_vec()).expect("reads");
        assert!(incoming.from_me);
        assert_eq!(incoming.chat, Jid::new("15550001111", "s.whatsapp.net"));
        assert_eq!(incoming.content.text(), Some(".ping"));
        assert_eq!(incoming.sender.pn.as_ref(), Some(&own));
        assert!(incoming.is_for_the_bot());
        let plain = Node::new("message")
            .with_attr("from", Jid::new("15550001111", "s.whatsapp.net"))
            .with_attr("id", "M1");
        let incoming = Incoming::read(&stanza(plain), &text("hi")).expect("reads");
        assert!(!incoming.from_me);
    }
}
