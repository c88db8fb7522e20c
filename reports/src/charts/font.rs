//! The font charts are drawn with. plotters' `ab_glyph` feature reads fonts only from
//! its own table, so ours is embedded in the binary and registered once: charts then
//! look the same on every machine and need no system fonts.

use std::sync::Once;

use plotters::style::{FontStyle, register_font};

/// DejaVu Sans (Bitstream Vera licence, see `assets/DejaVuSans-LICENSE.txt`).
static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// The family name charts ask for.
pub(crate) const FAMILY: &str = "sans-serif";

/// Registers the embedded font under [`FAMILY`]; later calls do nothing.
pub(crate) fn register() {
    static REGISTERED: Once = Once::new();
    REGISTERED.call_once(|| {
        // `InvalidFont` has no Debug, so `expect` is unavailable; the font is a file
        // of this crate, so failing here is a bug in the build, not bad input.
        if register_font(FAMILY, FontStyle::Normal, DEJAVU_SANS).is_err() {
            panic!("the embedded DejaVu Sans is not a valid TrueType font");
        }
    });
}
