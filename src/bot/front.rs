//! The bot's HTTP/1.1 front: hyper's server on a single-threaded tokio
//! runtime, with the deadlines a public endpoint needs. A client has
//! `header_timeout` from its first byte to send its request head (answered
//! 408 when it does not) and `body_timeout` from the end of the head to send
//! its body (408 too); trickling bytes does not extend either deadline. Idle
//! keep-alive connections are closed after `idle_timeout`, an answer the
//! client does not read for `body_timeout` ends its connection, and at most
//! `max_connections` are served at once (more are answered 503 and closed).
//! Bodies need a `Content-Length` (webhook senders send one): a chunked body
//! is refused with 411, a body over `max_body` is answered 413 unread, and a
//! head over `max_header` 431 (by hyper, as is a malformed head: 400).
//!
//! The handler is synchronous and quick (a signature check, a JSON parse, a
//! push onto the bounded work queue): it runs on the runtime's thread; the
//! slow work happens on the worker threads that take from the queue.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body as _, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};

/// A request, as the handler sees it.
#[derive(Debug, Clone)]
pub struct Request {
    /// Method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
    /// The announced body was larger than allowed and was not read.
    pub too_large: bool,
}

impl Request {
    /// A header (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A response.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Extra headers (`Content-Length` is added).
    pub(crate) headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with a content type.
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response { status, headers: vec![("Content-Type".into(), content_type.into())], body: body.into() }
    }

    /// The same, and the connection is closed after it.
    fn closing(mut self) -> Response {
        self.headers.push(("Connection".into(), "close".into()));
        self
    }
}

/// The deadlines and bounds.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    /// To send the request line and headers, from the first byte.
    pub(crate) header_timeout: Duration,
    /// To send the body, from the end of the head.
    pub(crate) body_timeout: Duration,
    /// Between requests on a kept-alive connection.
    pub(crate) idle_timeout: Duration,
    /// Largest request head (at least 8 KiB).
    pub(crate) max_header: usize,
    /// Largest body (a larger `Content-Length` is answered 413 unread).
    pub(crate) max_body: usize,
    /// Connections served at once.
    pub(crate) max_connections: usize,
}

/// The request handler.
pub(crate) type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

/// What the front makes of a request head before any body is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Read a body of this many bytes (0: none), then hand it on.
    Read(usize),
    /// Larger than `max_body`: hand it on unread (the handler answers 413).
    TooLarge,
    /// Answer this status and close: 411 (a transfer-encoded body) or 400
    /// (a `Content-Length` that is not one number).
    Refuse(u16),
}

/// Decides from the headers (names as sent, any case) whether and how much
/// body to read. Pure: the connection acts on the answer.
pub fn admit(headers: &[(String, String)], max_body: usize) -> Admission {
    let mut length = None;
    for (k, v) in headers {
        if k.eq_ignore_ascii_case("transfer-encoding") {
            return Admission::Refuse(411);
        }
        if k.eq_ignore_ascii_case("content-length") {
            match (v.trim().parse::<usize>(), length) {
                (Ok(n), None) => length = Some(n),
                (Ok(n), Some(m)) if n == m => {}
                _ => return Admission::Refuse(400),
            }
        }
    }
    match length.unwrap_or(0) {
        n if n > max_body => Admission::TooLarge,
        n => Admission::Read(n),
    }
}

// Where a connection is in its request, for the deadlines the stream keeps.
const IDLE: u8 = 0;
const HEAD: u8 = 1;
const BUSY: u8 = 2;

const HEAD_TIMEOUT: &[u8] = b"HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain\r\nContent-Length: 26\r\nConnection: close\r\n\r\nrequest head not received\n";

/// A TCP stream as hyper's I/O, keeping the idle and head deadlines (the
/// body's is kept by the service, which knows where the head ends) and a
/// deadline on each write. Reads go through a small buffer of its own, so
/// no unsafe code is needed to fill hyper's.
struct Stream {
    tcp: TcpStream,
    scratch: Box<[u8]>,
    phase: Arc<AtomicU8>,
    seen: u8,
    deadline: Instant,
    limits: Arc<Limits>,
    timer: Pin<Box<Sleep>>,
    write_timer: Option<Pin<Box<Sleep>>>,
}

impl Stream {
    fn new(tcp: TcpStream, limits: Arc<Limits>, phase: Arc<AtomicU8>) -> Stream {
        let deadline = Instant::now() + limits.idle_timeout;
        Stream {
            tcp,
            scratch: vec![0; 16 * 1024].into_boxed_slice(),
            phase,
            seen: IDLE,
            deadline,
            limits,
            timer: Box::pin(tokio::time::sleep_until(deadline)),
            write_timer: None,
        }
    }

