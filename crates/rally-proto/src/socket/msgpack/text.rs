//! JavaScript's text forms: numbers as `String(n)` writes them, dates as
//! `toISOString`, strings as `JSON.stringify` quotes them and `JSON.parse`
//! reads them, and the array-index keys objects put first.

use std::fmt::Write as _;

/// Appends `n` as JavaScript's `String(n)` (and so `JSON.stringify`) writes
/// a finite number: the shortest digits that read back to `n`, in plain
/// notation from 1e-7 (exclusive) to 1e21 (exclusive), else as `1.5e+21`.
/// `-0` is `0`. Not for NaN or infinities (the callers write `null`).
pub(super) fn push_number(out: &mut String, n: f64) {
    if n == 0.0 {
        out.push('0');
        return;
    }
    // Rust's `{:e}` gives the same shortest round-trip digits: `-1.2345e-7`.
    let mut sci = String::with_capacity(32);
    let _ = write!(sci, "{:e}", n.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let k = digits.len() as i32;
    // The decimal point goes after `point` digits.
    let point = exp + 1;
    if n < 0.0 {
        out.push('-');
    }
    if k <= point && point <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (point - k) as usize));
    } else if 0 < point && point <= 21 {
        let (int, frac) = digits.split_at(point as usize);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    } else if -6 < point && point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-point) as usize));
        out.push_str(&digits);
    } else {
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        let e = point - 1;
        out.push('e');
        out.push(if e < 0 { '-' } else { '+' });
        let _ = write!(out, "{}", e.unsigned_abs());
    }
}

/// The most milliseconds from the epoch a JavaScript `Date` holds.
const MAX_TIME: i64 = 8_640_000_000_000_000;

/// Appends the JSON of the `Date` `ms` milliseconds from the epoch: its
/// `toISOString()` in quotes (`"2026-12-07T17:55:38.000Z"`, years outside
/// 0 to 9999 as `+010000` / `-000001`), or `null` for a time no `Date`
/// holds, as `JSON.stringify` writes an invalid date. Whether it was a
/// valid date.
pub(crate) fn push_date(out: &mut String, ms: i64) -> bool {
    if !(-MAX_TIME..=MAX_TIME).contains(&ms) {
        out.push_str("null");
        return false;
    }
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    out.push('"');
    let _ = if (0..=9999).contains(&year) {
        write!(out, "{year:04}")
    } else {
        write!(
            out,
            "{}{:06}",
            if year < 0 { '-' } else { '+' },
            year.unsigned_abs()
        )
    };
    let _ = write!(
        out,
        "-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z\"",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    );
    true
}

/// The proleptic Gregorian date of a day count from 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Appends `s` as a JSON string, escaped as `JSON.stringify` escapes it:
/// `"` and `\`, the short forms `\b \f \n \r \t`, other control characters
/// as `\u00xx`; everything else as it is.
pub(super) fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x0c => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(s.get(start..i).unwrap_or_default());
        if escape.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(s.get(start..).unwrap_or_default());
    out.push('"');
}

/// Unescapes the inside of a JSON string (without its quotes) into `out`, as
/// `JSON.parse` reads it, a lone surrogate becoming U+FFFD (what `Buffer`
/// writes for one). `None` for a bad escape.
pub(super) fn unescape(raw: &str, out: &mut String) -> Option<()> {
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let c = match chars.next()? {
            '"' => '"',
            '\\' => '\\',
            '/' => '/',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => {
                let unit = hex4(&mut chars)?;
                if (0xd800..0xdc00).contains(&unit) {
                    // A high surrogate: a low one must follow as an escape.
                    let rest = chars.as_str();
                    if let Some(low) = rest
                        .strip_prefix("\\u")
                        .and_then(|r| hex4(&mut r.chars()))
                        .filter(|low| (0xdc00..0xe000).contains(low))
                    {
                        chars = rest.get(6..)?.chars();
                        let code = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
                        char::from_u32(code)?
                    } else {
                        '\u{fffd}'
                    }
                } else {
                    char::from_u32(unit).unwrap_or('\u{fffd}')
                }
            }
            _ => return None,
        };
        out.push(c);
    }
    Some(())
}

/// Four hex digits of a `\u` escape.
fn hex4(chars: &mut std::str::Chars<'_>) -> Option<u32> {
    let mut unit = 0;
    for _ in 0..4 {
        unit = unit * 16 + chars.next()?.to_digit(16)?;
    }
    Some(unit)
}

