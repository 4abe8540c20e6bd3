//! The length prefix of a text payload record, read as the reference reads it.
//!
//! The reference takes the characters before `:` and accepts them when
//! JavaScript's `Number(prefix)` equals the length of the record it cuts
//! (loose `!=`). So besides plain digits it accepts what `Number` reads as
//! a whole number: white space around it (`" 5"`), a leading `+`, leading
//! zeros, a fraction or exponent that leaves an integer (`5.0`, `5e0`),
//! `0x5`, `0o5`, `0b101`, and a blank prefix (`" "`) for 0. A client never
//! sends those, but a payload the reference reads must read the same here,
//! and one it refuses must fail.

/// The record length a prefix announces, or `None` when the reference
/// refuses it: not a number, not a whole number, or negative.
///
/// The value may exceed what the payload holds; the caller checks that. An
/// empty prefix (`:` right at the start of a record) is refused before
/// `Number` is asked, as the reference does.
pub(super) fn record_length(prefix: &str) -> Option<u64> {
    if prefix.is_empty() {
        return None;
    }
    let number = js_number(prefix.trim_matches(is_js_space));
    // `-0` passes (it equals 0); NaN and the infinities fail `fract`.
    // Exact below 2^53; above, the record cannot exist anyway and the
    // saturating cast keeps it too long.
    (number >= 0.0 && number.fract() == 0.0).then_some(number as u64)
}

/// JavaScript's `StringToNumber` of an already trimmed string, except that
/// `Infinity` reads as NaN (it is refused either way).
fn js_number(s: &str) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let radix = match s.as_bytes() {
        [b'0', b'x' | b'X', ..] => 16,
        [b'0', b'o' | b'O', ..] => 8,
        [b'0', b'b' | b'B', ..] => 2,
        _ => 10,
    };
    if radix != 10 {
        return integer_in_radix(&s[2..], radix);
    }
    // Rust's float syntax is JavaScript's decimal literal (sign, digits,
    // fraction, exponent), plus `inf` and `nan`, kept out by this filter.
    if !s
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return f64::NAN;
    }
    s.parse().unwrap_or(f64::NAN)
}

/// The value of unsigned digits in `radix`, NaN when there are none or one
/// is not a digit (exact up to 2^53, close enough above: no record is that
/// long).
fn integer_in_radix(digits: &str, radix: u32) -> f64 {
    if digits.is_empty() {
        return f64::NAN;
    }
    digits
        .chars()
        .try_fold(0.0, |value: f64, c| {
            c.to_digit(radix)
                .map(|d| value.mul_add(f64::from(radix), f64::from(d)))
        })
        .unwrap_or(f64::NAN)
}

/// JavaScript's white space and line terminators, as `Number` trims them.
fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_number_reads() {
        for (prefix, len) in [
            ("5", 5),
            ("0", 0),
            ("012", 12),
            ("+1", 1),
            (" 1", 1),
            ("1 ", 1),
            ("\t1\n", 1),
            ("\u{a0}1", 1),
            ("\u{feff}1", 1),
            ("\u{3000}1\u{2028}", 1),
            ("0x1", 1),
            ("0X1f", 31),
            ("0b101", 5),
            ("0o17", 15),
            ("1.0", 1),
            ("1.", 1),
            (".1e1", 1),
            ("1e0", 1),
            ("10e-1", 1),
            ("1.00000000000000000001", 1),
            (" ", 0),
            ("-0", 0),
            ("1234", 1234),
        ] {
            assert_eq!(record_length(prefix), Some(len), "{prefix:?}");
        }
    }

    #[test]
    fn refuses_what_number_refuses() {
        for prefix in [
            "", "x", "a1", "-1", "1.5", "-0x1", "+0x1", "0x", "0b2", "Infinity", "inf", "nan",
            "1e400", "1_0", "\u{85}1", "1e", ".", "+", "--1", "1-", "0x1g", "٣",
        ] {
            assert_eq!(record_length(prefix), None, "{prefix:?}");
        }
    }

    #[test]
    fn keeps_huge_numbers_huge() {
        assert!(record_length("99999999999999999999").unwrap() > 1 << 53);
        assert!(record_length("0xffffffffffffffffffff").unwrap() > 1 << 53);
        assert!(record_length("1e300").unwrap() > 1 << 53);
    }
}
