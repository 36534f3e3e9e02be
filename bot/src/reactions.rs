//! The reaction clips that ship with blacksky: short looping MP4s (sent as
//! GIFs, `videoMessage.gifPlayback`) with the phrases that go with them, in
//! English and German. They are embedded in the binary, so a reaction
//! works with no network at all.
//!
//! The clips, `media/reactions/manifest.json` and the table in
//! `reactions/table.rs` are made together by
//! `media/reactions/make-clips.py`. A clip missing at build time fails the
//! build (naming the file); [`check_clips`] runs at start and reports a
//! broken one by name (empty, changed since the table, not a plausible
//! streaming MP4), so no user finds out by asking for it.

use std::fmt;

use sha2::{Digest, Sha256};
use thiserror::Error;

mod table;

pub use table::REACTIONS;

/// A shipped clip is a few KB; anything near this is not one of ours.
pub const CLIP_BYTES_MAX: usize = 256 * 1024;

/// One reaction: its command name, its phrases (`{a}` the sender, `{b}`
/// the target) and its clip.
pub struct Reaction {
    pub name: &'static str,
    /// With a target: "{a} hugs {b}".
    pub en: &'static str,
    pub de: &'static str,
    /// Without one: "{a} wants a hug".
    pub en_alone: &'static str,
    pub de_alone: &'static str,
    pub mp4: &'static [u8],
    /// The clip's SHA-256 (hex) when the table was made.
    pub sha256: &'static str,
}

/// The language a phrase is wanted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    English,
    German,
}

impl Reaction {
    /// The reaction called `name` (any case), if one ships.
    #[must_use]
    pub fn find(name: &str) -> Option<&'static Reaction> {
        REACTIONS.iter().find(|r| r.name.eq_ignore_ascii_case(name))
    }

    /// The caption: "Ana hugs Ben", or "Ana wants a hug" with no target.
    #[must_use]
    pub fn phrase(&self, language: Language, actor: &str, target: Option<&str>) -> String {
        let template = match (language, target) {
            (Language::English, Some(_)) => self.en,
            (Language::German, Some(_)) => self.de,
            (Language::English, None) => self.en_alone,
            (Language::German, None) => self.de_alone,
        };
        template
            .replace("{a}", actor)
            .replace("{b}", target.unwrap_or_default())
    }
}

impl fmt::Debug for Reaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reaction")
            .field("name", &self.name)
            .field("mp4_len", &self.mp4.len())
            .finish_non_exhaustive()
    }
}

/// A clip that cannot be sent, by name.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("reaction clip media/reactions/{name}.mp4: {problem}")]
pub struct BrokenClip {
    pub name: &'static str,
    pub problem: ClipProblem,
}

/// What is wrong with an MP4 (a shipped clip, or one a CDN gave).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ClipProblem {
    #[error("empty")]
    Empty,
    #[error("{bytes} bytes, over the limit of {CLIP_BYTES_MAX}")]
    TooLarge { bytes: usize },
    #[error(
        "not the file the table was made from (its SHA-256 differs): rerun media/reactions/make-clips.py"
    )]
    ChangedSinceTable,
    #[error("the box at byte {offset} does not fit in the file")]
    BadBox { offset: usize },
    #[error("it does not start with an ftyp box: not an MP4")]
    NoFtyp,
    #[error("it has no moov box (no index)")]
    NoMoov,
    #[error("it has no mdat box (no frames)")]
    NoMdat,
    #[error("its moov box comes after mdat: not faststart, a player must load it all first")]
    NotFaststart,
    #[error("it has no H.264 (avc1) track")]
    NotH264,
}

/// Checks every shipped clip; `Ok` says how many there are.
pub fn check_clips() -> Result<usize, Vec<BrokenClip>> {
    check_reactions(&REACTIONS)
}

fn check_reactions(reactions: &[Reaction]) -> Result<usize, Vec<BrokenClip>> {
    let broken: Vec<BrokenClip> = reactions
        .iter()
        .filter_map(|reaction| {
            check_shipped(reaction).err().map(|problem| BrokenClip {
                name: reaction.name,
                problem,
            })
        })
        .collect();
    if broken.is_empty() {
        Ok(reactions.len())
    } else {
        Err(broken)
    }
}

