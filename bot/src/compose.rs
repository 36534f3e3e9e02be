//! A handler's answers as WhatsApp `Message` protobufs: a plain text is a
//! `conversation`; a quote or a mention makes it an `extendedTextMessage`
//! with a `contextInfo`; a reaction is a `reactionMessage` naming the
//! message it is about.

use blacksky_core::message::Incoming;
use blacksky_core::session::OutboxEntry;
use blacksky_core::time::UnixMillis;
use blacksky_core::wire::binary::Jid;
use blacksky_proto::wa::{self, message as pb};
use prost::Message as _;

use crate::context::{Action, Reply, chat_of};

/// The message being answered, as a quote or a reaction names it.
#[derive(Debug, Clone, Copy)]
pub struct Answered<'a> {
    pub incoming: &'a Incoming,
    /// Its `Message` protobuf, as stored (a quote carries it).
    pub message: &'a [u8],
}

impl Answered<'_> {
    /// Who wrote it (without a device): the quote's and reaction's
    /// `participant`.
    fn author(&self) -> Option<Jid> {
        let sender = &self.incoming.sender;
        sender.pn.as_ref().or(sender.lid.as_ref()).map(chat_of)
    }

    fn chat(&self) -> Jid {
        chat_of(&self.incoming.chat)
    }
}

/// The outbox entries for the messages among `actions`, in their order
/// (effects are the shell's: see [`Action::is_message`]).
#[must_use]
pub fn entries(actions: &[Action], answered: &Answered<'_>, now: UnixMillis) -> Vec<OutboxEntry> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Text { to, reply } => Some(OutboxEntry {
                to: to.to_string(),
                payload: text(reply, Some(answered), to).encode_to_vec(),
            }),
            Action::React { emoji } => Some(OutboxEntry {
                to: answered.chat().to_string(),
                payload: reaction(answered, emoji, now).encode_to_vec(),
            }),
            Action::Delete { .. }
            | Action::Media { .. }
            | Action::Group { .. }
            | Action::Owner(_)
            | Action::Broadcast { .. }
            | Action::Setting(_) => None,
        })
        .collect()
}

/// The outbox entries for the texts among `actions` when they answer no
/// message (a group event's welcome): nothing to quote or react to.
#[must_use]
pub fn unanswered_entries(actions: &[Action]) -> Vec<OutboxEntry> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Text { to, reply } => Some(OutboxEntry {
                to: to.to_string(),
                payload: text(reply, None, to).encode_to_vec(),
            }),
            _ => None,
        })
        .collect()
}

/// A text to `to`, quoting `answered` when the reply asks to. Each
/// `@<number>` written in the text mentions that number (WhatsApp shows
/// it as the person's name), as do the reply's own mentions.
#[must_use]
pub fn text(reply: &Reply, answered: Option<&Answered<'_>>, to: &Jid) -> wa::Message {
    let quoted = answered.filter(|_| reply.quote);
    let mentioned = mentioned(reply);
    if quoted.is_none() && mentioned.is_empty() {
        return wa::Message {
            conversation: Some(reply.text.clone()),
            ..Default::default()
        };
    }
    let mut context = wa::ContextInfo {
        mentioned_jid: mentioned,
        ..Default::default()
    };
    if let Some(quoted) = quoted {
        let chat = quoted.chat();
        context.stanza_id = Some(quoted.incoming.id.clone());
        context.participant = quoted.author().map(|jid| jid.to_string());
        context.quoted_message = wa::Message::decode(quoted.message).ok().map(Box::new);
        if &chat != to {
            context.remote_jid = Some(chat.to_string());
        }
    }
    wa::Message {
        extended_text_message: Some(Box::new(pb::ExtendedTextMessage {
            text: Some(reply.text.clone()),
            context_info: Some(Box::new(context)),
            ..Default::default()
        })),
        ..Default::default()
    }
}

/// Whom `reply` mentions: its own mentions, then each `@<number>` in its
/// text, once each.
fn mentioned(reply: &Reply) -> Vec<String> {
    let mut mentioned: Vec<String> = reply
        .mentions
        .iter()
        .map(|jid| chat_of(jid).to_string())
        .collect();
    for jid in mentions_in(&reply.text) {
        let jid = jid.to_string();
        if !mentioned.contains(&jid) {
            mentioned.push(jid);
        }
    }
    mentioned
}

