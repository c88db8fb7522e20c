//! Helpers shared by the report tests.

#![allow(dead_code)] // Each test binary uses its own subset.

pub mod junit_xml;
pub mod synthetic;

use std::path::Path;

/// Reads a file the writer must have produced.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A decoded PNG: its size and pixels as RGB.
pub struct Image {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<[u8; 3]>,
}

pub fn decode_png(path: &Path) -> Image {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap_or_else(|e| panic!("{} does not decode: {e}", path.display()));
    let mut buffer = vec![
        0;
        reader
            .output_buffer_size()
            .expect("a chart's size fits memory")
    ];
    let info = reader.next_frame(&mut buffer).expect("one frame");
    assert_eq!(info.color_type, png::ColorType::Rgb, "charts are RGB");
    let rgb = buffer[..info.buffer_size()]
        .chunks_exact(3)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    Image {
        width: info.width,
        height: info.height,
        rgb,
    }
}

/// Every value of `attribute="..."` in an HTML or SVG document.
pub fn attribute_values<'a>(document: &'a str, attribute: &str) -> Vec<&'a str> {
    let needle = format!(" {attribute}=\"");
    document
        .match_indices(&needle)
        .map(|(at, _)| {
            let rest = &document[at + needle.len()..];
            &rest[..rest.find('"').expect("attribute values are closed")]
        })
        .collect()
}

/// The text of every `<text>` element of an SVG, unescaped and trimmed.
pub fn svg_texts(svg: &str) -> Vec<String> {
    use quick_xml::events::Event;
    let mut texts = Vec::new();
    let mut reader = quick_xml::Reader::from_str(svg);
    // The raw (escaped) text of the open <text> element; quick-xml reports entity
    // references as events of their own, so they are put back before unescaping.
    let mut raw: Option<String> = None;
    loop {
        match reader.read_event().expect("the SVG parses") {
            Event::Start(e) if e.name().as_ref() == b"text" => raw = Some(String::new()),
            Event::Text(t) => {
                if let Some(raw) = raw.as_mut() {
                    raw.push_str(&t.decode().expect("UTF-8 text"));
                }
            }
            Event::GeneralRef(r) => {
                if let Some(raw) = raw.as_mut() {
                    raw.push_str(&format!("&{};", r.decode().expect("UTF-8 reference")));
                }
            }
            Event::End(e) if e.name().as_ref() == b"text" => {
                let text = raw.take().expect("an end follows its start");
                let text = quick_xml::escape::unescape(&text).expect("valid escapes");
                texts.push(text.trim().to_owned());
            }
            Event::Eof => break,
            _ => {}
        }
    }
    texts
}

/// How many elements named `name` an SVG has.
pub fn count_elements(svg: &str, name: &str) -> usize {
    let mut reader = quick_xml::Reader::from_str(svg);
    let mut count = 0;
    loop {
        match reader.read_event().expect("the SVG parses") {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e)
                if e.name().as_ref() == name.as_bytes() =>
            {
                count += 1
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    count
}
