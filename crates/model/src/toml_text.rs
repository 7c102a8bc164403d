//! Where in a TOML file an error is, for every file promig reads (scenarios, calibration
//! profiles): the 1-based line an editor shows and the key written there, so a message points
//! at the cell to fix.

/// 1-based line of a byte offset (offsets past the end count as the last line).
pub fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The key assigned on a 1-based line (`key = ...`), or the table named there (`[a.b]`), for
/// when the document is too broken to look the key up by its span.
pub fn key_on_line(text: &str, line: usize) -> String {
    let l = text.lines().nth(line.saturating_sub(1)).unwrap_or("");
    match l.split_once('=') {
        Some((k, _)) => k.trim().trim_matches('"').to_string(),
        None => l.trim().trim_matches(|c| c == '[' || c == ']').to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_keys_are_found_as_an_editor_shows_them() {
        let text = "a = 1\n[t.u]\n\"b\" = nan\n";
        assert_eq!(line_of(text, 0), 1);
        assert_eq!(line_of(text, text.find("nan").unwrap()), 3);
        assert_eq!(line_of(text, 10_000), 4);
        assert_eq!(key_on_line(text, 3), "b");
        assert_eq!(key_on_line(text, 2), "t.u");
        assert_eq!(key_on_line(text, 99), "");
    }
}
