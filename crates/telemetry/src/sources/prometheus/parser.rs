//! The Prometheus text exposition format (0.0.4), parsed straight from bytes into the store.
//!
//! Hand-written: the hot path must not allocate per sample and must not build label maps, which
//! general parsers do. A series is keyed by its exposed `name{labels}` text (exporters print
//! labels in a stable order), looked up by hash; only a series' first appearance allocates.

use crate::store::{IngestStats, Store};

/// Parses `body` and appends every valid sample to `store`. Samples without a timestamp get
/// `default_ts_ms` (the scrape time). Malformed lines are counted in `stats` and skipped; nothing
/// already stored is touched.
pub fn ingest_text(store: &mut Store, body: &[u8], default_ts_ms: i64, stats: &mut IngestStats) {
    for line in lines(body) {
        match parse_line(line) {
            Line::Skip => {}
            Line::Bad => stats.bad_lines += 1,
            Line::Sample { key, value, ts_ms } => match store.series(key) {
                Some(id) => store.append(id, ts_ms.unwrap_or(default_ts_ms), value, stats),
                None => stats.unknown_series += 1,
            },
        }
    }
}

/// As [`ingest_text`], with `extra_labels` (rendered `a="x",b="y"`, see [`render_labels`])
/// appended to every series' labels: what tells apart two exporters that expose the same names.
/// `key` is a buffer reused across calls so that only a series' first appearance allocates.
pub fn ingest_text_labelled(
    store: &mut Store,
    body: &[u8],
    default_ts_ms: i64,
    extra_labels: &[u8],
    key: &mut Vec<u8>,
    stats: &mut IngestStats,
) {
    if extra_labels.is_empty() {
        return ingest_text(store, body, default_ts_ms, stats);
    }
    for line in lines(body) {
        match parse_line(line) {
            Line::Skip => {}
            Line::Bad => stats.bad_lines += 1,
            Line::Sample {
                key: exposed,
                value,
                ts_ms,
            } => {
                with_labels(exposed, extra_labels, key);
                match store.series(key) {
                    Some(id) => store.append(id, ts_ms.unwrap_or(default_ts_ms), value, stats),
                    None => stats.unknown_series += 1,
                }
            }
        }
    }
}

/// Renders labels as they appear inside a series key's braces (`a="x",b="y"`, values escaped as
/// in the exposition format), in the order given.
pub fn render_labels<'a>(labels: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, (name, value)) in labels.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"=\"");
        for &b in value.as_bytes() {
            match b {
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'"' => out.extend_from_slice(b"\\\""),
                b'\n' => out.extend_from_slice(b"\\n"),
                _ => out.push(b),
            }
        }
        out.push(b'"');
    }
    out
}

/// `exposed` (a key as parsed: `name` or `name{...}`) with `extra` appended inside its braces.
fn with_labels(exposed: &[u8], extra: &[u8], out: &mut Vec<u8>) {
    out.clear();
    match exposed.strip_suffix(b"}") {
        Some(open) => {
            out.extend_from_slice(open);
            // `name{}` and a trailing comma (`name{a="x",}`) are valid and need no separator.
            if !matches!(open.last(), Some(b'{') | Some(b',')) {
                out.push(b',');
            }
        }
        None => {
            out.extend_from_slice(exposed);
            out.push(b'{');
        }
    }
    out.extend_from_slice(extra);
    out.push(b'}');
}

/// The lines of a body, without their newlines.
fn lines(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    memchr::memchr_iter(b'\n', body)
        .chain(std::iter::once(body.len()))
        .scan(0usize, move |start, end| {
            let line = &body[(*start).min(end)..end];
            *start = end + 1;
            Some(line)
        })
}

/// One parsed line.
#[derive(Debug, PartialEq)]
pub enum Line<'a> {
    /// Blank or comment.
    Skip,
    /// Not valid exposition format.
    Bad,
    /// A sample.
    Sample {
        /// `name{labels}` as written.
        key: &'a [u8],
        /// Value (may be NaN or infinite; the store decides).
        value: f64,
        /// Explicit timestamp, if any.
        ts_ms: Option<i64>,
    },
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b':'
}

/// Metric and label name characters as a table: one load per byte instead of four compares
/// (names are most of a line's bytes).
const NAME_CHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || c == b'_' || c == b':';
        b += 1;
    }
    t
};

fn is_name_char(b: u8) -> bool {
    NAME_CHAR[b as usize]
}

/// Parses one line (without its newline).
pub fn parse_line(line: &[u8]) -> Line<'_> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut i = 0;
    while i < line.len() && (line[i] == b' ' || line[i] == b'\t') {
        i += 1;
    }
    if i == line.len() || line[i] == b'#' {
        return Line::Skip;
    }
    let start = i;
    if !is_name_start(line[i]) {
        return Line::Bad;
    }
    while i < line.len() && is_name_char(line[i]) {
        i += 1;
    }
    if i < line.len() && line[i] == b'{' {
        match skip_labels(line, i + 1) {
            Some(end) => i = end,
            None => return Line::Bad,
        }
    }
    let key = &line[start..i];
    // Value.
    let rest = &line[i..];
    if rest.first().is_none_or(|&b| b != b' ' && b != b'\t') {
        return Line::Bad;
    }
    let mut tokens = Tokens { s: rest, i: 0 };
    let Some(value_tok) = tokens.next() else {
        return Line::Bad;
    };
    let Some(value) = parse_value(value_tok) else {
        return Line::Bad;
    };
    let ts_ms = match tokens.next() {
        None => None,
        Some(t) => match std::str::from_utf8(t)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
        {
            Some(v) => Some(v),
            None => return Line::Bad,
        },
    };
    if tokens.next().is_some() {
        return Line::Bad;
    }
    Line::Sample { key, value, ts_ms }
}

