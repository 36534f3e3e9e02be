//! Framing: every Noise message travels as a 3-byte big-endian length and
//! that many bytes. The client sends a one-time intro (an optional routing
//! prefix, then `WA 06 03`) in front of its first frame.
//!
//! A WebSocket message may carry several frames or a part of one, so the
//! decoder is a streaming buffer: push any chunking, pull whole frames. It
//! hands frames out as `&mut [u8]` so the transport can decrypt in place.

use thiserror::Error;

/// The intro header: "WA", protocol 6, binary dictionary version 3. Also the
/// Noise prologue.
pub const INTRO_HEADER: [u8; 4] = [0x57, 0x41, 0x06, 0x03];
/// Starts the optional routing prefix that precedes [`INTRO_HEADER`]
/// when the stored credentials hold routing info ("ED", 0, 1).
pub const ROUTING_PREFIX: [u8; 4] = [0x45, 0x44, 0x00, 0x01];
/// The largest length three bytes can express.
pub const FRAME_BYTES_MAX_WIRE: usize = (1 << 24) - 1;
/// A sane default cap: large enough for any stanza the server sends in
/// practice (history sync blobs go over HTTPS, not the socket).
pub const FRAME_BYTES_MAX_DEFAULT: usize = 4 << 20;

const LEN_BYTES: usize = 3;

/// What went wrong in the byte stream. Framing errors are fatal to the
/// connection: once one is returned the decoder keeps returning it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FrameError {
    #[error("frame at stream offset {offset} declares {len} bytes, over the limit of {max}")]
    TooLarge { offset: u64, len: usize, max: usize },
    #[error("payload of {len} bytes cannot be framed (limit {max})")]
    PayloadTooLarge { len: usize, max: usize },
    #[error("intro at stream offset {offset} is not a WhatsApp header (got {got:02x?})")]
    BadIntro { offset: u64, got: [u8; 4] },
    #[error("routing info of {len} bytes is longer than the 3-byte length allows")]
    RoutingInfoTooLong { len: usize },
}

/// The intro a client sends once: optional routing prefix, then the header.
pub fn client_intro(routing_info: Option<&[u8]>) -> Result<Vec<u8>, FrameError> {
    let mut intro = Vec::with_capacity(11 + routing_info.map_or(0, <[u8]>::len));
    if let Some(routing) = routing_info {
        if routing.len() > FRAME_BYTES_MAX_WIRE {
            return Err(FrameError::RoutingInfoTooLong { len: routing.len() });
        }
        intro.extend_from_slice(&ROUTING_PREFIX);
        intro.extend_from_slice(&len_prefix(routing.len()));
        intro.extend_from_slice(routing);
    }
    intro.extend_from_slice(&INTRO_HEADER);
    Ok(intro)
}

fn len_prefix(len: usize) -> [u8; LEN_BYTES] {
    let [_, a, b, c] = (len as u32).to_be_bytes();
    [a, b, c]
}

/// Writes frames; the first one carries the intro if there is one.
#[derive(Debug, Clone)]
pub struct FrameEncoder {
    pending_intro: Vec<u8>,
    frame_bytes_max: usize,
}

impl FrameEncoder {
    /// A client's encoder: the intro (with routing prefix if any) goes in
    /// front of the first frame.
    pub fn client(routing_info: Option<&[u8]>, frame_bytes_max: usize) -> Result<Self, FrameError> {
        Ok(Self {
            pending_intro: client_intro(routing_info)?,
            frame_bytes_max: frame_bytes_max.min(FRAME_BYTES_MAX_WIRE),
        })
    }

    /// A server's encoder: no intro.
    pub fn server(frame_bytes_max: usize) -> Self {
        Self {
            pending_intro: Vec::new(),
            frame_bytes_max: frame_bytes_max.min(FRAME_BYTES_MAX_WIRE),
        }
    }

    /// Appends one frame holding `payload` (and the intro, the first time)
    /// to `out`.
    pub fn encode_into(&mut self, payload: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
        if payload.len() > self.frame_bytes_max {
            return Err(FrameError::PayloadTooLarge {
                len: payload.len(),
                max: self.frame_bytes_max,
            });
        }
        out.reserve(self.pending_intro.len() + LEN_BYTES + payload.len());
        out.append(&mut self.pending_intro);
        out.extend_from_slice(&len_prefix(payload.len()));
        out.extend_from_slice(payload);
        Ok(())
    }