    /// A write that cannot proceed: it fails once it has waited `body_timeout`.
    fn write_pending<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let timeout = self.limits.body_timeout;
        let timer = self.write_timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        ready!(timer.as_mut().poll(cx));
        Poll::Ready(Err(io::ErrorKind::TimedOut.into()))
    }

    fn wrote<T>(&mut self, r: Poll<io::Result<T>>, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        match r {
            Poll::Pending => self.write_pending(cx),
            ready => {
                self.write_timer = None;
                ready
            }
        }
    }
}

impl hyper::rt::Read for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let phase = this.phase.load(Ordering::Acquire);
        if phase == IDLE && this.seen != IDLE {
            // An answer was given: idle until the next request's first byte.
            this.deadline = Instant::now() + this.limits.idle_timeout;
        }
        this.seen = phase;
        let want = buf.remaining().min(this.scratch.len());
        let mut read = ReadBuf::new(&mut this.scratch[..want]);
        match Pin::new(&mut this.tcp).poll_read(cx, &mut read) {
            Poll::Ready(Ok(())) => {
                let got = read.filled();
                if !got.is_empty() && phase == IDLE {
                    // A request begins: its head has `header_timeout`.
                    this.phase.store(HEAD, Ordering::Release);
                    this.seen = HEAD;
                    this.deadline = Instant::now() + this.limits.header_timeout;
                }
                buf.put_slice(got);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending if phase == BUSY => Poll::Pending,
            Poll::Pending => {
                if this.timer.deadline() != this.deadline {
                    this.timer.as_mut().reset(this.deadline);
                }
                ready!(this.timer.as_mut().poll(cx));
                if phase == HEAD {
                    // Nothing is being written on this connection yet: the
                    // answer goes straight to the socket (it fits).
                    let _ = this.tcp.try_write(HEAD_TIMEOUT);
                    Poll::Ready(Err(io::ErrorKind::TimedOut.into()))
                } else {
                    // Idle too long: end of stream, closed quietly.
                    Poll::Ready(Ok(()))
                }
            }
        }
    }
}

impl hyper::rt::Write for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.tcp).poll_write(cx, buf);
        this.wrote(r, cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.tcp).poll_write_vectored(cx, bufs);
        this.wrote(r, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.tcp).poll_flush(cx);
        this.wrote(r, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

/// A whole body in memory.
struct Full(Option<Bytes>);

impl http_body::Body for Full {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(self.get_mut().0.take().map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.as_ref().map_or(0, |b| b.len() as u64))
    }
}

fn to_hyper(r: Response) -> hyper::Response<Full> {
    let mut b = hyper::Response::builder().status(r.status);
    for (k, v) in &r.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    b.body(Full(Some(Bytes::from(r.body)))).unwrap_or_else(|_| {
        let mut fallback = hyper::Response::new(Full(None));
        *fallback.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
        fallback
    })
}

/// Reads `length` bytes of body by `deadline`; `None` when the client is
/// too slow or goes away.
async fn read_body(mut body: Incoming, length: usize, deadline: Instant) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(length);
    let read = async {
        while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            if let Ok(data) = frame.ok()?.into_data() {
                out.extend_from_slice(&data);
                if out.len() > length {
                    return None;
                }
            }
        }
        Some(())
    };
    tokio::time::timeout_at(deadline, read).await.ok()??;
    Some(out)
}

async fn answer(req: hyper::Request<Incoming>, limits: &Limits, handler: &Handler, phase: &AtomicU8) -> Response {
    phase.store(BUSY, Ordering::Release);
    let deadline = Instant::now() + limits.body_timeout;
    let (parts, body) = req.into_parts();
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let path = parts.uri.path_and_query().map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned());
    let mut req =
        Request { method: parts.method.as_str().to_owned(), path, headers, body: Vec::new(), too_large: false };
    let r = match admit(&req.headers, limits.max_body) {
        Admission::Refuse(411) => Response::new(411, "text/plain", "send a Content-Length\n").closing(),
        Admission::Refuse(status) => Response::new(status, "text/plain", "bad Content-Length\n").closing(),
        Admission::TooLarge => {
            // The handler answers (and counts) it; the body is not read.
            req.too_large = true;
            handler(&req).closing()
        }
        Admission::Read(length) => match read_body(body, length, deadline).await {
            Some(b) => {
                req.body = b;
                handler(&req)
            }
            None => Response::new(408, "text/plain", "request body not received in time\n").closing(),
        },
    };
    phase.store(IDLE, Ordering::Release);
    r
}