/// Whitespace-separated tokens of the rest of a line.
struct Tokens<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Iterator for Tokens<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let s = self.s;
        while self.i < s.len() && (s[self.i] == b' ' || s[self.i] == b'\t') {
            self.i += 1;
        }
        if self.i == s.len() {
            return None;
        }
        let start = self.i;
        while self.i < s.len() && s[self.i] != b' ' && s[self.i] != b'\t' {
            self.i += 1;
        }
        Some(&s[start..self.i])
    }
}

/// Skips a label block starting after `{`; returns the index after `}`.
fn skip_labels(line: &[u8], mut i: usize) -> Option<usize> {
    loop {
        while i < line.len() && (line[i] == b' ' || line[i] == b',') {
            i += 1;
        }
        if i >= line.len() {
            return None;
        }
        if line[i] == b'}' {
            return Some(i + 1);
        }
        if !is_name_start(line[i]) {
            return None;
        }
        while i < line.len() && is_name_char(line[i]) {
            i += 1;
        }
        if i >= line.len() || line[i] != b'=' {
            return None;
        }
        i += 1;
        if i >= line.len() || line[i] != b'"' {
            return None;
        }
        i += 1;
        // Jump to the next quote or backslash (label values are long: paths, versions).
        loop {
            i += memchr::memchr2(b'"', b'\\', line.get(i..)?)?;
            if line[i] == b'"' {
                i += 1;
                break;
            }
            i += 2;
        }
    }
}

fn parse_value(tok: &[u8]) -> Option<f64> {
    // Fast path for plain integers (counters, gauges of counts: most exporter values), which the
    // general float parser handles at several times the cost. Up to 15 digits stay exact in f64.
    if !tok.is_empty() && tok.len() <= 15 && tok.iter().all(u8::is_ascii_digit) {
        let mut v: u64 = 0;
        for &d in tok {
            v = v * 10 + (d - b'0') as u64;
        }
        return Some(v as f64);
    }
    match tok {
        b"NaN" => Some(f64::NAN),
        b"+Inf" | b"Inf" => Some(f64::INFINITY),
        b"-Inf" => Some(f64::NEG_INFINITY),
        _ => std::str::from_utf8(tok).ok()?.parse::<f64>().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_exporters_write() {
        assert_eq!(parse_line(b"# HELP x y"), Line::Skip);
        assert_eq!(parse_line(b""), Line::Skip);
        assert_eq!(
            parse_line(b"up 1"),
            Line::Sample {
                key: b"up",
                value: 1.0,
                ts_ms: None
            }
        );
        assert_eq!(
            parse_line(br#"node_cpu_seconds_total{cpu="0",mode="idle"} 1.5e3 1700000000000"#),
            Line::Sample {
                key: br#"node_cpu_seconds_total{cpu="0",mode="idle"}"#,
                value: 1500.0,
                ts_ms: Some(1_700_000_000_000)
            }
        );
        assert_eq!(
            parse_line(br#"x{a="q\"}uote",b="",} -Inf"#),
            Line::Sample {
                key: br#"x{a="q\"}uote",b="",}"#,
                value: f64::NEG_INFINITY,
                ts_ms: None
            }
        );
    }

    #[test]
    fn refuses_malformed_lines() {
        for bad in [
            &b"1up 2"[..],
            b"up",
            b"up x",
            b"up{a=1} 2",
            b"up{a=\"1\" 2",
            b"up 1 2 3",
            b"up 1 ts",
            b"up{a=\"1\"}2",
        ] {
            assert_eq!(
                parse_line(bad),
                Line::Bad,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn ingestion_counts_what_it_refuses() {
        let mut s = Store::new(8, 100);
        let mut st = IngestStats::default();
        ingest_text(&mut s, b"a 1\nb NaN\ngarbage line\na 2 5\n", 10, &mut st);
        assert_eq!(st.accepted, 1, "{st:?}"); // a@10
        assert_eq!(st.non_finite, 1);
        assert_eq!(st.bad_lines, 1);
        assert_eq!(st.out_of_order, 1); // a@5 after a@10
    }

    #[test]
    fn extra_labels_go_inside_the_braces_of_every_form() {
        let extra = render_labels([("host", "h\"1"), ("dc", "x")]);
        assert_eq!(extra, br#"host="h\"1",dc="x""#);
        let mut s = Store::new(8, 100);
        let mut st = IngestStats::default();
        let mut key = Vec::new();
        let body = b"a 1\nb{} 2\nc{m=\"q\"} 3\nd{m=\"q\",} 4\n";
        ingest_text_labelled(&mut s, body, 10, &extra, &mut key, &mut st);
        assert_eq!(st.accepted, 4, "{st:?}");
        for k in [
            r#"a{host="h\"1",dc="x"}"#,
            r#"b{host="h\"1",dc="x"}"#,
            r#"c{m="q",host="h\"1",dc="x"}"#,
            r#"d{m="q",host="h\"1",dc="x"}"#,
        ] {
            assert!(s.find(k).is_some(), "{k} missing");
        }
        // Without extra labels the keys are the exposed ones.
        ingest_text_labelled(&mut s, b"a 1", 20, b"", &mut key, &mut st);
        assert!(s.find("a").is_some());
    }
}
