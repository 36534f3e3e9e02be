//! Shared by the binary_* tests: the shared stanza set
//! (`../shared/bench/stanzas.json`) and its JSON node format.
#![allow(dead_code)]

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use blacksky_core::wire::binary::{Content, Node, Str, Value};

/// JSON that keeps object keys in document order (attribute order is
/// wire order; serde_json's `Value` sorts keys unless a feature flag is
/// turned on for the whole workspace, and core has no serde dependency
/// to write a visitor with).
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn num(&self) -> Option<f64> {
        match self {
            Json::Num(n) => Some(*n),
            _ => None,
        }
    }

    fn field(&self, key: &str, what: &str) -> &Json {
        self.get(key)
            .unwrap_or_else(|| panic!("{what}: no field {key:?}"))
    }

    fn string(&self, key: &str, what: &str) -> String {
        self.field(key, what)
            .str()
            .unwrap_or_else(|| panic!("{what}: {key:?} is not a string"))
            .to_owned()
    }
}

/// A small JSON reader for this one trusted file: enough of RFC 8259 for
/// the stanza set, keeping object key order.
pub fn parse_json(text: &str) -> Json {
    let mut p = JsonParser {
        s: text.as_bytes(),
        i: 0,
    };
    let v = p.value();
    p.ws();
    assert_eq!(p.i, p.s.len(), "stanzas.json: trailing bytes at {}", p.i);
    v
}

struct JsonParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl JsonParser<'_> {
    fn peek(&self) -> u8 {
        self.s.get(self.i).copied().unwrap_or(0)
    }
    fn ws(&mut self) {
        while matches!(self.peek(), b' ' | b'\n' | b'\r' | b'\t') {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8) {
        self.ws();
        assert_eq!(
            self.peek(),
            c,
            "stanzas.json: expected {:?} at {}",
            c as char,
            self.i
        );
        self.i += 1;
    }
    fn value(&mut self) -> Json {
        self.ws();
        match self.peek() {
            b'{' => {
                self.i += 1;
                let mut entries = Vec::new();
                self.ws();
                if self.peek() == b'}' {
                    self.i += 1;
                    return Json::Obj(entries);
                }
                loop {
                    self.ws();
                    let k = self.string();
                    self.eat(b':');
                    entries.push((k, self.value()));
                    self.ws();
                    let c = self.peek();
                    self.i += 1;
                    match c {
                        b',' => continue,
                        b'}' => return Json::Obj(entries),
                        _ => panic!("stanzas.json: bad object at {}", self.i),
                    }
                }
            }
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.peek() == b']' {
                    self.i += 1;
                    return Json::Arr(items);
                }
                loop {
                    items.push(self.value());
                    self.ws();
                    let c = self.peek();
                    self.i += 1;
                    match c {
                        b',' => continue,
                        b']' => return Json::Arr(items),
                        _ => panic!("stanzas.json: bad array at {}", self.i),
                    }
                }
            }
            b'"' => Json::Str(self.string()),
            b't' => self.word("true", Json::Bool(true)),
            b'f' => self.word("false", Json::Bool(false)),
            b'n' => self.word("null", Json::Null),
            _ => {
                let start = self.i;
                while matches!(self.peek(), b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
                    self.i += 1;
                }
                let t = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
                Json::Num(
                    t.parse()
                        .unwrap_or_else(|_| panic!("stanzas.json: bad number at {start}")),
                )
            }
        }
    }
    fn word(&mut self, w: &str, v: Json) -> Json {
        assert!(
            self.s[self.i..].starts_with(w.as_bytes()),
            "stanzas.json: bad literal at {}",
            self.i
        );
        self.i += w.len();
        v
    }
    fn string(&mut self) -> String {
        assert_eq!(
            self.peek(),
            b'"',
            "stanzas.json: expected a string at {}",
            self.i
        );
        self.i += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let c = self.peek();
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let e = self.peek();
                    self.i += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'u' => {
                            let mut cp = self.hex4();
                            if (0xd800..0xdc00).contains(&cp) {
                                self.i += 2; // \\u of the low surrogate
                                let lo = self.hex4();
                                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                            }
                            let ch = char::from_u32(cp).unwrap_or('\u{fffd}');
                            out.extend_from_slice(ch.to_string().as_bytes());
                        }
                        other => out.push(other),
                    }
                }
                0 if self.i > self.s.len() => panic!("stanzas.json: unterminated string"),
                other => out.push(other),
            }
        }
        String::from_utf8(out).expect("stanzas.json: strings are UTF-8")
    }
    fn hex4(&mut self) -> u32 {
        let t = std::str::from_utf8(&self.s[self.i..self.i + 4]).unwrap_or("");
        self.i += 4;
        u32::from_str_radix(t, 16).unwrap_or_else(|_| panic!("stanzas.json: bad \\u escape"))
    }
}

