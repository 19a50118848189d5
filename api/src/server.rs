//! The connection layer: accepting TCP connections and bounding how slowly a
//! client may send.
//!
//! - **Request heads** must arrive within a timeout ([`HEADER_READ_TIMEOUT`]
//!   by default; hyper's own timer). A client that sent part of a head and then stalls gets a
//!   `408 request_timeout` and the connection is closed; an idle keep-alive
//!   connection is simply closed.
//! - **Request bodies** must keep a minimum pace ([`BodyPace`]): after a
//!   grace period, at least `min_bytes_per_sec` on average. A body that falls
//!   behind ends with `408 request_timeout` and `Connection: close`, whatever
//!   the handler was doing with it; the handler's guards (the upload slot)
//!   are released as it returns.
//!
//! - **Responses** wait at most [`WRITE_STALL_TIMEOUT`] for a client that
//!   stopped reading; then the connection is closed (and the response's
//!   guards, a download slot, released).
//!
//! Together with the body size limits this bounds how long any request can
//! hold a connection, a task and a per-user slot.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body::Frame;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

use crate::error::ApiError;

/// How long a client may take to send a request head, by default.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a response may wait for a client that reads nothing.
pub const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(60);

/// The minimum pace of a request body.
#[derive(Clone, Copy, Debug)]
pub struct BodyPace {
    /// Time allowed before the pace is enforced (and for a tiny body).
    pub grace: Duration,
    /// Average bytes per second required after the grace period.
    pub min_bytes_per_sec: u64,
}

impl Default for BodyPace {
    /// 10 s of grace, then 16 KiB/s on average (128 kbit/s: a poor mobile
    /// link still uploads a 12 MB photo in under 13 minutes).
    fn default() -> Self {
        Self { grace: Duration::from_secs(10), min_bytes_per_sec: 16 * 1024 }
    }
}

impl BodyPace {
    /// When a body that has delivered `received` bytes since `start` is late.
    fn deadline(&self, start: Instant, received: u64) -> Instant {
        let rate = self.min_bytes_per_sec.max(1);
        start + self.grace + Duration::from_millis(received.saturating_mul(1000) / rate)
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting
/// and waits (up to 30 s) for open connections to finish. Request heads must
/// arrive within `header_timeout`.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut make = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off, don't spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = match tower::Service::call(&mut make, remote).await {
            Ok(service) => service,
            Err(infallible) => match infallible {},
        };
        let stream = Arc::new(stream);
        let io = CountingIo::new(stream.clone());
        let counters = io.counters.clone();
        let hyper_service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
            service.clone().oneshot(req.map(Body::new))
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(TokioIo::new(io), hyper_service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                if e.is_timeout() && counters.mid_request() {
                    request_timeout_on(&stream).await;
                }
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(30)) => {
            tracing::warn!("connections still open 30 s after shutdown began; closing them");
        }
    }
    Ok(())
}

