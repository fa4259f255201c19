//! What an image upload gets besides its bytes (FILE-03): its size in pixels, the small
//! base64 JPEG an `RC:ImgMsg` carries in its `content` (shown before the original is
//! fetched, as the commercial SDKs make it: at most 240 px a side, quality 30), a resized
//! preview for large photos, and optionally the original without its EXIF block.

use std::io::Cursor;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageReader};

/// The thumbnail's longest side, in pixels.
pub const THUMBNAIL_SIDE: u32 = 240;
const THUMBNAIL_QUALITY: u8 = 30;
/// Originals larger than this (longest side) also get a preview of this size.
pub const PREVIEW_SIDE: u32 = 1080;
const PREVIEW_QUALITY: u8 = 85;
/// Decoding allocates per pixel: refuse images above this many (a 20 MiB PNG can claim
/// billions) before allocating.
const MAX_PIXELS: u64 = 100_000_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processed {
    pub width: u32,
    pub height: u32,
    /// Base64 JPEG, at most [`THUMBNAIL_SIDE`] a side.
    pub thumbnail: String,
    /// A JPEG at most [`PREVIEW_SIDE`] a side, when the original is larger.
    pub preview: Option<Bytes>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("not an image this service reads (JPEG, PNG, GIF, WebP): {0}")]
    Unreadable(String),
    #[error("the image is {0} pixels; at most {MAX_PIXELS} are processed")]
    TooManyPixels(u64),
}

/// Decodes an image and derives its thumbnail and preview. CPU-bound: run it off the
/// async workers.
pub fn process(bytes: &[u8]) -> Result<Processed, ImageError> {
    let unreadable = |e: &dyn std::fmt::Display| ImageError::Unreadable(e.to_string());
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| unreadable(&e))?;
    let (width, height) = reader.into_dimensions().map_err(|e| unreadable(&e))?;
    let pixels = u64::from(width) * u64::from(height);
    if pixels > MAX_PIXELS {
        return Err(ImageError::TooManyPixels(pixels));
    }
    let image = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| unreadable(&e))?
        .decode()
        .map_err(|e| unreadable(&e))?;
    let thumbnail = jpeg(
        &image.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE),
        THUMBNAIL_QUALITY,
    );
    let preview = (width.max(height) > PREVIEW_SIDE).then(|| {
        let resized = image.resize(PREVIEW_SIDE, PREVIEW_SIDE, FilterType::Triangle);
        Bytes::from(jpeg(&resized, PREVIEW_QUALITY))
    });
    Ok(Processed {
        width,
        height,
        thumbnail: STANDARD.encode(thumbnail),
        preview,
    })
}

fn jpeg(image: &DynamicImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    // JPEG has no alpha: flatten to RGB first. Writing to memory cannot fail.
    let rgb = DynamicImage::ImageRgb8(image.to_rgb8());
    let _ = rgb.write_with_encoder(JpegEncoder::new_with_quality(&mut out, quality));
    out
}

/// The JPEG without its EXIF segment (camera, time, GPS location), the pixels untouched;
/// anything else unchanged.
pub fn without_exif(bytes: Bytes) -> Bytes {
    match img_parts::jpeg::Jpeg::from_bytes(bytes.clone()) {
        Ok(mut jpeg) => {
            use img_parts::ImageEXIF;
            jpeg.set_exif(None);
            jpeg.encoder().bytes()
        }
        Err(_) => bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GenericImageView, ImageFormat, RgbImage};

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn a_large_photo_gets_a_thumbnail_and_a_preview_within_their_sides() {
        let processed = process(&png(2000, 1000)).unwrap();
        assert_eq!((processed.width, processed.height), (2000, 1000));
        let thumbnail =
            image::load_from_memory(&STANDARD.decode(&processed.thumbnail).unwrap()).unwrap();
        assert_eq!(thumbnail.dimensions(), (240, 120));
        let preview = image::load_from_memory(&processed.preview.unwrap()).unwrap();
        assert_eq!(preview.dimensions(), (1080, 540));
    }

    #[test]
    fn a_small_image_has_no_preview_and_garbage_is_refused() {
        let processed = process(&png(100, 50)).unwrap();
        assert!(processed.preview.is_none());
        assert!(matches!(
            process(b"not an image"),
            Err(ImageError::Unreadable(_))
        ));
    }

    #[test]
    fn exif_is_removed_and_the_pixels_kept() {
        let mut jpeg = Vec::new();
        RgbImage::from_pixel(8, 8, image::Rgb([200, 10, 10]))
            .write_with_encoder(JpegEncoder::new(&mut jpeg))
            .unwrap();
        let mut parts = img_parts::jpeg::Jpeg::from_bytes(Bytes::from(jpeg)).unwrap();
        use img_parts::ImageEXIF;
        parts.set_exif(Some(Bytes::from_static(b"Exif\0\0GPS-LOCATION")));
        let with_exif = parts.encoder().bytes();
        assert!(with_exif.windows(12).any(|w| w == b"GPS-LOCATION"));
        let stripped = without_exif(with_exif.clone());
        assert!(!stripped.windows(12).any(|w| w == b"GPS-LOCATION"));
        let before = image::load_from_memory(&with_exif).unwrap().to_rgb8();
        let after = image::load_from_memory(&stripped).unwrap().to_rgb8();
        assert_eq!(before, after);
    }
}