/// One stanza of the shared set.
pub struct Stanza {
    pub name: String,
    /// The node, built from its JSON the way Baileys would see it.
    pub node: Node,
    /// Baileys' bytes, leading flags byte included. The set leaves them
    /// out for the 64 KiB stanza, giving only length and SHA-256.
    pub baileys: Option<Vec<u8>>,
    pub baileys_len: usize,
    pub baileys_sha256: String,
}

impl Stanza {
    /// Baileys' bytes: given, or (for the stanza given by hash only) our
    /// own encoding once its length and SHA-256 match Baileys'.
    pub fn bytes(&self) -> Vec<u8> {
        if let Some(b) = &self.baileys {
            return b.clone();
        }
        let ours = blacksky_core::wire::binary::encode(&self.node)
            .unwrap_or_else(|e| panic!("{}: {e}", self.name));
        assert!(
            self.matches(&ours),
            "{}: our bytes are not Baileys'",
            self.name
        );
        ours
    }

    /// Whether `bytes` are Baileys' (by length and SHA-256).
    pub fn matches(&self, bytes: &[u8]) -> bool {
        use sha2::Digest as _;
        bytes.len() == self.baileys_len
            && hex::encode(sha2::Sha256::digest(bytes)) == self.baileys_sha256
    }
}

pub fn stanzas_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/bench/stanzas.json")
}

/// Loads the shared stanza set; panics with a clear message when the file
/// is missing or not in the format these tests were written for.
pub fn load_stanzas() -> Vec<Stanza> {
    let path = stanzas_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read the shared stanza set at {} ({e}). It lives in the shared \
             folder beside the repo (/work/shared/bench/stanzas.json next to /work/main); \
             CI provides it.",
            path.display()
        )
    });
    let json = parse_json(&text);
    let node_format = json.string("node_format", "stanzas.json");
    assert!(
        node_format.starts_with("node = {tag, attrs (object, key order = wire order), content?"),
        "stanzas.json node_format changed: {node_format:?}"
    );
    let encoded_with = json.string("encoded_with", "stanzas.json");
    assert!(
        encoded_with.contains("dictionary v3") && encoded_with.contains("leading 0x00 flag byte"),
        "stanzas.json encoded_with changed: {encoded_with:?}"
    );
    let Some(Json::Arr(list)) = json.get("stanzas") else {
        panic!("stanzas.json: no stanzas array");
    };
    assert!(!list.is_empty(), "stanzas.json: no stanzas");
    list.iter()
        .map(|s| {
            let name = s.string("name", "stanza");
            let enc = s.field("baileys_encoded", &name);
            let baileys = enc.get("b64").map(|b| {
                B64.decode(b.str().unwrap_or_default())
                    .unwrap_or_else(|e| panic!("{name}: bad base64: {e}"))
            });
            Stanza {
                node: node_from_json(s.field("node", &name)),
                baileys,
                baileys_len: enc.field("len", &name).num().unwrap_or(-1.0) as usize,
                baileys_sha256: enc.string("sha256", &name),
                name,
            }
        })
        .collect()
}

/// `{tag, attrs, content?}` → Node. Strings go through Baileys' rule
/// (`Value::infer`): text that reads as a JID is written as a JID.
pub fn node_from_json(j: &Json) -> Node {
    let tag = j.string("tag", "node");
    let mut node = Node::new(Str::from(tag.clone()));
    if let Some(Json::Obj(attrs)) = j.get("attrs") {
        for (k, v) in attrs {
            let v = v
                .str()
                .unwrap_or_else(|| panic!("<{tag}>: attribute {k:?} is not a string"));
            node.attrs.push((Str::from(k.clone()), Value::infer(v)));
        }
    }
    node.content = match j.get("content") {
        None | Some(Json::Null) => None,
        Some(Json::Str(s)) => Some(Content::infer(s)),
        Some(Json::Arr(children)) => Some(Content::Nodes(
            children.iter().map(node_from_json).collect(),
        )),
        Some(obj @ Json::Obj(_)) => {
            let b64 = obj.string("bytes_b64", &tag);
            Some(Content::Bytes(
                B64.decode(b64)
                    .unwrap_or_else(|e| panic!("<{tag}>: bad base64: {e}")),
            ))
        }
        Some(other) => panic!("<{tag}>: content {other:?}"),
    };
    node
}
