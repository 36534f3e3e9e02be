//! The stanza set (`benches/fixtures/stanzas.json`, a copy of the project's
//! shared benchmark set): five stanzas as WhatsApp delivers them, with the
//! bytes Baileys' encoder makes of each.
//! The benches measure on exactly these, so our figures compare with
//! Baileys' baseline; core's vector tests check our bytes against Baileys'.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use blacksky_core::wire::binary::{Content, Node, Str, Value};
use serde_json::Value as Json;

/// One stanza of the set.
#[derive(Debug, Clone)]
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

fn field<'j>(j: &'j Json, key: &str, what: &str) -> &'j Json {
    j.get(key)
        .unwrap_or_else(|| panic!("{what}: no field {key:?}"))
}

fn string(j: &Json, key: &str, what: &str) -> String {
    field(j, key, what)
        .as_str()
        .unwrap_or_else(|| panic!("{what}: {key:?} is not a string"))
        .to_owned()
}

/// The stanza set, compiled in: the repository's copy
/// (`benches/fixtures/stanzas.json`), so tests and benches need nothing
/// beside the repository.
const STANZAS_JSON: &str = include_str!("../fixtures/stanzas.json");

/// Loads the stanza set; panics with a clear message when it is not in
/// the format these tests were written for.
pub fn load_stanzas() -> Vec<Stanza> {
    // Attribute order is wire order: the workspace turns on serde_json's
    // `preserve_order`, so objects keep their key order.
    let json: Json = serde_json::from_str(STANZAS_JSON)
        .unwrap_or_else(|e| panic!("stanzas.json is not JSON: {e}"));
    let node_format = string(&json, "node_format", "stanzas.json");
    assert!(
        node_format.starts_with("node = {tag, attrs (object, key order = wire order), content?"),
        "stanzas.json node_format changed: {node_format:?}"
    );
    let encoded_with = string(&json, "encoded_with", "stanzas.json");
    assert!(
        encoded_with.contains("dictionary v3") && encoded_with.contains("leading 0x00 flag byte"),
        "stanzas.json encoded_with changed: {encoded_with:?}"
    );
    let Some(Json::Array(list)) = json.get("stanzas") else {
        panic!("stanzas.json: no stanzas array");
    };
    assert!(!list.is_empty(), "stanzas.json: no stanzas");
    list.iter()
        .map(|s| {
            let name = string(s, "name", "stanza");
            let enc = field(s, "baileys_encoded", &name);
            let baileys = enc.get("b64").map(|b| {
                B64.decode(b.as_str().unwrap_or_default())
                    .unwrap_or_else(|e| panic!("{name}: bad base64: {e}"))
            });
            Stanza {
                node: node_from_json(field(s, "node", &name)),
                baileys,
                baileys_len: field(enc, "len", &name).as_u64().unwrap_or(u64::MAX) as usize,
                baileys_sha256: string(enc, "sha256", &name),
                name,
            }
        })
        .collect()
}

/// `{tag, attrs, content?}` → Node. Strings go through Baileys' rule
/// (`Value::infer`): text that reads as a JID is written as a JID.
pub fn node_from_json(j: &Json) -> Node {
    let tag = string(j, "tag", "node");
    let mut node = Node::new(Str::from(tag.clone()));
    if let Some(Json::Object(attrs)) = j.get("attrs") {
        for (k, v) in attrs {
            let v = v
                .as_str()
                .unwrap_or_else(|| panic!("<{tag}>: attribute {k:?} is not a string"));
            node.attrs.push((Str::from(k.clone()), Value::infer(v)));
        }
    }
    node.content = match j.get("content") {
        None | Some(Json::Null) => None,
        Some(Json::String(s)) => Some(Content::infer(s)),
        Some(Json::Array(children)) => Some(Content::Nodes(
            children.iter().map(node_from_json).collect(),
        )),
        Some(obj @ Json::Object(_)) => {
            let b64 = string(obj, "bytes_b64", &tag);
            Some(Content::Bytes(
                B64.decode(b64)
                    .unwrap_or_else(|e| panic!("<{tag}>: bad base64: {e}")),
            ))
        }
        Some(other) => panic!("<{tag}>: content {other:?}"),
    };
    node
}