/// An uploaded file as the message `kind` makes of it, `caption` under it
/// (none when its text is empty) mentioning whom it names, as a text does.
#[must_use]
pub fn media(
    kind: &blacksky_core::message::content::MediaKind,
    descriptor: blacksky_core::message::content::MediaDescriptor,
    caption: &Reply,
) -> wa::Message {
    let mentioned = mentioned(caption);
    let context = (!mentioned.is_empty()).then(|| wa::ContextInfo {
        mentioned_jid: mentioned,
        ..Default::default()
    });
    let text = (!caption.text.is_empty()).then(|| caption.text.clone());
    crate::media_message::media_message(kind, descriptor, text, context)
}

/// The most mentions taken from one text.
const TEXT_MENTIONS_MAX: usize = 256;

/// The phone numbers a text mentions: `@` then 5 to 15 digits, not
/// inside a word (an e-mail address is no mention).
#[must_use]
pub fn mentions_in(text: &str) -> Vec<Jid> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() && found.len() < TEXT_MENTIONS_MAX {
        let starts_word = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if bytes[i] == b'@' && starts_word {
            let digits = bytes[i + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            let end = i + 1 + digits;
            let ends_word = bytes.get(end).is_none_or(|b| !b.is_ascii_alphanumeric());
            if (5..=15).contains(&digits) && ends_word {
                found.push(Jid::new(text[i + 1..end].to_owned(), "s.whatsapp.net"));
            }
            i = end.max(i + 1);
            continue;
        }
        i += 1;
    }
    found
}

/// The `Message` that deletes message `id` of `author` in `chat` for
/// everyone (an [`Action::Delete`]): a `protocolMessage` of type REVOKE
/// naming its key. Deleting another's message in a group takes admin
/// rights; the stanza carrying it marks it as an admin's delete.
#[must_use]
pub fn revoke(chat: &Jid, id: &str, author: Option<&Jid>) -> wa::Message {
    let chat = chat_of(chat);
    let in_group = chat.server() == "g.us";
    wa::Message {
        protocol_message: Some(Box::new(pb::ProtocolMessage {
            key: Some(wa::MessageKey {
                remote_jid: Some(chat.to_string()),
                from_me: Some(false),
                id: Some(id.to_owned()),
                participant: author
                    .filter(|_| in_group)
                    .map(|jid| chat_of(jid).to_string()),
            }),
            r#type: Some(pb::protocol_message::Type::Revoke as i32),
            ..Default::default()
        })),
        ..Default::default()
    }
}

