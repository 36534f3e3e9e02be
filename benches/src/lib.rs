//! The shared stanza set (`../shared/bench/stanzas.json`): five stanzas as
//! WhatsApp delivers them, with the bytes Baileys' encoder makes of each.
//! The benches measure on exactly these, so our figures compare with
//! Baileys' baseline; the vector tests check our bytes against Baileys'.

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use blacksky_core::wire::binary::{Content, Node, Value};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

/// One stanza of the set.
#[derive(Debug, Clone)]
pub struct Stanza {
    pub name: String,
    pub node: Node,
    /// Baileys' encoding, including the leading 0x00 flags byte.
    pub baileys_bytes: Vec<u8>,
    pub baileys_sha256: String,
    /// Size of the stanza's transport ciphertext (plaintext + 16-byte tag).
    pub ciphertext_len: usize,
}

/// Where the set lives: `$BLACKSKY_SHARED/bench/stanzas.json`, else the
/// `shared/` folder beside the repository.
pub fn stanza_set_path() -> PathBuf {
    match std::env::var_os("BLACKSKY_SHARED") {
        Some(dir) => PathBuf::from(dir).join("bench/stanzas.json"),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/bench/stanzas.json"),
    }
}

/// Loads the set; panics with the path and the fault (a test or bench
/// without its data cannot mean anything).
pub fn load_stanzas() -> Vec<Stanza> {
    let path = stanza_set_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| {
        panic!("cannot read the shared stanza set at {}: {err} (is ../shared beside the repo?)", path.display())
    });
    let doc: Json = serde_json::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    let Some(stanzas) = doc["stanzas"].as_array() else { panic!("{}: no stanzas array", path.display()) };
    stanzas
        .iter()
        .map(|s| {
            let name = s["name"].as_str().unwrap_or("?").to_owned();
            let encoded = &s["baileys_encoded"];
            let baileys_bytes = B64
                .decode(encoded["b64"].as_str().unwrap_or_default())
                .unwrap_or_else(|err| panic!("{name}: baileys_encoded.b64: {err}"));
            Stanza {
                node: node_from_json(&s["node"], &name),
                baileys_sha256: encoded["sha256"].as_str().unwrap_or_default().to_owned(),
                ciphertext_len: s["wire"]["ciphertext_len"].as_u64().unwrap_or_default() as usize,
                baileys_bytes,
                name,
            }
        })
        .collect()
}

impl Stanza {
    /// True when `bytes` are Baileys' bytes (length and SHA-256 as recorded).
    pub fn matches_baileys(&self, bytes: &[u8]) -> bool {
        bytes == self.baileys_bytes && hex::encode(Sha256::digest(bytes)) == self.baileys_sha256
    }
}

/// `{tag, attrs, content?}` as the set writes nodes: attribute order is
/// wire order, strings that read as JIDs are JIDs (as Baileys encodes
/// them), bytes are `{"bytes_b64": …}`.
pub fn node_from_json(json: &Json, context: &str) -> Node {
    let tag = json["tag"].as_str().unwrap_or_else(|| panic!("{context}: node without a tag"));
    let mut node = Node::new(tag.to_owned());
    if let Some(attrs) = json["attrs"].as_object() {
        for (key, value) in attrs {
            let text = value.as_str().unwrap_or_else(|| panic!("{context}: attr {key} is not a string"));
            node = node.with_attr(key.clone(), Value::infer(text));
        }
    }
    match json.get("content") {
        None | Some(Json::Null) => node,
        Some(Json::String(text)) => node.with_content(Content::infer(text)),
        Some(Json::Array(children)) => node.with_children(children.iter().map(|c| node_from_json(c, context)).collect()),
        Some(Json::Object(bytes)) => {
            let b64 = bytes.get("bytes_b64").and_then(Json::as_str).unwrap_or_else(|| panic!("{context}: bad content"));
            node.with_bytes(B64.decode(b64).unwrap_or_else(|err| panic!("{context}: bytes_b64: {err}")))
        }
        Some(other) => panic!("{context}: unexpected content {other}"),
    }
}
