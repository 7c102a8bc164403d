//! Timestamps in the text formats real data sets use, as seconds since 1970. Hand-written: one
//! conversion (Howard Hinnant's days-from-civil) does not justify a date crate.

/// Seconds since 1970 of `YYYY-MM-DD[(T| )HH:MM:SS[.ffffff][±HHMM]]` (offset applied when
/// present, fractions of a second dropped): ISO 8601 with `T`, and the space NAB and many CSV
/// exports write, mean the same instant.
pub fn parse_iso(s: &str) -> Option<f64> {
    let s = s.trim();
    let (date, rest) = s.split_once(['T', ' ']).unwrap_or((s, ""));
    let mut d = date.split('-');
    let (y, m, day): (i64, i64, i64) = (
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let (clock, offset_s) = match rest.find(['+', '-']) {
        Some(p) => {
            let (c, o) = rest.split_at(p);
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let digits: String = o[1..].chars().filter(char::is_ascii_digit).collect();
            if digits.len() != 4 {
                return None;
            }
            let hh: i64 = digits[..2].parse().ok()?;
            let mm: i64 = digits[2..].parse().ok()?;
            (c, sign * (hh * 3600 + mm * 60))
        }
        None => (rest, 0),
    };
    let secs = if clock.is_empty() {
        0
    } else {
        let mut c = clock.split(':');
        let h: i64 = c.next()?.parse().ok()?;
        let mi: i64 = c.next().unwrap_or("0").parse().ok()?;
        let se: f64 = c.next().unwrap_or("0").parse().ok()?;
        if !(0..24).contains(&h) || !(0..60).contains(&mi) || !(0.0..61.0).contains(&se) {
            return None;
        }
        h * 3600 + mi * 60 + se as i64
    };
    // Days from civil (Howard Hinnant's algorithm), to avoid a date crate for one conversion.
    let yy = if m <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + secs - offset_s) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(parse_iso("1970-01-01"), Some(0.0));
        assert_eq!(parse_iso("2019-01-04T14:41:12-0500"), Some(1_546_630_872.0));
        assert_eq!(parse_iso("2021-05-04T17:03:13"), Some(1_620_147_793.0));
        assert_eq!(parse_iso("2021-13-04"), None);
        assert_eq!(parse_iso("2021-05-04T25:03:13"), None);
    }

    #[test]
    fn a_space_and_a_t_mean_the_same_instant() {
        assert_eq!(
            parse_iso("2014-02-16 00:00:00"),
            parse_iso("2014-02-16T00:00:00")
        );
        assert_eq!(
            parse_iso("2014-02-16 00:00:00.000000"),
            parse_iso("2014-02-16T00:00:00")
        );
    }
}
