//! How a server error message loses the row values it quotes: the rules both engines share.
//!
//! Sits under the engines' own lists ([`crate::mysql_message`], [`crate::pg_message`]), which
//! say per error code which messages are kept as written, which print a value at a known
//! place (`Slot`) and which are withheld whole; `Rules::known` applies them, and
//! `quoted_span` is the rule for codes no list knows.

use std::borrow::Cow;

/// What stands where a value was cut out.
pub const PLACEHOLDER: &str = "<redacted>";

/// What stands where a whole message was withheld.
pub const WITHHELD: &str = "[message withheld: it may quote row values]";

/// Where a value ends, after its slot's start.
#[derive(Debug, Clone, Copy)]
pub(crate) enum End {
    /// At the quote that closes the message (`Truncated incorrect DOUBLE value: 'v'`).
    ClosingQuote,
    /// Before the last occurrence of this text (`' for key `): what the server writes after
    /// the value, so a value that holds the same text is cut out whole.
    Before(&'static str),
    /// At the end of the message (a value printed without quotes).
    Rest,
}

/// A message format that prints a row value: its codes, the text the message must begin
/// with, the text (after that) just before the value, and where the value ends (tried in
/// order; the first that fits wins).
#[derive(Debug)]
pub(crate) struct Slot<C: 'static> {
    codes: &'static [C],
    lead: &'static str,
    start: &'static str,
    ends: &'static [End],
}

impl<C> Slot<C> {
    pub(crate) const fn new(
        codes: &'static [C],
        start: &'static str,
        ends: &'static [End],
    ) -> Self {
        Self::led(codes, "", start, ends)
    }

    /// A slot for messages that begin with `lead`: where several formats share a code and a
    /// value may hold another format's text, only the format's own beginning tells them apart.
    pub(crate) const fn led(
        codes: &'static [C],
        lead: &'static str,
        start: &'static str,
        ends: &'static [End],
    ) -> Self {
        Self {
            codes,
            lead,
            start,
            ends,
        }
    }

    /// The message with the value replaced, or `None` when it does not have this shape.
    fn cut(&self, quote: char, message: &str) -> Option<String> {
        let after_lead = message.strip_prefix(self.lead)?;
        let from = self.lead.len() + after_lead.find(self.start)? + self.start.len();
        let rest = &message[from..];
        let to = self.ends.iter().find_map(|end| match end {
            End::ClosingQuote => rest.ends_with(quote).then(|| rest.len() - quote.len_utf8()),
            End::Before(marker) => rest.rfind(marker),
            End::Rest => Some(rest.len()),
        })?;
        Some(format!("{}{PLACEHOLDER}{}", &message[..from], &rest[to..]))
    }
}

/// One engine's lists, by error code `C`.
#[derive(Debug)]
pub(crate) struct Rules<C: 'static> {
    /// The quote the engine puts around values.
    pub quote: char,
    /// Codes whose messages are shown as the server wrote them (unless a slot fits first).
    pub kept: &'static [C],
    /// Codes whose whole message is free text that may come from a row.
    pub withheld: &'static [C],
    /// Formats that print a row value; several may share a code.
    pub slots: &'static [Slot<C>],
}

impl<C> Rules<C> {
    /// What the lists say of `message` (error `code`): withheld, cut by the first slot of
    /// its code that fits, kept, or withheld because no slot of its code fits. `None` when
    /// no list knows the code.
    pub(crate) fn known<'m, Q>(&self, code: &Q, message: &'m str) -> Option<Cow<'m, str>>
    where
        C: PartialEq<Q>,
    {
        let listed = |codes: &[C]| codes.iter().any(|c| c == code);
        if listed(self.withheld) {
            return Some(Cow::Borrowed(WITHHELD));
        }
        let mut slots = self.slots.iter().filter(|s| listed(s.codes)).peekable();
        let has_slot = slots.peek().is_some();
        if let Some(cut) = slots.find_map(|s| s.cut(self.quote, message)) {
            return Some(Cow::Owned(cut));
        }
        if listed(self.kept) {
            return Some(Cow::Borrowed(message));
        }
        has_slot.then_some(Cow::Borrowed(WITHHELD))
    }
}

/// The rule for codes no list knows: the span from the first `quote` to the last becomes
/// one quoted placeholder (a lone quote: from it to the end). Not quote by quote, because
/// the quotes inside an unescaped value cannot be told from those around it.
pub(crate) fn quoted_span(quote: char, message: &str) -> Cow<'_, str> {
    let Some(first) = message.find(quote) else {
        return Cow::Borrowed(message);
    };
    let last = message.rfind(quote).filter(|&l| l > first);
    let tail = last.map_or("", |l| &message[l + quote.len_utf8()..]);
    Cow::Owned(format!(
        "{}{quote}{PLACEHOLDER}{quote}{tail}",
        &message[..first]
    ))
}

/// What the engines' property tests feed their formats.
#[cfg(test)]
pub(crate) mod test_values {
    use proptest::prelude::*;

    /// A row value: may hold quotes and the very `markers` a server writes around a value,
    /// and holds `PII` at its start and after each piece, so any piece of it shown is seen.
    pub(crate) fn pii(markers: &'static [&'static str]) -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            1 => "[ -~]{0,6}".boxed(),
            markers.len() as u32 => proptest::sample::select(markers).prop_map(str::to_owned).boxed(),
        ];
        proptest::collection::vec(piece, 0..6).prop_map(|parts| {
            let tagged: String = parts.iter().map(|p| format!("{p}PII")).collect();
            format!("PII{tagged}")
        })
    }
}
