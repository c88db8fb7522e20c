//! PNG encoding of a rendered chart. The `png` crate is used directly (rather than
//! plotters' `image` encoder) to keep the dependency tree small and to pick a fast
//! compression level: charts are flat colours and compress well either way.

use png::{BitDepth, ColorType, Compression, Encoder, EncodingError};

/// Encodes 8-bit RGB `pixels` of a `width` by `height` image.
pub(crate) fn encode_rgb(pixels: &[u8], width: u32, height: u32) -> Result<Vec<u8>, EncodingError> {
    assert_eq!(
        pixels.len(),
        width as usize * height as usize * 3,
        "an RGB buffer holds three bytes per pixel"
    );
    let mut bytes = Vec::new();
    let mut encoder = Encoder::new(&mut bytes, width, height);
    encoder.set_color(ColorType::Rgb);
    encoder.set_depth(BitDepth::Eight);
    encoder.set_compression(Compression::Fast);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(pixels)?;
    writer.finish()?;
    Ok(bytes)
}
