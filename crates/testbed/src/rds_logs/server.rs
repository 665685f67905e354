//! The HTTP side: one fallback handler that checks the signature, then dispatches to
//! `DescribeDBLogFiles`, the download, or moto.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use tokio::io::AsyncReadExt;

use super::query::{self, Listed};
use super::{Fault, Shared, Target, verify};

fn xml(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/xml")], body).into_response()
}

pub(super) async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 1 << 20).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    if let Err(reason) = verify::verify(&parts, &body) {
        shared.counters.rejected.fetch_add(1, Ordering::SeqCst);
        let body = query::error_xml("SignatureDoesNotMatch", &reason);
        return xml(StatusCode::FORBIDDEN, body);
    }
    let path = parts.uri.path().to_owned();
    if parts.method == Method::GET
        && let Some(rest) = path.strip_prefix("/v13/downloadCompleteLogFile/")
    {
        return download(&shared, rest).await;
    }
    let form = crate::serve::parse_form(&body);
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if get("Action") == Some("DescribeDBLogFiles") {
        return describe(&shared, &get);
    }
    proxy(&shared, &parts.headers, body).await
}

fn describe<'a>(shared: &Shared, get: &dyn Fn(&str) -> Option<&'a str>) -> Response {
    shared.counters.describe.fetch_add(1, Ordering::SeqCst);
    let target = |t: &Target| *t == Target::Describe;
    if shared
        .take_fault(|f| matches!(f, Fault::Throttle { target: t, .. } if target(t)).then_some(()))
        .is_some()
    {
        return xml(
            StatusCode::BAD_REQUEST,
            query::error_xml("Throttling", "Rate exceeded"),
        );
    }
    if shared
        .take_fault(|f| {
            matches!(f, Fault::ServerError { target: t, .. } if target(t)).then_some(())
        })
        .is_some()
    {
        return xml(
            StatusCode::SERVICE_UNAVAILABLE,
            query::error_xml("ServiceUnavailable", "try again"),
        );
    }
    let instance = get("DBInstanceIdentifier").unwrap_or_default();
    let dir = shared.root.join(instance);
    if instance.is_empty() || !dir.is_dir() || is_missing(shared, instance) {
        let message = format!("DBInstance {instance} not found.");
        return xml(
            StatusCode::NOT_FOUND,
            query::error_xml("DBInstanceNotFound", &message),
        );
    }
    let contains = get("FilenameContains").unwrap_or_default();
    let since: u64 = get("FileLastWritten")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let files: Vec<Listed> = query::list(&dir)
        .into_iter()
        .filter(|f| f.name.contains(contains) && f.last_written >= since)
        .collect();
    let start: usize = get("Marker").and_then(|m| m.parse().ok()).unwrap_or(0);
    let mut page = get("MaxRecords")
        .and_then(|m| m.parse().ok())
        .unwrap_or(1000usize);
    let cap = shared.page_size.load(Ordering::SeqCst);
    if cap > 0 {
        page = page.min(cap);
    }
    let end = (start + page.max(1)).min(files.len());
    let marker = (end < files.len()).then(|| end.to_string());
    let slice = files.get(start.min(end)..end).unwrap_or_default();
    xml(
        StatusCode::OK,
        query::describe_xml(slice, marker.as_deref()),
    )
}

fn is_missing(shared: &Shared, instance: &str) -> bool {
    let missing = shared
        .missing
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    missing.iter().any(|m| m == instance)
}