    /// One frame as a fresh buffer.
    pub fn encode(&mut self, payload: &[u8]) -> Result<Vec<u8>, FrameError> {
        let mut out = Vec::new();
        self.encode_into(payload, &mut out)?;
        Ok(out)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IntroState {
    /// Client side: the server sends no intro.
    None,
    /// Server side: the next bytes are the client's intro.
    Expected,
}

/// Reassembles frames from arbitrarily chunked input.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    /// Start of unread bytes in `buf`.
    read: usize,
    /// Stream offset of `buf[0]`, for error messages.
    base_offset: u64,
    frame_bytes_max: usize,
    intro: IntroState,
    routing_info: Option<Vec<u8>>,
    failed: Option<FrameError>,
}

impl FrameDecoder {
    /// A client's decoder: the stream is frames from the first byte.
    pub fn client(frame_bytes_max: usize) -> Self {
        Self::with_intro(frame_bytes_max, IntroState::None)
    }

    /// A server's decoder: the stream starts with the client's intro.
    pub fn server(frame_bytes_max: usize) -> Self {
        Self::with_intro(frame_bytes_max, IntroState::Expected)
    }

    fn with_intro(frame_bytes_max: usize, intro: IntroState) -> Self {
        Self {
            buf: Vec::new(),
            read: 0,
            base_offset: 0,
            frame_bytes_max: frame_bytes_max.min(FRAME_BYTES_MAX_WIRE),
            intro,
            routing_info: None,
            failed: None,
        }
    }

    /// Routing info the client put in its intro (server side), once read.
    pub fn routing_info(&self) -> Option<&[u8]> {
        self.routing_info.as_deref()
    }

    /// Bytes received but not yet handed out as frames.
    pub fn buffered_len(&self) -> usize {
        self.buf.len() - self.read
    }

    /// Feeds received bytes, in any chunking.
    pub fn push(&mut self, chunk: &[u8]) {
        // Reclaim consumed space before growing: keeps the buffer at
        // roughly one frame plus one chunk, however long the stream runs.
        if self.read > 0 && (self.read == self.buf.len() || self.read >= self.buf.capacity() / 2) {
            self.buf.drain(..self.read);
            self.base_offset += self.read as u64;
            self.read = 0;
        }
        self.buf.extend_from_slice(chunk);
    }

    /// The next whole frame, or `None` until more bytes arrive. The slice
    /// is valid until the next call; decrypt it in place.
    pub fn next_frame(&mut self) -> Result<Option<&mut [u8]>, FrameError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        if self.intro == IntroState::Expected && !self.read_intro()? {
            return Ok(None);
        }
        let Some(len) = self.length_at(0)? else {
            return Ok(None);
        };
        if self.buffered_len() < LEN_BYTES + len {
            return Ok(None);
        }
        let start = self.read + LEN_BYTES;
        self.read = start + len;
        Ok(Some(&mut self.buf[start..start + len]))
    }

    /// Consumes the client intro if it has fully arrived; false = wait.
    fn read_intro(&mut self) -> Result<bool, FrameError> {
        let Some(head) = self.buf[self.read..].get(..4) else {
            return Ok(false);
        };
        let mut consumed = 0;
        if head == ROUTING_PREFIX {
            let Some(len) = self.length_at(4)? else {
                return Ok(false);
            };
            let Some(routing) = self.buf[self.read..].get(7..7 + len) else {
                return Ok(false);
            };
            self.routing_info = Some(routing.to_vec());
            consumed = 7 + len;
        }
        let Some(header) = self.buf[self.read..].get(consumed..consumed + 4) else {
            return Ok(false);
        };
        if header != INTRO_HEADER {
            let mut got = [0u8; 4];
            got.copy_from_slice(header);
            let offset = self.stream_offset() + consumed as u64;
            return Err(self.fail(FrameError::BadIntro { offset, got }));
        }
        self.read += consumed + 4;
        self.intro = IntroState::None;
        Ok(true)
    }