async fn connection(tcp: TcpStream, limits: Arc<Limits>, handler: Handler, mut stop: watch::Receiver<bool>) {
    let _ = tcp.set_nodelay(true);
    let head_buf = limits.max_header.max(8192);
    let max_header = limits.max_header;
    let phase = Arc::new(AtomicU8::new(IDLE));
    let io = Stream::new(tcp, limits.clone(), phase.clone());
    let service = hyper::service::service_fn(move |req| {
        let (limits, handler, phase) = (limits.clone(), handler.clone(), phase.clone());
        async move { Ok::<_, std::convert::Infallible>(to_hyper(answer(req, &limits, &handler, &phase).await)) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    // A head over `max_header` is 431 whether it came in one read or many
    // (the buffer's bound alone lets a head that arrives at once through).
    builder.header_read_timeout(None).max_header_size(max_header).max_buf_size(head_buf).keep_alive(true);
    let mut conn = pin!(builder.serve_connection(io, service));
    let mut stopped = pin!(stop.wait_for(|s| *s));
    let mut draining = false;
    let _ = poll_fn(|cx| {
        if !draining && stopped.as_mut().poll(cx).is_ready() {
            // Finish the request in progress, then close.
            conn.as_mut().graceful_shutdown();
            draining = true;
        }
        conn.as_mut().poll(cx)
    })
    .await;
}

/// Stops [`serve`]: it stops accepting, lets each connection finish the
/// request it is on, and returns.
#[derive(Debug, Clone)]
pub(crate) struct Stop(Arc<watch::Sender<bool>>);

impl Stop {
    /// A stop that has not been pulled.
    pub(crate) fn new() -> Stop {
        Stop(Arc::new(watch::channel(false).0))
    }

    /// Pulls it.
    pub(crate) fn stop(&self) {
        self.0.send_replace(true);
    }
}

impl Default for Stop {
    fn default() -> Stop {
        Stop::new()
    }
}

/// Serves `listener` on a runtime of its own, on this thread, until `stop`;
/// then closes the listener and waits at most `drain` for the connections'
/// requests in progress to be answered.
pub(crate) fn serve(listener: std::net::TcpListener, limits: Limits, handler: Handler, stop: Stop, drain: Duration) {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build() {
        Ok(r) => r,
        Err(e) => {
            super::log::log("error", "cannot start the HTTP runtime", serde_json::json!({"error": e.to_string()}));
            return;
        }
    };
    runtime.block_on(accept(listener, Arc::new(limits), handler, stop, drain));
}

async fn accept(listener: std::net::TcpListener, limits: Arc<Limits>, handler: Handler, stop: Stop, drain: Duration) {
    let listener = match listener.set_nonblocking(true).and_then(|()| tokio::net::TcpListener::from_std(listener)) {
        Ok(l) => l,
        Err(e) => {
            super::log::log("error", "cannot listen", serde_json::json!({"error": e.to_string()}));
            return;
        }
    };
    let open = Arc::new(AtomicUsize::new(0));
    let mut stopping = stop.0.subscribe();
    {
        let mut stopped = pin!(stopping.wait_for(|s| *s));
        loop {
            let next = poll_fn(|cx| {
                if stopped.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
                listener.poll_accept(cx).map(Some)
            })
            .await;
            let tcp = match next {
                None => break,
                Some(Ok((tcp, _))) => tcp,
                Some(Err(_)) => {
                    // Out of descriptors, or a connection reset before it was
                    // accepted: a moment's pause, then go on.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            if open.load(Ordering::SeqCst) >= limits.max_connections {
                let _ = tcp.try_write(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 5\r\nContent-Length: 52\r\nConnection: close\r\n\r\n{\"outcome\":\"busy\",\"message\":\"too many connections\"}",
                );
                continue;
            }
            open.fetch_add(1, Ordering::SeqCst);
            let (open, limits, handler, stop) = (open.clone(), limits.clone(), handler.clone(), stop.0.subscribe());
            tokio::spawn(async move {
                connection(tcp, limits, handler, stop).await;
                open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    }
    drop(listener);
    let deadline = Instant::now() + drain;
    while open.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn heads_are_admitted_refused_or_answered_unread() {
        assert_eq!(admit(&h(&[]), 10), Admission::Read(0));
        assert_eq!(admit(&h(&[("Content-Length", "10")]), 10), Admission::Read(10));
        assert_eq!(admit(&h(&[("content-length", "11")]), 10), Admission::TooLarge);
        assert_eq!(admit(&h(&[("Transfer-Encoding", "chunked"), ("Content-Length", "1")]), 10), Admission::Refuse(411));
        assert_eq!(admit(&h(&[("Content-Length", "-1")]), 10), Admission::Refuse(400));
        assert_eq!(admit(&h(&[("Content-Length", "1"), ("Content-Length", "2")]), 10), Admission::Refuse(400));
        assert_eq!(admit(&h(&[("Content-Length", "1"), ("Content-Length", "1")]), 10), Admission::Read(1));
        assert_eq!(admit(&h(&[("Content-Length", "99999999999999999999999")]), 10), Admission::Refuse(400));
    }
}
