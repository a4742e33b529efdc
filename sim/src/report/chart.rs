//! Drawing one figure twice — SVG and PNG — with the bundled font.
//!
//! Text is laid out and rasterised with plotters' `ab_glyph` support from DejaVu Sans, which
//! is compiled into the binary (`sim/assets/DejaVuSans.ttf`, Bitstream Vera licence), so a PNG
//! renders the same on a machine without any system font. PNGs are encoded with the `png`
//! crate straight from the RGB buffer.

use std::io;
use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

/// The bundled font, registered as plotters' `sans-serif` family.
static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// The only font family the figures use.
pub const FAMILY: &str = "sans-serif";

/// What a drawing function returns on a backend.
pub type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// A figure that can draw itself on any backend.
pub trait Figure {
    /// Size in pixels.
    fn size(&self) -> (u32, u32) {
        (900, 560)
    }
    /// Draws the whole figure on `root`.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB>;
}

/// Colours of the series, in order (colour-blind friendly: Okabe–Ito).
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(120, 120, 120),
    RGBColor(0, 0, 0),
];

/// The `i`-th series colour.
pub fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Registers the bundled font once per process.
pub fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The font is compiled in and known to parse; a failure would leave text undrawn
        // (plotters then reports an error when drawing), never a panic.
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT);
    });
}

/// Writes `dir/name.svg` and `dir/name.png`; returns the SVG text (for inlining).
pub fn save(dir: &Path, name: &str, figure: &impl Figure) -> io::Result<String> {
    register_font();
    let (w, h) = figure.size();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        figure.draw(&root).map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    std::fs::write(dir.join(format!("{name}.svg")), &svg)?;
    let mut rgb = vec![0u8; (w as usize) * (h as usize) * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        figure.draw(&root).map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    write_png(&dir.join(format!("{name}.png")), w, h, &rgb)?;
    Ok(svg)
}

fn write_png(path: &Path, w: u32, h: u32, rgb: &[u8]) -> io::Result<()> {
    let file = std::fs::File::create(path)?;
    let mut encoder = png::Encoder::new(io::BufWriter::new(file), w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Best);
    let mut writer = encoder.write_header().map_err(io::Error::other)?;
    writer.write_image_data(rgb).map_err(io::Error::other)?;
    writer.finish().map_err(io::Error::other)
}

fn plot_error<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> io::Error {
    io::Error::other(format!("drawing a plot: {e}"))
}

/// A centred message on an empty area (e.g. "no rumors in this run").
pub fn empty_state<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    message: &str,
) -> DrawResult<DB> {
    let (w, h) = area.dim_in_pixel();
    area.draw(&Text::new(
        title.to_string(),
        (20, 16),
        (FAMILY, 22).into_font().color(&BLACK),
    ))?;
    let style = TextStyle::from((FAMILY, 18).into_font())
        .color(&RGBColor(90, 90, 90))
        .pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Center,
            plotters::style::text_anchor::VPos::Center,
        ));
    area.draw(&Text::new(
        message.to_string(),
        (w as i32 / 2, h as i32 / 2),
        style,
    ))
}

/// `[lo, hi]` padded so that a flat series still gets a visible range.
pub fn padded(lo: f64, hi: f64) -> (f64, f64) {
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        let pad = if hi.abs() < 1e-12 {
            1.0
        } else {
            hi.abs() * 0.1
        };
        return (lo - pad, hi + pad);
    }
    let pad = (hi - lo) * 0.05;
    (lo - pad, hi + pad)
}

/// Smallest and largest finite values.
pub fn bounds(values: impl IntoIterator<Item = f64>) -> (f64, f64) {
    values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        })
}