    /// The 3-byte length `at` bytes past the read position, checked
    /// against the cap; `None` until all three bytes are here.
    fn length_at(&mut self, at: usize) -> Result<Option<usize>, FrameError> {
        let Some(&[a, b, c]) = self.buf[self.read..].get(at..at + LEN_BYTES) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes([0, a, b, c]) as usize;
        if len > self.frame_bytes_max {
            let offset = self.stream_offset();
            return Err(self.fail(FrameError::TooLarge {
                offset,
                len,
                max: self.frame_bytes_max,
            }));
        }
        Ok(Some(len))
    }

    fn stream_offset(&self) -> u64 {
        self.base_offset + self.read as u64
    }

    fn fail(&mut self, err: FrameError) -> FrameError {
        self.failed = Some(err.clone());
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames_of(decoder: &mut FrameDecoder) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(frame) = decoder.next_frame().expect("valid stream") {
            out.push(frame.to_vec());
        }
        out
    }

    #[test]
    fn client_intro_precedes_only_the_first_frame() {
        let mut enc = FrameEncoder::client(None, FRAME_BYTES_MAX_DEFAULT).expect("no routing");
        assert_eq!(
            enc.encode(b"ab").expect("fits"),
            [0x57, 0x41, 0x06, 0x03, 0, 0, 2, b'a', b'b']
        );
        assert_eq!(enc.encode(b"c").expect("fits"), [0, 0, 1, b'c']);
    }

    #[test]
    fn routing_prefix_goes_before_the_header() {
        let intro = client_intro(Some(&[9, 8])).expect("short routing info");
        assert_eq!(intro, [0x45, 0x44, 0, 1, 0, 0, 2, 9, 8, 0x57, 0x41, 6, 3]);
    }

    #[test]
    fn server_reads_routing_info_and_frames() {
        let mut enc = FrameEncoder::client(Some(b"route"), 64).expect("short");
        let bytes = [
            enc.encode(b"one").expect("fits"),
            enc.encode(b"two").expect("fits"),
        ]
        .concat();
        let mut dec = FrameDecoder::server(64);
        dec.push(&bytes);
        assert_eq!(frames_of(&mut dec), [b"one".to_vec(), b"two".to_vec()]);
        assert_eq!(dec.routing_info(), Some(&b"route"[..]));
    }

    #[test]
    fn empty_frame_is_a_frame() {
        let mut dec = FrameDecoder::client(16);
        dec.push(&[0, 0, 0]);
        assert_eq!(frames_of(&mut dec), [Vec::<u8>::new()]);
    }

    #[test]
    fn oversized_frame_is_refused_with_its_offset_and_stays_refused() {
        let mut dec = FrameDecoder::client(4);
        dec.push(&[0, 0, 1, 7, 0, 0, 5]);
        assert_eq!(
            dec.next_frame().expect("first fits").map(|f| f.to_vec()),
            Some(vec![7])
        );
        let err = dec.next_frame().expect_err("second is over the cap");
        assert_eq!(
            err,
            FrameError::TooLarge {
                offset: 4,
                len: 5,
                max: 4
            }
        );
        dec.push(&[1, 2, 3, 4, 5]);
        assert_eq!(dec.next_frame().expect_err("poisoned"), err);
    }

    #[test]
    fn encoder_refuses_payloads_over_its_cap() {
        let mut enc = FrameEncoder::server(2);
        assert_eq!(
            enc.encode(b"abc"),
            Err(FrameError::PayloadTooLarge { len: 3, max: 2 })
        );
    }

    #[test]
    fn bad_intro_is_named() {
        let mut dec = FrameDecoder::server(16);
        dec.push(b"GET / HTTP/1.1");
        assert_eq!(
            dec.next_frame(),
            Err(FrameError::BadIntro {
                offset: 0,
                got: *b"GET "
            })
        );
    }

    #[test]
    fn buffer_stays_small_over_a_long_stream() {
        let mut enc = FrameEncoder::server(1024);
        let frame = enc.encode(&[0xAA; 100]).expect("fits");
        let mut dec = FrameDecoder::client(1024);
        for _ in 0..10_000 {
            dec.push(&frame);
            assert_eq!(frames_of(&mut dec).len(), 1);
        }
        assert!(
            dec.buf.capacity() < 4 * frame.len(),
            "capacity {}",
            dec.buf.capacity()
        );
    }
}
