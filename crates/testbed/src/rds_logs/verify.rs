//! SigV4 check of every request to the test-bed RDS endpoint: the signature is recomputed with
//! aws-sigv4 from the request as received (method, URI, the headers it says it signed, body)
//! and the test credentials, and must match byte for byte.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use axum::http::request::Parts;

/// The secret and session token the test bed accepts, with any access key id (the IAM gate
/// reads the principal from it, see `crate::iam_gate`).
const SECRET_KEY: &str = "testing";
const SESSION_TOKEN: &str = "testing";
const REGION: &str = "us-east-1";
const SERVICE: &str = "rds";

/// Why a signature was refused.
pub type Refusal = String;

/// Checks `parts` + `body` carry a valid SigV4 signature for `rds` in us-east-1.
pub fn verify(parts: &Parts, body: &[u8]) -> Result<(), Refusal> {
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let auth = header("authorization").ok_or("no Authorization header")?;
    let rest = auth
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or("not AWS4-HMAC-SHA256")?;
    let field = |name: &str| {
        rest.split(',')
            .map(str::trim)
            .find_map(|kv| kv.strip_prefix(name))
            .ok_or(format!("no {name} in Authorization"))
    };
    let credential = field("Credential=")?;
    let signed_headers = field("SignedHeaders=")?;
    let signature = field("Signature=")?;
    let scope: Vec<&str> = credential.split('/').collect();
    if scope.len() != 5 || scope[0].is_empty() || scope[2] != REGION || scope[3] != SERVICE {
        return Err(format!(
            "credential scope {credential} is not <key>/…/{REGION}/{SERVICE}"
        ));
    }
    let date = header("x-amz-date").ok_or("no X-Amz-Date")?;
    let time = parse_amz_date(date).ok_or(format!("bad X-Amz-Date {date}"))?;
    let token = header("x-amz-security-token");
    if token.is_some_and(|t| t != SESSION_TOKEN) {
        return Err("wrong session token".into());
    }
    let host = header("host").ok_or("no Host header")?;
    let uri = format!(
        "http://{host}{}",
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    let mut headers = Vec::new();
    for name in signed_headers.split(';') {
        if matches!(name, "x-amz-date" | "x-amz-security-token") {
            continue;
        }
        for value in parts.headers.get_all(name) {
            headers.push((name, value.to_str().map_err(|_| "non-ASCII header")?));
        }
    }
    let identity = Credentials::new(
        scope[0],
        SECRET_KEY,
        token.map(str::to_owned),
        None,
        "testbed",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name(SERVICE)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let request = SignableRequest::new(
        parts.method.as_str(),
        uri,
        headers.into_iter(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| e.to_string())?;
    let (_, expected) = sign(request, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    if expected == signature {
        Ok(())
    } else {
        Err("signature does not match".into())
    }
}

/// Parses `20261122T130000Z`.
fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (n(0..4)?, n(4..6)?, n(6..8)?);
    let secs = n(9..11)? * 3600 + n(11..13)? * 60 + n(13..15)?;
    // Days from civil (Howard Hinnant).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let total = u64::try_from(days * 86_400 + secs).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_amz_date_then_unix_time() {
        let t = parse_amz_date("20261122T130000Z").expect("date");
        assert_eq!(
            t.duration_since(UNIX_EPOCH).expect("after epoch").as_secs(),
            1_795_352_400
        );
        assert_eq!(parse_amz_date("2026-11-22"), None);
    }
}