fn percent_decode(s: &str) -> String {
    crate::serve::parse_form(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .pop()
        .map(|(_, v)| v)
        .unwrap_or_default()
}

async fn download(shared: &Shared, rest: &str) -> Response {
    shared.counters.download.fetch_add(1, Ordering::SeqCst);
    let target = |t: &Target| *t == Target::Download;
    if shared
        .take_fault(|f| matches!(f, Fault::Throttle { target: t, .. } if target(t)).then_some(()))
        .is_some()
    {
        return (StatusCode::TOO_MANY_REQUESTS, "Throttling: Rate exceeded").into_response();
    }
    if shared
        .take_fault(|f| {
            matches!(f, Fault::ServerError { target: t, .. } if target(t)).then_some(())
        })
        .is_some()
    {
        return (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response();
    }
    if shared
        .take_fault(|f| matches!(f, Fault::EmptyBody { .. }).then_some(()))
        .is_some()
    {
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/octet-stream")],
            "",
        )
            .into_response();
    }
    let rest = percent_decode(rest);
    let Some((instance, name)) = rest.split_once('/') else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if is_missing(shared, instance) || name.split('/').any(|s| s == "..") {
        return StatusCode::NOT_FOUND.into_response();
    }
    let path = shared.path(instance, name);
    let Ok(file) = tokio::fs::File::open(&path).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    // A cut is taken only by a download long enough to reach it: with several files copied
    // at once, a short file that happens to start first must not use up the fault.
    let len = file.metadata().await.map_or(0, |m| m.len());
    let rotate = shared.take_fault(|f| match f {
        Fault::RotateAway { after_bytes, .. } if *after_bytes < len => Some(*after_bytes),
        _ => None,
    });
    let cut = rotate.or_else(|| {
        shared.take_fault(|f| match f {
            Fault::Disconnect { after_bytes, .. } if *after_bytes < len => Some(*after_bytes),
            _ => None,
        })
    });
    let grow = shared.take_fault(|f| match f {
        Fault::Grow { bytes, .. } => Some(bytes.clone()),
        _ => None,
    });
    let state = Streaming {
        file,
        sent: 0,
        cut,
        remove_at_cut: rotate.map(|_| path.clone()),
        grow: grow.map(|g| (path, g)),
    };
    let body = Body::from_stream(stream::unfold(state, next_chunk));
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/octet-stream")],
        body,
    )
        .into_response()
}

struct Streaming {
    file: tokio::fs::File,
    sent: u64,
    cut: Option<u64>,
    /// The file to delete at the cut (rotated away by RDS mid-download).
    remove_at_cut: Option<std::path::PathBuf>,
    grow: Option<(std::path::PathBuf, Vec<u8>)>,
}

async fn next_chunk(mut s: Streaming) -> Option<(std::io::Result<Bytes>, Streaming)> {
    if let Some(cut) = s.cut
        && s.sent >= cut
    {
        s.cut = None;
        s.sent = u64::MAX;
        if let Some(path) = s.remove_at_cut.take()
            && let Err(e) = std::fs::remove_file(&path)
        {
            return Some((Err(e), s));
        }
        // Let the bytes before the cut reach the client first: cut at once, the error can
        // overtake them and the client sees a failed request (retried) instead of a body
        // that breaks off, which is what this fault stands for.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        return Some((Err(std::io::Error::other("injected disconnect")), s));
    }
    if s.sent == u64::MAX {
        return None;
    }
    let mut want = 64 * 1024;
    if let Some(cut) = s.cut {
        want = want.min(usize::try_from(cut - s.sent).unwrap_or(want).max(1));
    }
    let mut buf = vec![0u8; want];
    let n = match s.file.read(&mut buf).await {
        Ok(0) => return None,
        Ok(n) => n,
        Err(e) => return Some((Err(e), s)),
    };
    buf.truncate(n);
    s.sent += n as u64;
    if let Some((path, bytes)) = s.grow.take() {
        use std::io::Write;
        let appended = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(&bytes));
        if let Err(e) = appended {
            return Some((Err(e), s));
        }
    }
    Some((Ok(Bytes::from(buf)), s))
}

async fn proxy(shared: &Shared, headers: &HeaderMap, body: Bytes) -> Response {
    let Some(moto) = &shared.moto else {
        let message = "this test-bed endpoint serves only DescribeDBLogFiles and downloads";
        return xml(
            StatusCode::BAD_REQUEST,
            query::error_xml("InvalidAction", message),
        );
    };
    shared.counters.proxied.fetch_add(1, Ordering::SeqCst);
    let mut request = shared.http.post(format!("{moto}/")).body(body);
    for (name, value) in headers {
        if name != header::HOST && name != header::CONTENT_LENGTH {
            request = request.header(name.as_str(), value.as_bytes());
        }
    }
    match request.send().await {
        Ok(r) => {
            let status =
                StatusCode::from_u16(r.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let content_type = r
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("text/xml")
                .to_owned();
            let body = r.bytes().await.unwrap_or_default();
            (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}
