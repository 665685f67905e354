//! What every HTTP stand-in of the test bed shares: a loopback server on a thread and runtime
//! of its own (so it works from any test, sync or async), and form decoding for Query APIs.

/// Binds a free loopback port and serves `app` until the returned sender is dropped.
/// `what` names the stand-in in panic messages.
pub(crate) fn spawn(
    what: &'static str,
    app: axum::Router,
) -> (u16, tokio::sync::oneshot::Sender<()>) {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind {what}: {e}"));
    let port = listener.local_addr().expect("local addr").port();
    listener.set_nonblocking(true).expect("nonblocking");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime for {what}: {e}"));
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        // Dropping the runtime drops its tasks (and what they own, e.g. child processes).
    });
    (port, stop)
}

/// Decodes an `application/x-www-form-urlencoded` string.
pub fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                    match u8::from_str_radix(hex, 16) {
                        Ok(b) => {
                            out.push(b);
                            i += 2;
                        }
                        Err(_) => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// An `Authorization` header with the SigV4 credential scope of `key`, `region` and `service`
/// but no real signature: moto routes on the scope and checks none, and the IAM gate reads the
/// principal from the key.
pub fn unsigned_authorization(key: &str, region: &str, service: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential={key}/20261206/{region}/{service}/aws4_request, \
         SignedHeaders=host, Signature=0"
    )
}

/// Percent-encodes a form value (RFC 3986 unreserved characters kept).
pub fn url_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_form_body_then_pairs_are_decoded() {
        let pairs = parse_form(b"Action=DescribeDBLogFiles&FilenameContains=error%2Fpg+x&Marker=");
        assert_eq!(pairs[1], ("FilenameContains".into(), "error/pg x".into()));
        assert_eq!(pairs[2], ("Marker".into(), String::new()));
        assert_eq!(parse_form(b"a=%zz%4"), vec![("a".into(), "%zz%4".into())]);
        let arn = "arn:aws:rds:us-east-1:1:snapshot:a b/c";
        let form = format!("n={}", url_encode(arn));
        assert_eq!(parse_form(form.as_bytes())[0].1, arn);
    }
}
