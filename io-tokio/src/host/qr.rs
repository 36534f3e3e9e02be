//! Draws a QR code in the terminal with Unicode half blocks: two modules
//! per character cell, so a whole code fits a normal window.

use qrcode::{EcLevel, QrCode};

/// The text as a block of lines, dark modules drawn light-on-dark so the
/// code scans from a dark terminal (with the quiet zone the spec asks for).
pub fn render(text: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::L).ok()?;
    let width = code.width();
    let colors = code.to_colors();
    const QUIET: usize = 2;
    let size = width + 2 * QUIET;
    let dark = |x: usize, y: usize| -> bool {
        if x < QUIET || y < QUIET || x >= width + QUIET || y >= width + QUIET {
            return false;
        }
        colors
            .get((y - QUIET) * width + (x - QUIET))
            .is_some_and(|c| *c == qrcode::Color::Dark)
    };
    let mut out = String::with_capacity(size * size);
    for y in (0..size).step_by(2) {
        for x in 0..size {
            // A light cell is drawn (the terminal background is dark).
            out.push(match (!dark(x, y), !dark(x, y + 1) && y + 1 < size) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        out.push('\n');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_a_square_block() {
        let drawing =
            super::render("https://wa.me/settings/linked_devices#ref,abc").expect("fits a QR");
        let lines: Vec<&str> = drawing.lines().collect();
        let width = lines[0].chars().count();
        assert!(width > 20);
        assert!(lines.iter().all(|l| l.chars().count() == width));
        assert_eq!(lines.len(), width.div_ceil(2));
    }
}
