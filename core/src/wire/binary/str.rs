//! `Str`: the string type of nodes. Decoding a stanza makes a dozen
//! strings, most of them dictionary tokens or short ids, so `Str` never
//! allocates for those: a token is its 2-byte code, a `&'static str` is
//! borrowed, and up to 22 bytes live inline. Only longer strings go to
//! the heap.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

use super::tokens::{self, Code};

/// Strings up to this many bytes are stored inline.
const INLINE_MAX: usize = 22;

/// A node string: a tag, an attribute key or value, a JID part or text
/// content. Derefs to `str`; equality, ordering and hashing are those of
/// the text, whatever the storage.
#[derive(Clone)]
pub struct Str(Repr);

#[derive(Clone)]
enum Repr {
    /// A dictionary token, by code (what the decoder makes).
    Token(Code),
    /// A literal (what builders make).
    Static(&'static str),
    /// Invariant: `buf[..len]` is valid UTF-8 and `len <= INLINE_MAX`.
    Inline {
        len: u8,
        buf: [u8; INLINE_MAX],
    },
    Heap(Box<str>),
}

impl Str {
    /// The empty string.
    pub const EMPTY: Str = Str(Repr::Static(""));

    /// Borrows a literal; no copy, no allocation.
    #[must_use]
    pub const fn from_static(s: &'static str) -> Str {
        Str(Repr::Static(s))
    }

    /// Copies `s`: inline when short, else one allocation.
    #[must_use]
    pub fn copy_from(s: &str) -> Str {
        if s.len() <= INLINE_MAX {
            Str::inline_unchecked(s.as_bytes())
        } else {
            Str(Repr::Heap(s.into()))
        }
    }

    /// Inline storage for at most `INLINE_MAX` bytes of UTF-8.
    #[inline]
    fn inline_unchecked(bytes: &[u8]) -> Str {
        let mut buf = [0u8; INLINE_MAX];
        let len = bytes.len().min(INLINE_MAX);
        if let (Some(dst), Some(src)) = (buf.get_mut(..len), bytes.get(..len)) {
            dst.copy_from_slice(src);
        }
        Str(Repr::Inline {
            len: len as u8,
            buf,
        })
    }

    /// Whether the text is empty (without resolving tokens).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        match &self.0 {
            Repr::Token(_) => false,
            Repr::Static(s) => s.is_empty(),
            Repr::Inline { len, .. } => *len == 0,
            Repr::Heap(s) => s.is_empty(),
        }
    }

    pub(crate) fn token(code: Code) -> Str {
        Str(Repr::Token(code))
    }

    /// The token code, when this string is known to be a token without
    /// looking it up (it came off the wire as one).
    pub(crate) fn known_token(&self) -> Option<Code> {
        match self.0 {
            Repr::Token(code) => Some(code),
            _ => None,
        }
    }

    /// The text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Token(code) => tokens::text(*code),
            Repr::Static(s) => s,
            // Re-validating ≤ 22 bytes costs a few ns and keeps the crate
            // free of `unsafe`; the invariant means it never fails.
            Repr::Inline { len, buf } => buf
                .get(..usize::from(*len))
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or(""),
            Repr::Heap(s) => s,
        }
    }

    /// The text as bytes (no validation pass).
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, buf } => buf.get(..usize::from(*len)).unwrap_or_default(),
            _ => self.as_str().as_bytes(),
        }
    }
}

impl Default for Str {
    fn default() -> Self {
        Str::EMPTY
    }
}

impl Deref for Str {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Str {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Str {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&'static str> for Str {
    fn from(s: &'static str) -> Self {
        Str::from_static(s)
    }
}

impl From<String> for Str {
    fn from(s: String) -> Self {
        if s.len() <= INLINE_MAX {
            Str::copy_from(&s)
        } else {
            Str(Repr::Heap(s.into_boxed_str()))
        }
    }
}

impl From<&String> for Str {
    fn from(s: &String) -> Self {
        Str::copy_from(s)
    }
}

impl From<Box<str>> for Str {
    fn from(s: Box<str>) -> Self {
        Str(Repr::Heap(s))
    }
}

impl PartialEq for Str {
    fn eq(&self, other: &Str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Str {}

impl PartialEq<str> for Str {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for Str {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<Str> for str {
    fn eq(&self, other: &Str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<Str> for &str {
    fn eq(&self, other: &Str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialOrd for Str {
    fn partial_cmp(&self, other: &Str) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Str {
    fn cmp(&self, other: &Str) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl Hash for Str {
    // Same as `str`'s hash, as `Borrow<str>` requires.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_does_not_change_meaning() {
        let token = Str::token(tokens::lookup("type").unwrap_or_default());
        assert_eq!(token, Str::from("type"));
        assert_eq!(token, Str::copy_from("type"));
        assert_eq!(token.as_str(), "type");
        let inline = Str::copy_from("3EB021DD5531B9DC518971");
        assert!(matches!(inline.0, Repr::Inline { len: 22, .. }));
        let heap = Str::copy_from("3EB021DD5531B9DC5189710");
        assert!(matches!(heap.0, Repr::Heap(_)));
        assert_eq!(heap, "3EB021DD5531B9DC5189710");
        assert_eq!(Str::copy_from("é✓"), "é✓");
        assert_eq!(Str::from(String::from("x")), "x");
        assert_eq!(Str::EMPTY.as_str(), "");
        assert_eq!(std::mem::size_of::<Str>(), 24);
    }

    #[test]
    fn hash_agrees_with_str() {
        use std::collections::HashSet;
        let mut set: HashSet<Str> = HashSet::new();
        set.insert(Str::token(tokens::lookup("id").unwrap_or_default()));
        assert!(set.contains("id"));
    }
}