/// Writes a 408 on a connection whose request head stalled (best effort: the
/// client may be gone).
async fn request_timeout_on(stream: &TcpStream) {
    let body = ApiError::request_timeout_body();
    let head = format!(
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let mut out = head.into_bytes();
    out.extend_from_slice(body.as_bytes());
    let mut written = 0;
    let deadline = Instant::now() + Duration::from_secs(2);
    while written < out.len() && Instant::now() < deadline {
        if tokio::time::timeout_at(deadline, stream.writable()).await.is_err() {
            return;
        }
        match stream.try_write(&out[written..]) {
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(_) => return,
        }
    }
}

/// Bytes read and written on a connection, to tell a stalled request head
/// (bytes read since the last response) from an idle keep-alive connection.
#[derive(Default)]
struct Counters {
    read: AtomicU64,
    read_at_last_write: AtomicU64,
}

impl Counters {
    fn mid_request(&self) -> bool {
        self.read.load(Ordering::Relaxed) > self.read_at_last_write.load(Ordering::Relaxed)
    }
}

/// A TCP stream shared with the connection task, so it can still answer 408
/// after hyper gave the connection up.
struct CountingIo {
    stream: Arc<TcpStream>,
    counters: Arc<Counters>,
    /// Running while a write waits for the client to read.
    stall: Option<Pin<Box<Sleep>>>,
}

impl CountingIo {
    fn new(stream: Arc<TcpStream>) -> Self {
        Self { stream, counters: Arc::default(), stall: None }
    }
}

impl AsyncRead for CountingIo {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        loop {
            ready!(self.stream.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match self.stream.try_read(unfilled) {
                Ok(n) => {
                    buf.advance(n);
                    self.counters.read.fetch_add(n as u64, Ordering::Relaxed);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl CountingIo {
    /// Writes with `write` once the socket is writable; a client that reads
    /// nothing for [`WRITE_STALL_TIMEOUT`] gets its connection closed.
    fn poll_write_with(
        &mut self,
        cx: &mut Context<'_>,
        mut write: impl FnMut(&TcpStream) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        loop {
            match self.stream.poll_write_ready(cx) {
                Poll::Ready(ready) => {
                    ready?;
                    self.stall = None;
                }
                Poll::Pending => {
                    let stall = self.stall.get_or_insert_with(|| Box::pin(tokio::time::sleep(WRITE_STALL_TIMEOUT)));
                    if stall.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "the client stopped reading")));
                    }
                    return Poll::Pending;
                }
            }
            match write(&self.stream) {
                Ok(n) => {
                    let read = self.counters.read.load(Ordering::Relaxed);
                    self.counters.read_at_last_write.store(read, Ordering::Relaxed);
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for CountingIo {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        self.get_mut().poll_write_with(cx, |s| s.try_write(data))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_write_with(cx, |s| s.try_write_vectored(bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The socket closes when the last handle drops, right after.
        Poll::Ready(Ok(()))
    }
}

/// Middleware: enforces `pace` on the request body, and turns whatever the
/// handler answered to a body that fell behind into `408 request_timeout`.
pub async fn body_pace(pace: BodyPace, req: Request, next: Next) -> Response {
    let late = Arc::new(AtomicBool::new(false));
    let (parts, body) = req.into_parts();
    let body = Body::new(PacedBody {
        inner: body,
        pace,
        start: Instant::now(),
        received: 0,
        timer: Box::pin(tokio::time::sleep(pace.grace)),
        late: late.clone(),
    });
    let resp = next.run(Request::from_parts(parts, body)).await;
    if late.load(Ordering::Relaxed) {
        let mut resp = ApiError::request_timeout().into_response();
        resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        return resp;
    }
    resp
}

struct PacedBody {
    inner: Body,
    pace: BodyPace,
    start: Instant,
    received: u64,
    timer: Pin<Box<Sleep>>,
    late: Arc<AtomicBool>,
}

impl http_body::Body for PacedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                    let deadline = this.pace.deadline(this.start, this.received);
                    this.timer.as_mut().reset(deadline);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(other) => Poll::Ready(other),
            Poll::Pending => {
                if this.timer.as_mut().poll(cx).is_ready() {
                    this.late.store(true, Ordering::Relaxed);
                    return Poll::Ready(Some(Err(axum::Error::new(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the request body arrived too slowly",
                    )))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pace_deadline_grows_with_the_bytes_received() {
        let pace = BodyPace { grace: Duration::from_secs(10), min_bytes_per_sec: 1000 };
        let t0 = Instant::now();
        assert_eq!(pace.deadline(t0, 0), t0 + Duration::from_secs(10));
        assert_eq!(pace.deadline(t0, 5000), t0 + Duration::from_secs(15));
        let stalled = BodyPace { grace: Duration::from_secs(1), min_bytes_per_sec: 0 };
        assert!(stalled.deadline(t0, u64::MAX) > t0, "no overflow, no division by zero");
    }
}