/// The index of an array-index key (`"0"` to `"4294967294"`, no leading
/// zero), which JavaScript objects list first, in ascending order.
pub(super) fn array_index(key: &str) -> Option<u32> {
    let b = key.as_bytes();
    if b.is_empty() || b.len() > 10 || (b.len() > 1 && b[0] == b'0') {
        return None;
    }
    if !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    key.parse::<u64>()
        .ok()
        .filter(|&n| n < u64::from(u32::MAX))
        .and_then(|n| u32::try_from(n).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(n: f64) -> String {
        let mut s = String::new();
        push_number(&mut s, n);
        s
    }

    /// `String(n)` in Node.js.
    #[test]
    fn numbers_as_javascript_writes_them() {
        let cases = [
            (1.5, "1.5"),
            (-0.25, "-0.25"),
            (0.1, "0.1"),
            (1e21, "1e+21"),
            (1.5e21, "1.5e+21"),
            (1e20, "100000000000000000000"),
            (123_456_789_012_345_680_000.0, "123456789012345680000"),
            (1e-7, "1e-7"),
            (1.25e-7, "1.25e-7"),
            (1e-6, "0.000001"),
            (2.5e-5, "0.000025"),
            (123.456, "123.456"),
            (5e-324, "5e-324"),
            (1.797_693_134_862_315_7e308, "1.7976931348623157e+308"),
            (-0.0, "0"),
            (0.0, "0"),
            (1.0 / 3.0, "0.3333333333333333"),
            (-1e-300, "-1e-300"),
            (100.0, "100"),
            (4.35e-310, "4.35e-310"),
        ];
        for (n, s) in cases {
            assert_eq!(number(n), s, "{n:e}");
        }
    }

    /// `JSON.stringify(new Date(ms))` in Node.js.
    #[test]
    fn dates_as_javascript_writes_them() {
        let cases = [
            (1_765_123_456_789, "\"2025-12-07T16:04:16.789Z\""),
            (-62_198_755_200_000, "\"-000001-01-01T00:00:00.000Z\""),
            (253_402_300_800_000, "\"+010000-01-01T00:00:00.000Z\""),
            (-1, "\"1969-12-31T23:59:59.999Z\""),
            (0, "\"1970-01-01T00:00:00.000Z\""),
            (951_782_400_000, "\"2000-02-29T00:00:00.000Z\""),
            (8_640_000_000_000_000, "\"+275760-09-13T00:00:00.000Z\""),
            (-8_640_000_000_000_000, "\"-271821-04-20T00:00:00.000Z\""),
            (8_640_000_000_000_001, "null"),
            (i64::MIN, "null"),
        ];
        for (ms, s) in cases {
            let mut out = String::new();
            push_date(&mut out, ms);
            assert_eq!(out, s, "{ms}");
        }
    }

    #[test]
    fn strings_escape_and_unescape() {
        let mut out = String::new();
        push_json_string(&mut out, "a\"b\\c\n\t\u{1}\u{7f}é\u{2028}\u{8}\u{c}\r");
        assert_eq!(out, "\"a\\\"b\\\\c\\n\\t\\u0001\u{7f}é\u{2028}\\b\\f\\r\"");
        let mut back = String::new();
        unescape(&out[1..out.len() - 1], &mut back).unwrap();
        assert_eq!(back, "a\"b\\c\n\t\u{1}\u{7f}é\u{2028}\u{8}\u{c}\r");

        let cases = [
            (r"\ud83d\ude00", "😀"),
            (r"\ud800", "\u{fffd}"),
            (r"\ud800x", "\u{fffd}x"),
            (r"\ude00\ud83d", "\u{fffd}\u{fffd}"),
            (r"\ud800\u0041", "\u{fffd}A"),
            (r"\/\u00E9", "/é"),
        ];
        for (raw, s) in cases {
            let mut out = String::new();
            unescape(raw, &mut out).unwrap();
            assert_eq!(out, s, "{raw}");
        }
        for bad in [r"\x", r"\u12", r"\u12g4", "\\"] {
            assert_eq!(unescape(bad, &mut String::new()), None, "{bad}");
        }
    }

    #[test]
    fn array_indexes() {
        for (key, index) in [
            ("0", Some(0)),
            ("1", Some(1)),
            ("4294967294", Some(4_294_967_294)),
            ("4294967295", None),
            ("01", None),
            ("-1", None),
            ("1.5", None),
            ("", None),
            ("99999999999", None),
            ("a", None),
        ] {
            assert_eq!(array_index(key), index, "{key}");
        }
    }
}