/// A reaction with `emoji` to `answered`.
#[must_use]
pub fn reaction(answered: &Answered<'_>, emoji: &str, now: UnixMillis) -> wa::Message {
    let chat = answered.chat();
    let in_group = chat.server() == "g.us";
    wa::Message {
        reaction_message: Some(pb::ReactionMessage {
            key: Some(wa::MessageKey {
                remote_jid: Some(chat.to_string()),
                from_me: Some(false),
                id: Some(answered.incoming.id.clone()),
                participant: answered
                    .author()
                    .filter(|_| in_group)
                    .map(|jid| jid.to_string()),
            }),
            text: Some(emoji.to_owned()),
            grouping_key: None,
            sender_timestamp_ms: Some(i64::try_from(now.as_millis()).unwrap_or(i64::MAX)),
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_written_with_an_at_are_mentioned_and_addresses_are_not() {
        let found: Vec<String> =
            mentions_in("hi @4915112345678, ask @491556123 or mail a@12345678.de @12")
                .iter()
                .map(ToString::to_string)
                .collect();
        assert_eq!(
            found,
            ["4915112345678@s.whatsapp.net", "491556123@s.whatsapp.net"]
        );
        let to = Jid::new("120363000000000001", "g.us");
        let message = text(&Reply::text("@4915112345678 welcome"), None, &to);
        let context = message
            .extended_text_message
            .and_then(|m| m.context_info)
            .expect("a context");
        assert_eq!(context.mentioned_jid, ["4915112345678@s.whatsapp.net"]);
        let plain = text(&Reply::text("no one here"), None, &to);
        assert_eq!(plain.conversation.as_deref(), Some("no one here"));
    }
    use blacksky_core::wire::binary::{Node, encode};

    fn incoming(from: Jid, participant: Option<Jid>) -> (Vec<u8>, Vec<u8>) {
        let mut node = Node::new("message")
            .with_attr("from", from)
            .with_attr("id", "3EB0AAAA")
            .with_attr("t", "1700000000");
        if let Some(participant) = participant {
            node = node.with_attr("participant", participant);
        }
        let message = wa::Message {
            conversation: Some("ping 7".into()),
            ..Default::default()
        };
        (encode(&node).expect("encodes"), message.encode_to_vec())
    }

    #[test]
    fn a_plain_reply_is_a_conversation() {
        let to = Jid::new("15550001111", "s.whatsapp.net");
        let message = text(&Reply::text("pong"), None, &to);
        assert_eq!(message.conversation.as_deref(), Some("pong"));
        assert!(message.extended_text_message.is_none());
    }

    #[test]
    fn a_quote_names_the_message_its_author_and_carries_it() {
        let group = Jid::new("120363000000000001", "g.us");
        let author = Jid::ad("15550001111", 0, 3);
        let (stanza, raw) = incoming(group.clone(), Some(author));
        let read = Incoming::read(&stanza, &raw).expect("reads");
        let answered = Answered {
            incoming: &read,
            message: &raw,
        };
        let mention = Jid::new("15550002222", "s.whatsapp.net");
        let reply = Reply::text("@15550002222 pong")
            .quoting()
            .mentioning(mention);
        let message = text(&reply, Some(&answered), &group);
        let ext = message.extended_text_message.expect("extended");
        assert_eq!(ext.text.as_deref(), Some("@15550002222 pong"));
        let context = ext.context_info.expect("context");
        assert_eq!(context.stanza_id.as_deref(), Some("3EB0AAAA"));
        assert_eq!(
            context.participant.as_deref(),
            Some("15550001111@s.whatsapp.net"),
            "the author, without a device"
        );
        assert_eq!(
            context
                .quoted_message
                .and_then(|m| m.conversation)
                .as_deref(),
            Some("ping 7")
        );
        assert_eq!(context.remote_jid, None, "same chat");
        assert_eq!(context.mentioned_jid, ["15550002222@s.whatsapp.net"]);
    }

    #[test]
    fn a_revoke_names_the_message_and_its_author() {
        let group = Jid::new("120363000000000001", "g.us");
        let author = Jid::ad("15550001111", 0, 3);
        let message = revoke(&group, "3EB0LINK", Some(&author));
        let protocol = message.protocol_message.expect("a protocol message");
        assert_eq!(
            protocol.r#type,
            Some(pb::protocol_message::Type::Revoke as i32)
        );
        let key = protocol.key.expect("key");
        assert_eq!(key.id.as_deref(), Some("3EB0LINK"));
        assert_eq!(key.remote_jid.as_deref(), Some("120363000000000001@g.us"));
        assert_eq!(key.from_me, Some(false));
        assert_eq!(
            key.participant.as_deref(),
            Some("15550001111@s.whatsapp.net")
        );
        let unknown_author = revoke(&group, "x", None).encode_to_vec();
        let read = wa::Message::decode(unknown_author.as_slice()).expect("decodes");
        let key = read.protocol_message.and_then(|p| p.key).expect("key");
        assert_eq!(key.participant, None);
    }

    #[test]
    fn a_reaction_names_the_message_and_in_a_group_its_author() {
        let contact = Jid::ad("15550001111", 0, 2);
        let (stanza, raw) = incoming(contact, None);
        let read = Incoming::read(&stanza, &raw).expect("reads");
        let answered = Answered {
            incoming: &read,
            message: &raw,
        };
        let entries = entries(
            &[Action::React {
                emoji: "👍".into()
            }],
            &answered,
            UnixMillis(1_700_000_001_000),
        );
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].to, "15550001111@s.whatsapp.net");
        let message = wa::Message::decode(entries[0].payload.as_slice()).expect("decodes");
        let reaction = message.reaction_message.expect("reaction");
        let key = reaction.key.expect("key");
        assert_eq!(key.id.as_deref(), Some("3EB0AAAA"));
        assert_eq!(
            key.remote_jid.as_deref(),
            Some("15550001111@s.whatsapp.net")
        );
        assert_eq!(key.participant, None, "1:1: no participant");
        assert_eq!(reaction.text.as_deref(), Some("👍"));
        assert_eq!(reaction.sender_timestamp_ms, Some(1_700_000_001_000));
    }
}
