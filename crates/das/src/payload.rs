//! The decrypted activity payload, read in one pass:
//! `{"type":…,"clusterId":…,"instanceId":…,"databaseActivityEventList":[{…},…]}`.
//!
//! serde reads every value (and validates it); this module only walks the punctuation of the two
//! levels around them — the payload object and the event list — so that each event is read once,
//! into its [`EventView`], while its raw text is kept for the output exactly as received.
//! (Capturing each event as a `RawValue` and then reading the view from it scanned every event
//! twice.) Keys may come in any order and unknown keys are skipped; a repeated known key, an
//! event that is not an object, or anything after the payload is refused.

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::event::{EventView, Text};
use crate::record::JsonFault;

/// The payload's ids, and each event's raw JSON text with the view of it.
#[derive(Debug)]
pub struct Payload<'a> {
    /// The Aurora cluster resource id (`cluster-…`), empty for RDS instances.
    pub cluster_id: Text<'a>,
    /// The instance resource id (`db-…`).
    pub instance_id: Text<'a>,
    /// The events in order: raw text (one JSON object) and its view.
    pub events: Vec<(&'a str, EventView<'a>)>,
}

/// Parses the decompressed payload; the fault says where it broke, never what it held.
pub fn parse_payload(plaintext: &[u8]) -> Result<Payload<'_>, JsonFault> {
    let text = std::str::from_utf8(plaintext)
        .map_err(|e| JsonFault::at("syntax", plaintext, e.valid_up_to()))?;
    let mut at = Cursor { text, pos: 0 };
    at.expect(b'{')?;
    let (mut cluster_id, mut instance_id, mut events) = (None, None, None);
    if !at.eat(b'}') {
        loop {
            if at.peek() != Some(b'"') {
                return Err(at.fault("syntax"));
            }
            let key = at.value::<Text<'_>>()?;
            at.expect(b':')?;
            match key.as_deref() {
                Some("databaseActivityEventList") => at.once(&mut events, Cursor::events)?,
                Some("clusterId") => at.once(&mut cluster_id, Cursor::value)?,
                Some("instanceId") => at.once(&mut instance_id, Cursor::value)?,
                _ => {
                    at.value::<IgnoredAny>()?;
                }
            }
            if !at.eat(b',') {
                at.expect(b'}')?;
                break;
            }
        }
    }
    at.skip_ws();
    if at.pos != text.len() {
        return Err(at.fault("syntax"));
    }
    Ok(Payload {
        cluster_id: cluster_id.unwrap_or_default(),
        instance_id: instance_id.unwrap_or_default(),
        events: events.ok_or_else(|| at.fault("data"))?,
    })
}

/// A position in the payload text.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn skip_ws(&mut self) {
        let rest = &self.text.as_bytes()[self.pos..];
        self.pos += rest
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\n' | b'\r' | b'\t'))
            .count();
    }

    /// The next byte after white space.
    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.text.as_bytes().get(self.pos).copied()
    }

    /// Consumes `byte` if it comes next.
    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        self.pos += usize::from(found);
        found
    }

    fn expect(&mut self, byte: u8) -> Result<(), JsonFault> {
        if self.eat(byte) {
            return Ok(());
        }
        let category = if self.peek().is_none() {
            "eof"
        } else {
            "syntax"
        };
        Err(self.fault(category))
    }

    fn fault(&self, category: &'static str) -> JsonFault {
        JsonFault::at(category, self.text.as_bytes(), self.pos)
    }

    /// Reads one JSON value through serde and moves past it.
    fn value<T: Deserialize<'a>>(&mut self) -> Result<T, JsonFault> {
        self.skip_ws();
        let rest = &self.text[self.pos..];
        let mut values = serde_json::Deserializer::from_str(rest).into_iter::<T>();
        match values.next() {
            Some(Ok(value)) => {
                self.pos += values.byte_offset();
                Ok(value)
            }
            Some(Err(e)) => Err(JsonFault::from(e).shifted(self.text.as_bytes(), self.pos)),
            None => Err(self.fault("eof")),
        }
    }

    /// Reads a known key's value into `slot`, refusing a second one.
    fn once<T>(
        &mut self,
        slot: &mut Option<T>,
        read: impl FnOnce(&mut Self) -> Result<T, JsonFault>,
    ) -> Result<(), JsonFault> {
        if slot.is_some() {
            return Err(self.fault("data"));
        }
        *slot = Some(read(self)?);
        Ok(())
    }

    /// The event list: each element an object, read into its view with its text kept.
    fn events(&mut self) -> Result<Vec<(&'a str, EventView<'a>)>, JsonFault> {
        self.expect(b'[')?;
        let mut events = Vec::new();
        if self.eat(b']') {
            return Ok(events);
        }
        loop {
            if self.peek() != Some(b'{') {
                return Err(self.fault("data"));
            }
            let start = self.pos;
            let view = self.value::<EventView<'a>>()?;
            events.push((&self.text[start..self.pos], view));
            if !self.eat(b',') {
                self.expect(b']')?;
                return Ok(events);
            }
        }
    }
}

#[cfg(test)]
#[path = "payload_tests.rs"]
mod tests;
