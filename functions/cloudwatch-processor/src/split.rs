//! Cuts a payload whose output would be too big for one Firehose record into smaller gzipped
//! payloads, each of which will format within the limit when it comes back (re-ingested).

use sluice_cwlogs::{Format, Payload, encode, formatted_len, split_in_halves};

/// Why a payload cannot be cut into pieces that fit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    /// One event alone formats or encodes over the limit, so no split can help.
    #[error("one log event of {log_group} alone is {size} bytes formatted or encoded, over {max}")]
    EventTooLarge {
        /// The payload's log group.
        log_group: String,
        /// The larger of the event's formatted and encoded size.
        size: usize,
        /// The limit.
        max: usize,
    },
}

/// Gzipped payloads holding all events of `payload`, in order, each at most `max` bytes encoded
/// and formatting (in `format`) to at most `max` bytes. Halves recursively.
pub fn split_for_reingest(
    payload: &Payload,
    format: Format,
    max: usize,
) -> Result<Vec<Vec<u8>>, SplitError> {
    let mut out = Vec::new();
    split_into(payload, format, max, &mut out)?;
    Ok(out)
}

fn split_into(
    payload: &Payload,
    format: Format,
    max: usize,
    out: &mut Vec<Vec<u8>>,
) -> Result<(), SplitError> {
    let formatted = formatted_len(payload, format);
    let mut size = formatted;
    if formatted <= max {
        let encoded = encode(payload);
        if encoded.len() <= max {
            out.push(encoded);
            return Ok(());
        }
        size = encoded.len();
    }
    match split_in_halves(payload) {
        Some((a, b)) => {
            split_into(&a, format, max, out)?;
            split_into(&b, format, max, out)
        }
        None => Err(SplitError::EventTooLarge {
            log_group: payload.log_group.clone(),
            size,
            max,
        }),
    }
}

#[cfg(test)]
mod tests {
    use sluice_cwlogs::{LogEvent, MessageType, decode};

    use super::*;

    const RAW: Format = Format::Raw {
        timestamp_prefix: false,
    };

    fn payload(messages: &[usize]) -> Payload {
        Payload {
            message_type: MessageType::Data,
            owner: "123456789012".into(),
            log_group: "g".into(),
            log_stream: "s".into(),
            subscription_filters: vec![],
            log_events: messages
                .iter()
                .enumerate()
                .map(|(i, &n)| LogEvent {
                    id: i.to_string(),
                    timestamp: 1,
                    message: "x".repeat(n),
                    extra: Default::default(),
                })
                .collect(),
            extra: Default::default(),
        }
    }

    #[test]
    fn given_output_over_limit_when_split_then_every_piece_formats_within_and_events_conserved() {
        let p = payload(&[300; 40]);
        let pieces = split_for_reingest(&p, RAW, 2_000).expect("splits");
        assert!(pieces.len() >= 8, "{}", pieces.len());
        let mut events = Vec::new();
        for piece in &pieces {
            let back = decode(piece, 1 << 20).expect("decodes");
            assert!(formatted_len(&back, RAW) <= 2_000);
            events.extend(back.log_events);
        }
        assert_eq!(events, p.log_events);
    }

    #[test]
    fn given_one_event_over_limit_when_split_then_event_too_large() {
        let err = split_for_reingest(&payload(&[10, 5_000]), RAW, 2_000).expect_err("too big");
        assert!(matches!(err, SplitError::EventTooLarge { max: 2_000, .. }));
    }
}
