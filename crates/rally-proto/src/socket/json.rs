//! A JSON validator for payloads: one pass, no tree, no allocation for the
//! first 64 levels of nesting.
//!
//! It accepts exactly what `JSON.parse` accepts (RFC 8259: no trailing
//! commas, no comments, no leading zeros, no control characters in strings;
//! lone surrogate escapes are fine) and, unlike a recursive parser, any depth.
//! On the way it reports where the items of a top-level array are, which is
//! all an event needs to keep its arguments raw.

use std::ops::Range;

/// Validates the JSON text `s` (white space around the value allowed) and
/// returns the value's range, without that white space; `None` when `s` is
/// not JSON. When the value is an array, `item` is called with the range of
/// each of its items, in order.
pub(crate) fn validate(s: &str, mut item: impl FnMut(Range<usize>)) -> Option<Range<usize>> {
    let b = s.as_bytes();
    let mut stack = Stack::default();
    let mut i = skip_ws(b, 0);
    let start = i;
    let mut item_start = 0;
    loop {
        // A value starts at `i`.
        if stack.depth == 1 && !stack.top_is_object() {
            item_start = i;
        }
        match *b.get(i)? {
            open @ (b'[' | b'{') => {
                let is_object = open == b'{';
                stack.push(is_object);
                i = skip_ws(b, i + 1);
                let close = if is_object { b'}' } else { b']' };
                if b.get(i) != Some(&close) {
                    if is_object {
                        i = key(b, i)?;
                    }
                    continue;
                }
                stack.pop();
                i += 1;
            }
            b'"' => i = string(b, i)?,
            b't' => i = literal(b, i, b"true")?,
            b'f' => i = literal(b, i, b"false")?,
            b'n' => i = literal(b, i, b"null")?,
            _ => i = number(b, i)?,
        }
        // A value ended at `i`: close containers until the next value.
        loop {
            if stack.depth == 1 && !stack.top_is_object() {
                item(item_start..i);
            }
            if stack.depth == 0 {
                return (skip_ws(b, i) == b.len()).then_some(start..i);
            }
            i = skip_ws(b, i);
            let is_object = stack.top_is_object();
            match *b.get(i)? {
                b',' => {
                    i = skip_ws(b, i + 1);
                    if is_object {
                        i = key(b, i)?;
                    }
                    break;
                }
                b']' if !is_object => {}
                b'}' if is_object => {}
                _ => return None,
            }
            stack.pop();
            i += 1;
        }
    }
}

/// Container kinds of the open levels: a bit each for the first 64, then a
/// vector (allocated only for deeper documents).
#[derive(Default)]
struct Stack {
    depth: usize,
    bits: u64,
    deeper: Vec<bool>,
}

impl Stack {
    fn push(&mut self, is_object: bool) {
        if self.depth < 64 {
            self.bits = (self.bits << 1) | u64::from(is_object);
        } else {
            self.deeper.push(is_object);
        }
        self.depth += 1;
    }

    fn pop(&mut self) {
        if self.depth > 64 {
            self.deeper.pop();
        } else {
            self.bits >>= 1;
        }
        self.depth = self.depth.saturating_sub(1);
    }

    fn top_is_object(&self) -> bool {
        if self.depth > 64 {
            self.deeper.last().copied().unwrap_or(false)
        } else {
            self.bits & 1 == 1
        }
    }
}

#[inline(always)]
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// An object key, the colon and the white space after it; returns where the
/// member's value starts.
#[inline(always)]
fn key(b: &[u8], i: usize) -> Option<usize> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let i = skip_ws(b, string(b, i)?);
    (b.get(i) == Some(&b':')).then(|| skip_ws(b, i + 1))
}

/// A string starting at the quote at `i`; returns the index after its end.
#[inline(always)]
fn string(b: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    loop {
        i = skip_plain(b, i);
        match *b.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => match *b.get(i + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                b'u' => {
                    let hex = b.get(i + 2..i + 6)?;
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return None;
                    }
                    i += 6;
                }
                _ => return None,
            },
            // A control character.
            _ => return None,
        }
    }
}

/// Skips the bytes of a string that need no attention (not `"`, `\\` or a
/// control character): most of a payload. Eight bytes at a time, then one.
#[inline(always)]
fn skip_plain(b: &[u8], i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let rest = b.get(i..).unwrap_or_default();
    for (n, chunk) in rest.chunks_exact(8).enumerate() {
        let Ok(chunk) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let v = u64::from_le_bytes(chunk);
        // The classic "has a zero byte" / "has a byte less than n" tests:
        // the lowest high bit set marks the first `"`, `\\` or control byte
        // (a borrow can only set bits above a real match).
        let quote = v ^ (ONES * u64::from(b'"'));
        let backslash = v ^ (ONES * u64::from(b'\\'));
        let found = ((quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (v.wrapping_sub(ONES * 0x20) & !v))
            & HIGHS;
        if found != 0 {
            return i + n * 8 + found.trailing_zeros() as usize / 8;
        }
    }
    let mut i = i + rest.len() / 8 * 8;
    while let Some(&c) = b.get(i) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            break;
        }
        i += 1;
    }
    i
}

#[inline(always)]
fn literal(b: &[u8], i: usize, word: &[u8]) -> Option<usize> {
    (b.get(i..i + word.len())? == word).then_some(i + word.len())
}