fn check_shipped(reaction: &Reaction) -> Result<(), ClipProblem> {
    check_mp4(reaction.mp4)?;
    let sha256 = Sha256::digest(reaction.mp4);
    if hex_of(&sha256) != reaction.sha256 {
        return Err(ClipProblem::ChangedSinceTable);
    }
    Ok(())
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `bytes` is plausibly a GIF-playback clip WhatsApp can play as
/// it streams: top-level boxes that tile the file, `ftyp` first, `moov`
/// (with an `avc1` track) before `mdat`, and not over
/// [`CLIP_BYTES_MAX`]. No decoding: cheap enough for every start.
pub fn check_mp4(bytes: &[u8]) -> Result<(), ClipProblem> {
    if bytes.is_empty() {
        return Err(ClipProblem::Empty);
    }
    if bytes.len() > CLIP_BYTES_MAX {
        return Err(ClipProblem::TooLarge { bytes: bytes.len() });
    }
    let boxes = top_level_boxes(bytes)?;
    if boxes.first().map(|b| &b.kind) != Some(b"ftyp") {
        return Err(ClipProblem::NoFtyp);
    }
    let moov = boxes
        .iter()
        .position(|b| &b.kind == b"moov")
        .ok_or(ClipProblem::NoMoov)?;
    let mdat = boxes
        .iter()
        .position(|b| &b.kind == b"mdat" && !b.body.is_empty())
        .ok_or(ClipProblem::NoMdat)?;
    if moov > mdat {
        return Err(ClipProblem::NotFaststart);
    }
    if !boxes[moov].body.windows(4).any(|w| w == b"avc1") {
        return Err(ClipProblem::NotH264);
    }
    Ok(())
}

/// One ISO-BMFF box: its four-letter type and its payload.
struct Mp4Box<'a> {
    kind: [u8; 4],
    body: &'a [u8],
}

