//! Cuts a payload whose output would be too big for one Firehose record into smaller gzipped
//! payloads, each of which will format within the limit when it comes back (re-ingested).

use sluice_cwlogs::{Format, LogEvent, Payload, encode_events, formatted_len_of};

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
/// and formatting (in `format`) to at most `max` bytes.
///
/// One pass: events are taken in runs as long as their formatted lengths (exact, and additive)
/// stay within `max`, and each run is serialised and gzipped once. Only a run whose gzip is
/// still over `max` (text that compresses worse than its JSON envelope costs) is halved.
pub fn split_for_reingest(
    payload: &Payload,
    format: Format,
    max: usize,
) -> Result<Vec<Vec<u8>>, SplitError> {
    let events = &payload.log_events;
    let mut out = Vec::new();
    let (mut start, mut len) = (0, 0);
    for (i, event) in events.iter().enumerate() {
        let n = formatted_len_of(payload, std::slice::from_ref(event), format);
        if i > start && len + n > max {
            encode_run(payload, &events[start..i], format, max, &mut out)?;
            (start, len) = (i, 0);
        }
        len += n;
    }
    if start < events.len() {
        encode_run(payload, &events[start..], format, max, &mut out)?;
    }
    Ok(out)
}

/// Encodes `run`, halving it while it formats or encodes over `max`.
fn encode_run(
    payload: &Payload,
    run: &[LogEvent],
    format: Format,
    max: usize,
    out: &mut Vec<Vec<u8>>,
) -> Result<(), SplitError> {
    let mut size = formatted_len_of(payload, run, format);
    if size <= max {
        let encoded = encode_events(payload, run);
        if encoded.len() <= max {
            out.push(encoded);
            return Ok(());
        }
        size = encoded.len();
    }
    if run.len() < 2 {
        return Err(SplitError::EventTooLarge {
            log_group: payload.log_group.clone(),
            size,
            max,
        });
    }
    let (a, b) = run.split_at(run.len() / 2);
    encode_run(payload, a, format, max, out)?;
    encode_run(payload, b, format, max, out)
}

#[cfg(test)]
mod tests {
    use sluice_cwlogs::{MessageType, decode, formatted_len};

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
        // 301 bytes per event: runs of 6 fill 1,806 of 2,000 bytes, so 7 pieces, not the 8
        // that halving would make.
        assert_eq!(pieces.len(), 7);
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

    /// Empty messages format to one byte each, but their JSON (ids, timestamps) gzips far
    /// larger: a run that formats within the limit is halved until its gzip fits too.
    #[test]
    fn given_a_run_that_formats_within_but_encodes_over_the_limit_then_it_is_halved_until_it_fits()
    {
        let mut p = payload(&[0; 2_000]);
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for e in &mut p.log_events {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            e.id = format!("{x:020}{x:020}");
        }
        assert!(formatted_len(&p, RAW) <= 2_000);
        let pieces = split_for_reingest(&p, RAW, 2_000).expect("splits");
        assert!(pieces.len() > 1, "{}", pieces.len());
        let mut events = Vec::new();
        for piece in &pieces {
            assert!(piece.len() <= 2_000, "{}", piece.len());
            events.extend(decode(piece, 1 << 20).expect("decodes").log_events);
        }
        assert_eq!(events, p.log_events);
    }
}
