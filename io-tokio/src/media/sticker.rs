//! An image (JPEG, PNG or WebP) made into a WhatsApp sticker: a 512×512
//! WebP, the image scaled to fit with its aspect kept and the rest
//! transparent, carrying the pack's name where WhatsApp reads it (an EXIF
//! chunk whose one tag, 0x5741, holds the pack's JSON, as the Node.js
//! bots' sticker makers write it). Lossless WebP: the `image` crate has
//! no lossy encoder.

use std::io::Cursor;

use image::codecs::webp::WebPEncoder;
use image::imageops::{self, FilterType};
use image::{ExtendedColorType, ImageEncoder, ImageReader, Limits, RgbaImage};
use thiserror::Error;

/// A sticker's side, in pixels.
pub const STICKER_SIDE_PX: u32 = 512;
/// The largest image decoded (a side), past it refused before decoding.
pub const STICKER_SOURCE_SIDE_MAX_PX: u32 = 8192;
/// What decoding may allocate at most.
const DECODE_ALLOC_BYTES_MAX: u64 = 192 * 1024 * 1024;

/// Why an image makes no sticker.
#[derive(Debug, Error)]
pub enum StickerError {
    #[error("not an image this build reads (JPEG, PNG, WebP)")]
    UnknownFormat,
    #[error("the image does not decode: {0}")]
    Decode(String),
    #[error("the WebP does not encode: {0}")]
    Encode(String),
}

/// `image` as a sticker of `pack`.
pub fn to_sticker_webp(image: &[u8], pack: &str) -> Result<Vec<u8>, StickerError> {
    let mut reader = ImageReader::new(Cursor::new(image))
        .with_guessed_format()
        .map_err(|e| StickerError::Decode(e.to_string()))?;
    if reader.format().is_none() {
        return Err(StickerError::UnknownFormat);
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(STICKER_SOURCE_SIDE_MAX_PX);
    limits.max_image_height = Some(STICKER_SOURCE_SIDE_MAX_PX);
    limits.max_alloc = Some(DECODE_ALLOC_BYTES_MAX);
    reader.limits(limits);
    let decoded = reader
        .decode()
        .map_err(|e| StickerError::Decode(e.to_string()))?;
    // Scaled to fit the square, aspect kept.
    let fitted = decoded
        .resize(STICKER_SIDE_PX, STICKER_SIDE_PX, FilterType::Triangle)
        .to_rgba8();
    let mut canvas = RgbaImage::new(STICKER_SIDE_PX, STICKER_SIDE_PX);
    let x = (STICKER_SIDE_PX - fitted.width()) / 2;
    let y = (STICKER_SIDE_PX - fitted.height()) / 2;
    imageops::overlay(&mut canvas, &fitted, i64::from(x), i64::from(y));
    let mut out = Vec::new();
    let mut encoder = WebPEncoder::new_lossless(&mut out);
    encoder
        .set_exif_metadata(pack_exif(pack))
        .map_err(|e| StickerError::Encode(e.to_string()))?;
    encoder
        .write_image(
            canvas.as_raw(),
            STICKER_SIDE_PX,
            STICKER_SIDE_PX,
            ExtendedColorType::Rgba8,
        )
        .map_err(|e| StickerError::Encode(e.to_string()))?;
    Ok(out)
}

/// The EXIF block WhatsApp reads a sticker's pack from: a little-endian
/// TIFF header, one IFD entry (tag 0x5741, type UNDEFINED, the JSON's
/// length, at offset 22), then the JSON.
fn pack_exif(pack: &str) -> Vec<u8> {
    let json = serde_json::json!({
        "sticker-pack-id": format!("blacksky.{pack}"),
        "sticker-pack-name": pack,
        "sticker-pack-publisher": "blacksky",
        "emojis": [""],
    })
    .to_string();
    let len = u32::try_from(json.len()).unwrap_or(u32::MAX);
    let mut exif = vec![
        0x49, 0x49, 0x2a, 0x00, 0x08, 0x00, 0x00, 0x00, // "II*", IFD at 8
        0x01, 0x00, // one entry
        0x41, 0x57, 0x07, 0x00, // tag 0x5741, type 7
    ];
    exif.extend_from_slice(&len.to_le_bytes());
    exif.extend_from_slice(&[0x16, 0x00, 0x00, 0x00]); // the value at 22
    exif.extend_from_slice(json.as_bytes());
    exif
}

#[cfg(test)]
mod tests {
    use image::{GenericImageView, ImageFormat, Rgba};

    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = RgbaImage::from_pixel(width, height, Rgba([200, 30, 30, 255]));
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, ImageFormat::Png).expect("png");
        out.into_inner()
    }

    #[test]
    fn a_wide_image_becomes_a_padded_square_webp_with_its_pack() {
        let webp = to_sticker_webp(&png(300, 100), "blacksky").expect("converts");
        assert_eq!(&webp[..4], b"RIFF");
        assert_eq!(&webp[8..12], b"WEBP");
        assert!(
            webp.windows(17).any(|w| w == b"sticker-pack-name"),
            "the pack rides in the EXIF chunk"
        );
        let back = image::load_from_memory_with_format(&webp, ImageFormat::WebP).expect("reads");
        assert_eq!(back.dimensions(), (512, 512));
        // 300x100 scales to 512x170: the rows above are transparent, the
        // middle is the image.
        assert_eq!(back.get_pixel(256, 10)[3], 0, "padding is transparent");
        assert_eq!(back.get_pixel(256, 256), Rgba([200, 30, 30, 255]));
    }

    #[test]
    fn what_is_no_image_is_said() {
        assert!(matches!(
            to_sticker_webp(b"just some text, not a picture", "p"),
            Err(StickerError::UnknownFormat)
        ));
        let mut broken = png(40, 40);
        broken.truncate(60);
        assert!(matches!(
            to_sticker_webp(&broken, "p"),
            Err(StickerError::Decode(_))
        ));
    }
}
