//! The decrypted activity payload, read in one pass:
//! `{"type":…,"clusterId":…,"instanceId":…,"databaseActivityEventList":[{…},…]}`.
//!
//! The scanner of [`crate::scan`] checks every byte against the JSON grammar once; each event is
//! read into its [`EventView`] and handed on with its raw text, kept for the output exactly as
//! received, as soon as it is read (so routing can stop once a record's output is too large).
//! Keys may come in any order and unknown keys are skipped; a repeated known key, an event that
//! is not an object, or anything after the payload is refused.

use std::ops::ControlFlow;

use crate::event::{EventView, Text};
use crate::record::JsonFault;
use crate::scan::{Cursor, MAX_NESTING, Stop};

/// The payload's ids.
#[derive(Debug, PartialEq, Eq)]
pub struct Ids<'a> {
    /// The Aurora cluster resource id (`cluster-…`), empty for RDS instances.
    pub cluster_id: Text<'a>,
    /// The instance resource id (`db-…`).
    pub instance_id: Text<'a>,
}

/// Parses the decompressed payload, handing each event — its raw JSON text (one object, exactly
/// as received) and its view — to `on_event` in order. When `on_event` breaks, reading stops
/// there (the rest is neither read nor checked) and its value is returned; else the ids are.
/// The fault says where the payload broke, never what it held.
pub fn parse_payload<'a, B>(
    plaintext: &'a [u8],
    mut on_event: impl FnMut(&'a str, EventView<'a>) -> ControlFlow<B>,
) -> Result<ControlFlow<B, Ids<'a>>, JsonFault> {
    let text = std::str::from_utf8(plaintext)
        .map_err(|e| JsonFault::at("syntax", plaintext, e.valid_up_to()))?;
    let mut at = Cursor::new(text);
    read_payload(&mut at, &mut on_event).map_err(|Stop| at.fault())
}

fn read_payload<'a, B>(
    at: &mut Cursor<'a>,
    on_event: &mut impl FnMut(&'a str, EventView<'a>) -> ControlFlow<B>,
) -> Result<ControlFlow<B, Ids<'a>>, Stop> {
    at.expect(b'{')?;
    let (mut cluster_id, mut instance_id, mut listed) = (None, None, None);
    if !at.eat(b'}') {
        loop {
            at.skip_ws();
            let key = at.read_str()?;
            at.expect(b':')?;
            match &*key {
                "databaseActivityEventList" => {
                    once(at, &mut listed, |at| read_events(at, on_event))?;
                    if let Some(ControlFlow::Break(b)) = listed {
                        return Ok(ControlFlow::Break(b));
                    }
                }
                "clusterId" => once(at, &mut cluster_id, Text::read)?,
                "instanceId" => once(at, &mut instance_id, Text::read)?,
                _ => at.skip_value(MAX_NESTING)?,
            }
            if !at.eat(b',') {
                at.expect(b'}')?;
                break;
            }
        }
    }
    if !at.at_end() {
        return Err(at.stop("syntax"));
    }
    if listed.is_none() {
        return Err(at.stop("data"));
    }
    Ok(ControlFlow::Continue(Ids {
        cluster_id: cluster_id.unwrap_or_default(),
        instance_id: instance_id.unwrap_or_default(),
    }))
}

/// Reads a known key's value into `slot`, refusing a second one.
fn once<'a, T>(
    at: &mut Cursor<'a>,
    slot: &mut Option<T>,
    read: impl FnOnce(&mut Cursor<'a>) -> Result<T, Stop>,
) -> Result<(), Stop> {
    at.skip_ws();
    if slot.is_some() {
        return Err(at.stop("data"));
    }
    *slot = Some(read(at)?);
    Ok(())
}

/// The event list: each element an object, handed to `on_event` with its text.
fn read_events<'a, B>(
    at: &mut Cursor<'a>,
    on_event: &mut impl FnMut(&'a str, EventView<'a>) -> ControlFlow<B>,
) -> Result<ControlFlow<B>, Stop> {
    at.expect(b'[')?;
    if at.eat(b']') {
        return Ok(ControlFlow::Continue(()));
    }
    loop {
        if at.peek() != Some(b'{') {
            return Err(at.stop("data"));
        }
        let start = at.pos();
        let view = EventView::read(at)?;
        if let ControlFlow::Break(b) = on_event(at.since(start), view) {
            return Ok(ControlFlow::Break(b));
        }
        if !at.eat(b',') {
            at.expect(b']')?;
            return Ok(ControlFlow::Continue(()));
        }
    }
}

#[cfg(test)]
#[path = "payload_tests.rs"]
mod tests;
