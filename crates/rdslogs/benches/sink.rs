//! A minimal local S3 sink for the benchmark: answers PutObject and the multipart calls the
//! way S3 does (enough for the SDK), counts the bytes it receives and keeps none of them, so
//! the measurement is about the copier, not about the stand-in. (moto keeps every byte in a
//! Python process and would be the bottleneck at 1 GiB.)

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

/// Bytes received in request bodies.
pub type Received = Arc<AtomicU64>;

/// Starts the sink on a thread of its own; returns its endpoint and byte counter.
pub fn start() -> (String, Received) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind sink");
    let port = listener.local_addr().expect("addr").port();
    listener.set_nonblocking(true).expect("nonblocking");
    let received: Received = Arc::default();
    let state = received.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("sink runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let app = axum::Router::new().fallback(handle).with_state(state);
            axum::serve(listener, app).await.expect("serve sink");
        });
    });
    (format!("http://127.0.0.1:{port}"), received)
}

async fn handle(State(received): State<Received>, request: Request) -> Response {
    let query = request.uri().query().unwrap_or_default().to_owned();
    let method = request.method().clone();
    let mut body = request.into_body().into_data_stream();
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(c) => {
                received.fetch_add(c.len() as u64, Ordering::Relaxed);
            }
            Err(_) => return StatusCode::BAD_REQUEST.into_response(),
        }
    }
    let xml = |s: String| {
        (
            StatusCode::OK,
            [("content-type", "application/xml"), ("etag", "\"e\"")],
            Body::from(s),
        )
            .into_response()
    };
    match method {
        Method::GET => (
            StatusCode::NOT_FOUND,
            [("content-type", "application/xml")],
            "<Error><Code>NoSuchKey</Code><Message>none</Message></Error>",
        )
            .into_response(),
        Method::POST if query.contains("uploads") => xml(
            "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>u1</UploadId></InitiateMultipartUploadResult>".into(),
        ),
        Method::POST => xml("<CompleteMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><ETag>\"e\"</ETag></CompleteMultipartUploadResult>".into()),
        Method::DELETE => StatusCode::NO_CONTENT.into_response(),
        _ => xml(String::new()),
    }
}
