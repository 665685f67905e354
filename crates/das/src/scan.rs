//! A validating JSON scanner over text already checked to be UTF-8.
//!
//! [`crate::payload`] walks the activity payload with it: every value is checked against the JSON
//! grammar (RFC 8259) as it is passed, but only the few strings routing needs are decoded.
//! Activity events are small objects of many short fields, where a general deserializer spends
//! most of its time per token rather than per byte; this scanner keeps the per-token work to a
//! byte comparison and skips string contents eight bytes at a time.
//!
//! Rare paths defer to serde_json so that they read exactly as serde reads them: strings holding
//! escapes ([`Cursor::str_value`]) and numbers that are read rather than skipped.

use std::borrow::Cow;

use crate::record::JsonFault;

/// How deep containers may nest inside one value (serde_json's limit, less the enclosing object).
pub const MAX_NESTING: usize = 127;

/// A position in JSON text, and what stopped the scan if something did.
#[derive(Debug)]
pub struct Cursor<'a> {
    text: &'a str,
    pos: usize,
    /// The category of the fault the scan stopped at (see [`Cursor::fault`]).
    category: &'static str,
}

/// The scan stopped at a fault; [`Cursor::fault`] says what and where. (Zero-sized, so that the
/// hot paths return their results in registers.)
#[derive(Debug)]
pub struct Stop;