/// A number starting at `i`: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
#[inline(always)]
fn number(b: &[u8], mut i: usize) -> Option<usize> {
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match *b.get(i)? {
        b'0' => i += 1,
        b'1'..=b'9' => i = digits(b, i),
        _ => return None,
    }
    if b.get(i) == Some(&b'.') {
        i = at_least_one_digit(b, i + 1)?;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        i = at_least_one_digit(b, i)?;
    }
    Some(i)
}

#[inline(always)]
fn digits(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    i
}

#[inline(always)]
fn at_least_one_digit(b: &[u8], i: usize) -> Option<usize> {
    let end = digits(b, i);
    (end > i).then_some(end)
}

#[cfg(test)]
mod tests {
    use serde_json::value::RawValue;

    use super::*;

    /// What serde_json (no depth limit for raw values) says: the value's
    /// range and, for an array, its items' ranges.
    fn oracle(s: &str) -> Option<(Range<usize>, Vec<Range<usize>>)> {
        let base = s.as_ptr() as usize;
        let range = |r: &RawValue| {
            let start = r.get().as_ptr() as usize - base;
            start..start + r.get().len()
        };
        let raw: &RawValue = serde_json::from_str(s).ok()?;
        let items = serde_json::from_str::<Vec<&RawValue>>(s)
            .map(|items| items.into_iter().map(range).collect())
            .unwrap_or_default();
        Some((range(raw), items))
    }

    fn ours(s: &str) -> Option<(Range<usize>, Vec<Range<usize>>)> {
        let mut items = Vec::new();
        let range = validate(s, |r| items.push(r))?;
        Some((range, items))
    }

    fn same(s: &str) {
        // serde_json caps the depth of a `Vec` at 128; compare below that.
        if s.matches('[').count() + s.matches('{').count() < 120 {
            assert_eq!(ours(s), oracle(s), "{s:?}");
        }
    }

    #[test]
    fn valid_and_invalid_documents() {
        for s in [
            "0",
            "-0",
            "1.5",
            "-1.5e+3",
            "1E5",
            "1e-0",
            "123",
            "true",
            "false",
            "null",
            r#""""#,
            r#""a\"\\\/\b\f\n\r\t\u00e9\uD800""#,
            "[]",
            "{}",
            " [ ] ",
            "[1,2,[3,{}],{\"a\":[]}]",
            r#"{"a":1,"b":{"c":[true,false,null]}}"#,
            " \t\n\r\"x\" \n",
            "\"é\u{2028}😀\"",
            // Invalid ones.
            "",
            " ",
            "01",
            "-",
            "1.",
            ".5",
            "1e",
            "1e+",
            "+1",
            "--1",
            "0x1",
            "NaN",
            "Infinity",
            "tru",
            "nul",
            "True",
            "[",
            "]",
            "[1,]",
            "[,1]",
            "[1 2]",
            "{\"a\"}",
            "{\"a\":}",
            "{a:1}",
            "{\"a\":1,}",
            "{,}",
            "[1]]",
            "[1]x",
            "\"a",
            "\"\\x\"",
            "\"\\u12\"",
            "\"\\u12G4\"",
            "\"\u{1}\"",
            "\"\t\"",
            "'a'",
            "[1,{\"a\":[}]",
            "{\"a\":1 \"b\":2}",
            "[\"a\" : 1]",
            "{\"a\",1}",
            "\u{feff}1",
            "1 1",
            "[] []",
        ] {
            same(s);
        }
    }

    #[test]
    fn any_depth() {
        let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(validate(&deep, |_| {}), Some(0..deep.len()));
        let deep = format!("{}1{}", "{\"a\":[".repeat(1000), "]}".repeat(1000));
        assert_eq!(validate(&deep, |_| {}), Some(0..deep.len()));
        assert_eq!(validate(&"[".repeat(1000), |_| {}), None);
        let unbalanced = format!("{}1{}", "[".repeat(100), "}".repeat(100));
        assert_eq!(validate(&unbalanced, |_| {}), None);
    }

    /// The same answers as serde_json on mutations of valid documents.
    #[test]
    fn agrees_with_serde_json() {
        const SAMPLES: &[&str] = &[
            r#"["chat",{"text":"hi","n":[1,-2.5e3,true,null]},"x\"y",[]]"#,
            r#" {"a" : [ {"b":{}} , "\u00e9" ] , "c":0.5 } "#,
            r#"[1,[2,[3,[4,{"k":"v"}]]],"é"]"#,
        ];
        const ALPHABET: &[u8] = b"[]{}\",:\\ 0123-+.eEtrufalsnx\n\t";
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..10_000 {
            let mut s = SAMPLES[(next() % SAMPLES.len() as u64) as usize]
                .as_bytes()
                .to_vec();
            for _ in 0..=(next() % 3) {
                let c = ALPHABET[(next() % ALPHABET.len() as u64) as usize];
                let at = (next() % (s.len() as u64 + 1)) as usize;
                match next() % 3 {
                    0 => s.insert(at, c),
                    1 if at < s.len() => s[at] = c,
                    _ if at < s.len() => {
                        s.remove(at);
                    }
                    _ => s.push(c),
                }
            }
            if let Ok(s) = String::from_utf8(s) {
                same(&s);
                for cut in 0..s.len() {
                    if let Some(prefix) = s.get(..cut) {
                        same(prefix);
                    }
                }
            }
        }
    }
}