fn top_level_boxes(bytes: &[u8]) -> Result<Vec<Mp4Box<'_>>, ClipProblem> {
    let mut boxes = Vec::new();
    let mut offset = 0;
    while offset < bytes.len() {
        let bad = ClipProblem::BadBox { offset };
        let header = bytes.get(offset..offset + 8).ok_or(bad.clone())?;
        let size32 = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        let kind = [header[4], header[5], header[6], header[7]];
        let (header_len, size) = match size32 {
            // The box runs to the end of the file.
            0 => (8, bytes.len() - offset),
            // A 64-bit size follows the type.
            1 => {
                let large = bytes.get(offset + 8..offset + 16).ok_or(bad.clone())?;
                let mut be = [0u8; 8];
                be.copy_from_slice(large);
                let size = usize::try_from(u64::from_be_bytes(be)).map_err(|_| bad.clone())?;
                (16, size)
            }
            n => (8, n as usize),
        };
        if size < header_len {
            return Err(bad);
        }
        let end = offset.checked_add(size).ok_or(bad.clone())?;
        let body = bytes.get(offset + header_len..end).ok_or(bad)?;
        boxes.push(Mp4Box { kind, body });
        offset = end;
    }
    Ok(boxes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; 24] = [
        "hug", "kiss", "slap", "pat", "cuddle", "poke", "wave", "dance", "cry", "laugh",
        "highfive", "bonk", "bite", "blush", "wink", "facepalm", "smile", "nom", "yeet", "happy",
        "handhold", "lick", "punch", "kick",
    ];

    #[test]
    fn every_shipped_clip_is_a_plausible_streaming_mp4() {
        assert_eq!(check_clips(), Ok(REACTIONS.len()));
        assert!(REACTIONS.len() >= 24);
        for name in NAMES {
            assert!(Reaction::find(name).is_some(), "{name} ships");
        }
        let mut names: Vec<&str> = REACTIONS.iter().map(|r| r.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), REACTIONS.len(), "names are unique");
    }

    #[test]
    fn the_table_is_the_manifest() {
        let manifest: serde_json::Value =
            serde_json::from_str(include_str!("../../media/reactions/manifest.json"))
                .expect("manifest JSON");
        let entries = manifest["reactions"].as_array().expect("reactions");
        assert_eq!(entries.len(), REACTIONS.len());
        let mut total = 0;
        for (entry, reaction) in entries.iter().zip(REACTIONS.iter()) {
            assert_eq!(entry["name"], reaction.name);
            assert_eq!(entry["en"], reaction.en);
            assert_eq!(entry["de"], reaction.de);
            assert_eq!(entry["sha256"], reaction.sha256);
            assert_eq!(entry["bytes"].as_u64(), Some(reaction.mp4.len() as u64));
            total += reaction.mp4.len() as u64;
        }
        assert_eq!(manifest["total_bytes"].as_u64(), Some(total));
    }

    #[test]
    fn phrases_name_both_sides_or_only_the_sender() {
        let hug = Reaction::find("HUG").expect("hug");
        assert_eq!(
            hug.phrase(Language::English, "Ana", Some("Ben")),
            "Ana hugs Ben"
        );
        assert_eq!(
            hug.phrase(Language::German, "Ana", Some("Ben")),
            "Ana umarmt Ben"
        );
        assert_eq!(
            hug.phrase(Language::English, "Ana", None),
            "Ana wants a hug"
        );
        for reaction in &REACTIONS {
            for template in [reaction.en, reaction.de] {
                assert!(
                    template.contains("{a}") && template.contains("{b}"),
                    "{}",
                    reaction.name
                );
            }
            for template in [reaction.en_alone, reaction.de_alone] {
                assert!(
                    template.contains("{a}") && !template.contains("{b}"),
                    "{}",
                    reaction.name
                );
            }
        }
    }

    #[test]
    fn broken_clips_are_named_by_their_problem() {
        let good = REACTIONS[0].mp4;
        assert_eq!(check_mp4(&[]), Err(ClipProblem::Empty));
        assert_eq!(
            check_mp4(&vec![0; CLIP_BYTES_MAX + 1]),
            Err(ClipProblem::TooLarge {
                bytes: CLIP_BYTES_MAX + 1
            })
        );
        assert_eq!(
            check_mp4(&good[..good.len() - 1]).map_err(|e| matches!(e, ClipProblem::BadBox { .. })),
            Err(true)
        );
        assert_eq!(check_mp4(b"\0\0\0\x0cRIFFWEBP"), Err(ClipProblem::NoFtyp));
        let ftyp = b"\0\0\0\x10ftypisom\0\0\x02\0";
        let mdat = b"\0\0\0\x0cmdatabcd";
        let moov = b"\0\0\0\x10moovtrakavc1";
        let moov_other = b"\0\0\0\x10moovtrakhev1";
        let cat = |parts: &[&[u8]]| parts.concat();
        assert_eq!(check_mp4(&cat(&[ftyp, mdat])), Err(ClipProblem::NoMoov));
        assert_eq!(check_mp4(&cat(&[ftyp, moov])), Err(ClipProblem::NoMdat));
        assert_eq!(
            check_mp4(&cat(&[ftyp, mdat, moov])),
            Err(ClipProblem::NotFaststart)
        );
        assert_eq!(
            check_mp4(&cat(&[ftyp, moov_other, mdat])),
            Err(ClipProblem::NotH264)
        );
        assert_eq!(check_mp4(&cat(&[ftyp, moov, mdat])), Ok(()));

        let like = |name, mp4, sha256| Reaction {
            name,
            mp4,
            sha256,
            ..*Reaction::find("hug").expect("hug")
        };
        let shipped = [
            like("hug", REACTIONS[0].mp4, REACTIONS[0].sha256),
            like("empty", &[], REACTIONS[0].sha256),
            like("stale", REACTIONS[0].mp4, "00"),
        ];
        assert_eq!(
            check_reactions(&shipped),
            Err(vec![
                BrokenClip {
                    name: "empty",
                    problem: ClipProblem::Empty
                },
                BrokenClip {
                    name: "stale",
                    problem: ClipProblem::ChangedSinceTable
                },
            ])
        );

        let err = BrokenClip {
            name: "hug",
            problem: ClipProblem::NotFaststart,
        };
        assert!(err.to_string().contains("media/reactions/hug.mp4"), "{err}");
    }
}