/// Bytes with every byte set to `b`.
const fn splat(b: u8) -> u64 {
    u64::from_ne_bytes([b; 8])
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `text`.
    pub fn new(text: &'a str) -> Self {
        Self {
            text,
            pos: 0,
            category: "syntax",
        }
    }

    /// The byte offset of the cursor.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// The text from `start` up to the cursor.
    #[inline]
    pub fn since(&self, start: usize) -> &'a str {
        self.text.get(start..self.pos).unwrap_or_default()
    }

    #[inline]
    fn byte(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    /// Moves past white space.
    #[inline]
    pub fn skip_ws(&mut self) {
        while matches!(self.byte(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.pos += 1;
        }
    }

    /// The next byte after white space.
    #[inline]
    pub fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.byte()
    }

    /// Consumes `byte` if it comes next.
    #[inline]
    pub fn eat(&mut self, byte: u8) -> bool {
        // Compact JSON, the common case: the byte is right here.
        if self.byte() == Some(byte) {
            self.pos += 1;
            return true;
        }
        let found = self.peek() == Some(byte);
        self.pos += usize::from(found);
        found
    }

    /// Consumes `byte`, which must come next.
    #[inline]
    pub fn expect(&mut self, byte: u8) -> Result<(), Stop> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    /// Whether only white space is left.
    pub fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    /// Stops the scan at the cursor with a fault of `category`.
    #[cold]
    pub fn stop(&mut self, category: &'static str) -> Stop {
        self.category = category;
        Stop
    }

    /// Stops the scan because what is at the cursor is not what the grammar allows there.
    #[cold]
    pub fn unexpected(&mut self) -> Stop {
        self.stop(if self.pos >= self.text.len() {
            "eof"
        } else {
            "syntax"
        })
    }

    /// What the scan stopped at: its category and place, never the text.
    pub fn fault(&self) -> JsonFault {
        JsonFault::at(self.category, self.text.as_bytes(), self.pos)
    }

    /// Stops the scan at serde_json's fault in the one-line value that starts at `start`.
    #[cold]
    fn serde_stop(&mut self, start: usize, e: serde_json::Error) -> Stop {
        let fault = JsonFault::from(e);
        self.pos = (start + fault.column.saturating_sub(1)).min(self.text.len());
        self.stop(fault.category)
    }

    /// Moves over the string at the cursor, which must be at its opening quote; returns whether
    /// it holds an escape sequence.
    #[inline(always)]
    pub fn string(&mut self) -> Result<bool, Stop> {
        if self.byte() != Some(b'"') {
            return Err(self.unexpected());
        }
        self.pos += 1;
        let mut escaped = false;
        loop {
            match self.skip_plain() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(escaped);
                }
                Some(b'\\') => {
                    escaped = true;
                    self.escape()?;
                }
                Some(0..0x20) => return Err(self.stop("syntax")),
                Some(_) => self.pos += 1,
                None => return Err(self.stop("eof")),
            }
        }
    }

    /// The value of the string literal from `start` to the cursor, as [`Self::string`] passed
    /// it: borrowed when it has no escapes, else decoded by serde_json (which also refuses an
    /// unpaired surrogate, as it would when reading the string itself).
    #[inline]
    pub fn str_value(&mut self, start: usize, escaped: bool) -> Result<Cow<'a, str>, Stop> {
        if escaped {
            return self.unescape(start).map(Cow::Owned);
        }
        Ok(Cow::Borrowed(
            self.text.get(start + 1..self.pos - 1).unwrap_or_default(),
        ))
    }

    /// The raw bytes between the quotes of the string literal from `start` to the cursor, as
    /// [`Self::string`] passed it (its value when it holds no escape).
    #[inline]
    pub fn string_bytes(&self, start: usize) -> &'a [u8] {
        let text: &'a [u8] = self.text.as_bytes();
        text.get(start + 1..self.pos - 1).unwrap_or_default()
    }

    #[cold]
    fn unescape(&mut self, start: usize) -> Result<String, Stop> {
        serde_json::from_str(self.since(start)).map_err(|e| self.serde_stop(start, e))
    }

    /// Reads the string at the cursor into its value.
    #[inline]
    pub fn read_str(&mut self) -> Result<Cow<'a, str>, Stop> {
        let start = self.pos;
        let escaped = self.string()?;
        self.str_value(start, escaped)
    }

    /// Moves over string bytes that need no attention (not `"`, `\` or a control character),
    /// eight at a time while eight remain; returns the byte it stopped at, if any.
    #[inline]
    fn skip_plain(&mut self) -> Option<u8> {
        const ONES: u64 = splat(1);
        const HIGH: u64 = splat(0x80);
        while let Some(chunk) = self
            .text
            .as_bytes()
            .get(self.pos..)
            .and_then(<[u8]>::first_chunk::<8>)
        {
            let w = u64::from_le_bytes(*chunk);
            let quote = w ^ splat(b'"');
            let backslash = w ^ splat(b'\\');
            // The high bit of each byte that is zero in `quote` / `backslash`, or below 0x20 in
            // `w`. Borrows only carry upwards, so the lowest flag marks the first such byte.
            let flags = (quote.wrapping_sub(ONES) & !quote
                | backslash.wrapping_sub(ONES) & !backslash
                | w.wrapping_sub(splat(0x20)) & !w)
                & HIGH;
            if flags != 0 {
                let at = flags.trailing_zeros() / 8;
                self.pos += at as usize;
                return Some(chunk[at as usize & 7]);
            }
            self.pos += 8;
        }
        self.byte()
    }

    /// Moves over one escape sequence (the cursor at its backslash).
    fn escape(&mut self) -> Result<(), Stop> {
        self.pos += 1;
        match self.byte() {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.pos += 1;
                Ok(())
            }
            Some(b'u') => {
                self.pos += 1;
                for _ in 0..4 {
                    match self.byte() {
                        Some(b) if b.is_ascii_hexdigit() => self.pos += 1,
                        _ => return Err(self.unexpected()),
                    }
                }
                Ok(())
            }
            _ => Err(self.unexpected()),
        }
    }

    /// Reads the number at the cursor and returns its text.
    pub fn number(&mut self) -> Result<&'a str, Stop> {
        let start = self.pos;
        if self.byte() == Some(b'-') {
            self.pos += 1;
        }
        match self.byte() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits()?,
            _ => return Err(self.unexpected()),
        }
        if self.byte() == Some(b'.') {
            self.pos += 1;
            self.digits()?;
        }
        if matches!(self.byte(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.byte(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            self.digits()?;
        }
        Ok(self.since(start))
    }

    /// Reads the number at the cursor as `T` with serde_json.
    pub fn read_number<T: serde::Deserialize<'a>>(&mut self) -> Result<T, Stop> {
        let start = self.pos;
        let number = self.number()?;
        serde_json::from_str(number).map_err(|e| self.serde_stop(start, e))
    }

    /// Moves over one or more digits.
    #[inline]
    fn digits(&mut self) -> Result<(), Stop> {
        let start = self.pos;
        while matches!(self.byte(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.unexpected());
        }
        Ok(())
    }

    /// Moves over `word` (`true`, `false` or `null`), which must come next.
    fn literal(&mut self, word: &[u8]) -> Result<(), Stop> {
        let rest = self.text.as_bytes().get(self.pos..).unwrap_or_default();
        if rest.starts_with(word) {
            self.pos += word.len();
            return Ok(());
        }
        // Point at the first byte that differs, as a reader going byte by byte would.
        self.pos += rest.iter().zip(word).take_while(|(a, b)| a == b).count();
        Err(self.unexpected())
    }

    /// Moves over any value, checking it, with at most `nesting` levels of containers inside.
    /// Strings and numbers, most of what events hold, are passed without a call.
    #[inline]
    pub fn skip_value(&mut self, nesting: usize) -> Result<(), Stop> {
        match self.peek() {
            Some(b'"') => self.string().map(drop),
            Some(b'-' | b'0'..=b'9') => self.number().map(drop),
            _ => self.skip_other(nesting),
        }
    }

    /// [`Self::skip_value`] for literals and containers.
    fn skip_other(&mut self, nesting: usize) -> Result<(), Stop> {
        match self.peek() {
            Some(b'n') => self.literal(b"null"),
            Some(b'{') => self.skip_container(b'}', nesting),
            Some(b'[') => self.skip_container(b']', nesting),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            _ => Err(self.unexpected()),
        }
    }

    /// Moves over an object or array (the cursor at its opening bracket) ending in `close`.
    fn skip_container(&mut self, close: u8, nesting: usize) -> Result<(), Stop> {
        let Some(inner) = nesting.checked_sub(1) else {
            return Err(self.stop("syntax"));
        };
        self.pos += 1;
        if self.eat(close) {
            return Ok(());
        }
        loop {
            if close == b'}' {
                self.skip_ws();
                self.string()?;
                self.expect(b':')?;
            }
            self.skip_value(inner)?;
            if !self.eat(b',') {
                return self.expect(close);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Where `text`'s first value ends, or the fault that stopped the scan.
    fn skip(text: &str) -> Result<usize, JsonFault> {
        let mut c = Cursor::new(text);
        match c.skip_value(MAX_NESTING) {
            Ok(()) => Ok(c.pos()),
            Err(Stop) => Err(c.fault()),
        }
    }

    /// Reads the string `text` starts with.
    fn read(text: &str) -> Result<Cow<'_, str>, JsonFault> {
        let mut c = Cursor::new(text);
        c.read_str().map_err(|Stop| c.fault())
    }

    #[test]
    fn given_strings_then_plain_and_escaped_forms_are_told_apart() {
        let plain = read(r#""plain ✓ text over eight bytes" "#).expect("plain");
        assert_eq!(plain, "plain ✓ text over eight bytes");
        assert!(matches!(plain, Cow::Borrowed(_)));
        let escaped = read(r#""a\"b\u00e9","#).expect("escaped");
        assert_eq!(escaped, "a\"bé");
    }

    #[test]
    fn given_a_quote_at_each_offset_of_a_chunk_then_the_string_ends_there() {
        for n in 0..20 {
            let text = format!("\"{}\",", "x".repeat(n));
            assert_eq!(skip(&text), Ok(n + 2), "{text}");
        }
    }

    #[test]
    fn given_unpaired_surrogate_then_skipped_but_not_decoded() {
        let text = r#"  "ab\ud800""#;
        assert_eq!(skip(text), Ok(text.len()));
        let mut c = Cursor::new(text);
        c.skip_ws();
        c.read_str().expect_err("lone surrogate");
        let fault = c.fault();
        assert_eq!((fault.category, fault.column), ("syntax", 12));
    }

    #[test]
    fn given_invalid_values_then_fault_points_at_the_offending_byte() {
        let cases = [
            ("\"a\u{1}b\"", "syntax", 3),
            ("\"a\\x\"", "syntax", 4),
            ("\"a\\u12g4\"", "syntax", 7),
            ("\"abc", "eof", 5),
            ("01", "syntax", 2), // the 0 is a number; the caller refuses the 1
            ("-", "eof", 2),
            ("1.", "eof", 3),
            ("1.e5", "syntax", 3),
            ("tru", "eof", 4),
            ("trux", "syntax", 4),
            ("[1,]", "syntax", 4),
            ("{\"a\" 1}", "syntax", 6),
            ("{1:2}", "syntax", 2),
            ("[", "eof", 2),
            ("x", "syntax", 1),
        ];
        for (text, category, column) in cases {
            let got = skip(text).and_then(|end| {
                let mut c = Cursor::new(text);
                c.pos = end;
                if c.at_end() { Ok(end) } else { Err(c.fault()) }
            });
            let fault = got.expect_err(text);
            assert_eq!((fault.category, fault.column), (category, column), "{text}");
        }
    }

    #[test]
    fn given_deep_nesting_then_refused_past_the_limit() {
        let ok = format!("{}{}", "[".repeat(MAX_NESTING), "]".repeat(MAX_NESTING));
        assert_eq!(skip(&ok), Ok(ok.len()));
        let deep = format!(
            "{}{}",
            "[".repeat(MAX_NESTING + 1),
            "]".repeat(MAX_NESTING + 1)
        );
        assert_eq!(skip(&deep).map_err(|f| f.category), Err("syntax"));
    }

    proptest! {
        /// serde_json is the reference: a value skips to its end exactly when serde reads it.
        #[test]
        fn given_json_like_text_then_accepted_exactly_when_serde_accepts(
            text in r#"[ \[\]{}",:0-9.eE+\-truefalsn\\u\x01aé]{0,24}"#
        ) {
            let ours = skip(&text).ok().filter(|&end| {
                let mut c = Cursor::new(&text);
                c.pos = end;
                c.at_end()
            });
            let serde = serde_json::from_str::<serde::de::IgnoredAny>(&text).ok();
            prop_assert_eq!(ours.is_some(), serde.is_some(), "{:?}", text);
        }

        #[test]
        fn given_any_valid_value_then_skipped_to_its_end(value in arbitrary_json()) {
            let text = serde_json::to_string(&value).unwrap_or_default();
            prop_assert_eq!(skip(&text), Ok(text.len()));
            let pretty = serde_json::to_string_pretty(&value).unwrap_or_default();
            prop_assert_eq!(skip(&pretty), Ok(pretty.len()));
        }
    }

    fn arbitrary_json() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map(any::<String>(), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
