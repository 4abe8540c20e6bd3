//! The JavaScript number rules the reference parser relies on.
//!
//! socket.io-parser reads the attachment count and the ack id with `Number()`
//! and loose comparisons (`Number(c) == c`), so white space counts as a digit
//! and `0x2` is a valid count. These helpers reproduce exactly that.

/// Whether `c` is white space for JavaScript's `Number()`
/// (`StrWhiteSpaceChar`: ECMAScript white space and line terminators).
pub(crate) const fn is_whitespace(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{B}' | '\u{C}' | '\r' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202F}'
                | '\u{205F}'
                | '\u{3000}'
                | '\u{FEFF}'
    )
}

/// Whether `Number(c) == c` holds for the one-character string `c`: an ASCII
/// digit, or white space (which `Number()` reads as `0`).
pub(crate) const fn is_digit_like(c: char) -> bool {
    c.is_ascii_digit() || is_whitespace(c)
}

/// JavaScript's `Number(s)`, `None` standing for `NaN`.
///
/// White space around the number is ignored and an empty string is `0`;
/// decimal literals (`1`, `+1.5`, `.5e1`, `Infinity`) and unsigned `0x`, `0o`,
/// `0b` literals are numbers; anything else is `NaN`.
pub(crate) fn number(s: &str) -> Option<f64> {
    let s = s.trim_matches(is_whitespace);
    if s.is_empty() {
        return Some(0.0);
    }
    let radix = match s.as_bytes() {
        [b'0', b'x' | b'X', ..] => 16,
        [b'0', b'o' | b'O', ..] => 8,
        [b'0', b'b' | b'B', ..] => 2,
        _ => 10,
    };
    if radix != 10 {
        let digits = s.get(2..)?;
        if digits.is_empty() {
            return None;
        }
        return digits.chars().try_fold(0.0, |acc: f64, c| {
            c.to_digit(radix)
                .map(|d| acc * f64::from(radix) + f64::from(d))
        });
    }
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    if unsigned == "Infinity" {
        return Some(if s.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    // Rust's float grammar equals JavaScript's `StrDecimalLiteral` once the
    // words Rust also accepts (`inf`, `nan`) are ruled out by this filter.
    if !s
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    s.parse().ok()
}

/// JavaScript's `String(n)` for a number: the property key an event emitter
/// uses when the event name is a number.
pub(crate) fn number_to_string(n: f64) -> String {
    if n.is_nan() {
        return "NaN".to_owned();
    }
    if n.is_infinite() {
        return if n > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    if n == 0.0 {
        return "0".to_owned();
    }
    let abs = n.abs();
    if (1e-6..1e21).contains(&abs) {
        // Shortest round-trip digits, positional: the same as JavaScript here.
        return format!("{n}");
    }
    // Shortest digits with an exponent; JavaScript writes `e+21`, Rust `e21`.
    let s = format!("{n:e}");
    match s.split_once('e') {
        Some((mantissa, exp)) if !exp.starts_with('-') => format!("{mantissa}e+{exp}"),
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_follows_javascript() {
        for (s, n) in [
            ("", Some(0.0)),
            (" ", Some(0.0)),
            ("\u{a0}3\n", Some(3.0)),
            ("10", Some(10.0)),
            ("+1", Some(1.0)),
            ("1.", Some(1.0)),
            (".5e1", Some(5.0)),
            ("1e1", Some(10.0)),
            ("0x1A", Some(26.0)),
            ("0b11", Some(3.0)),
            ("0o17", Some(15.0)),
            ("Infinity", Some(f64::INFINITY)),
            ("-Infinity", Some(f64::NEG_INFINITY)),
            ("0x", None),
            ("-0x1", None),
            ("1 2", None),
            ("inf", None),
            ("nan", None),
            ("infinity", None),
            ("1e", None),
            (".", None),
            ("abc", None),
            ("1_0", None),
        ] {
            assert_eq!(number(s), n, "Number({s:?})");
        }
    }

    #[test]
    fn digit_like_chars() {
        assert!(is_digit_like('7'));
        assert!(is_digit_like(' '));
        assert!(is_digit_like('\u{2028}'));
        assert!(!is_digit_like('\u{85}'));
        assert!(!is_digit_like('['));
    }

    #[test]
    fn number_to_string_follows_javascript() {
        for (n, s) in [
            (1.0, "1"),
            (-0.0, "0"),
            (100.0, "100"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (1e21, "1e+21"),
            (1.5e-7, "1.5e-7"),
            (123_456_789_012_345_680_000.0, "123456789012345680000"),
            (f64::INFINITY, "Infinity"),
        ] {
            assert_eq!(number_to_string(n), s);
        }
    }
}
