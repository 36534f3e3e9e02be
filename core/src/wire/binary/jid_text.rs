//! The text of a JID that arrives where a string goes (a node tag, an
//! attribute key, the user of another JID). Every reference reads such a
//! JID as its text form, so the decoder writes that text, as [`Jid`]'s
//! `Display` would, into its text buffer.
//!
//! The parts were read in wire order, and those that needed the text
//! buffer (a packed user or one that is itself a JID, a packed server)
//! are already there, user first. The rest is appended and rotated into
//! place, so the text of a JID nested in a JID is never copied again; only
//! an interop JID's prefix (`{integrator}-`, read after the user) moves
//! the text before it.
//!
//! [`Jid`]: super::Jid

use std::fmt;

use super::decoded::{Flat, FlatJid, JidForm, flat_bytes};
use super::jid;

/// Writes the text of `j`, whose parts were read when the text buffer
/// held `at` bytes, so that it ends the buffer from `at` on. `data` holds
/// the node bytes.
pub(super) fn render(j: &FlatJid, at: usize, data: &[u8], text: &mut Vec<u8>) {
    let user_in_place = starts_at(j.user, at);
    let server_at = at + if user_in_place { j.user.len() } else { 0 };
    let device = matches!(j.form, JidForm::Device);
    let server_in_place = !device && starts_at(j.server, server_at);
    let shape = j.shape();

    let mut end = at;
    end += if user_in_place {
        j.user.len()
    } else {
        insert(end, text, |t| append_flat(j.user, data, t))
    };
    end += insert(end, text, |t| append_fmt(t, |w| shape.write_infix(w)));
    if device {
        let server = jid::domain_server(j.domain);
        insert(end, text, |t| t.extend_from_slice(server.as_bytes()));
    } else if !server_in_place {
        insert(end, text, |t| append_flat(j.server, data, t));
    }
    insert(at, text, |t| append_fmt(t, |w| shape.write_prefix(w)));
}

/// Whether `f` is non-empty text that starts at `at` of the text buffer.
fn starts_at(f: Flat, at: usize) -> bool {
    f.is_text() && !f.is_empty() && f.start() == at
}

/// Appends with `append`, then rotates what it appended to `pos`; returns
/// how many bytes it inserted.
fn insert(pos: usize, text: &mut Vec<u8>, append: impl FnOnce(&mut Vec<u8>)) -> usize {
    let before = text.len();
    append(text);
    let inserted = text.len() - before;
    if let Some(tail) = text.get_mut(pos..) {
        // `pos <= before`, so the tail holds all that was appended.
        tail.rotate_right(inserted.min(tail.len()));
    }
    inserted
}

fn append_flat(f: Flat, data: &[u8], text: &mut Vec<u8>) {
    if f.is_text() {
        let range = f.start()..f.start() + f.len();
        if range.end <= text.len() {
            text.extend_from_within(range);
        }
    } else {
        text.extend_from_slice(flat_bytes(f, data, &[]));
    }
}

fn append_fmt(text: &mut Vec<u8>, write: impl FnOnce(&mut Appender<'_>) -> fmt::Result) {
    // Appending to a vector cannot fail.
    let _ = write(&mut Appender(text));
}

struct Appender<'t>(&'t mut Vec<u8>);

impl fmt::Write for Appender<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}
