//! The one listener loop for plain HTTP and HTTPS: a limit on open
//! connections, and the timeouts that keep a client from holding one forever.
//!
//! A connection is in one of three phases, each with its own clock:
//! - idle (accepted, or its last response sent): closed when no byte of a
//!   request arrives within `idle_timeout`;
//! - reading a request head (its first byte arrived): closed when the head is
//!   not complete within `header_timeout`;
//! - busy (a request is being answered): the request body must arrive within
//!   `body_timeout` of the head (else 408 and the connection is closed); the
//!   handler itself has no clock.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use axum::response::IntoResponse;
use bytes::Bytes;
use futures::task::AtomicWaker;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::{Instant, Sleep};

use crate::error::ApiError;
use crate::metrics::Metrics;

/// How many connections the server holds open and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Open connections (TLS handshakes included); further clients wait in the
    /// listen backlog until one closes.
    pub max_connections: usize,
    /// From a request's first byte to the end of its head.
    pub header_timeout: Duration,
    /// From a request's head to the end of its body.
    pub body_timeout: Duration,
    /// A connection with no request: after it is accepted, or between requests.
    pub idle_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(30),
        }
    }
}

/// What turns an accepted TCP stream into the stream HTTP is spoken on
/// (nothing for plain HTTP, a TLS handshake for HTTPS). `None`: drop it.
pub(crate) trait Handshake: Clone + Send + Sync + 'static {
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    fn handshake(
        &self,
        tcp: TcpStream,
        peer: SocketAddr,
    ) -> impl Future<Output = Option<Self::Io>> + Send;
}

/// Plain HTTP: the TCP stream as it is.
#[derive(Clone)]
pub(crate) struct Plain;

impl Handshake for Plain {
    type Io = TcpStream;

    async fn handshake(&self, tcp: TcpStream, _peer: SocketAddr) -> Option<TcpStream> {
        Some(tcp)
    }
}

/// Accepts connections on `listener` and serves `app` on each until `stop`
/// completes; then stops accepting, lets the requests in flight finish
/// (idle connections close at once) and returns when every connection has.
pub(crate) async fn serve<H: Handshake>(
    listener: TcpListener,
    handshake: H,
    app: Router,
    limits: ConnectionLimits,
    metrics: Arc<Metrics>,
    stop: impl Future<Output = ()> + Send,
) {
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(max));
    let (stopping, stop_rx) = watch::channel(false);
    let mut listener = listener;
    tokio::pin!(stop);
    loop {
        let permit = tokio::select! {
            () = &mut stop => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        // axum's accept retries, and backs off on errors such as EMFILE.
        let (tcp, peer) = tokio::select! {
            () = &mut stop => break,
            accepted = axum::serve::Listener::accept(&mut listener) => accepted,
        };
        let connection = Connection {
            handshake: handshake.clone(),
            app: app.clone(),
            limits,
            metrics: metrics.clone(),
            stop: stop_rx.clone(),
        };
        tokio::spawn(async move {
            let _open = permit;
            connection.run(tcp, peer).await;
        });
    }
    drop(listener);
    let _ = stopping.send(true);
    // Every connection holds a slot until it ends.
    let _ = slots.acquire_many(max as u32).await;
}

struct Connection<H> {
    handshake: H,
    app: Router,
    limits: ConnectionLimits,
    metrics: Arc<Metrics>,
    stop: watch::Receiver<bool>,
}

impl<H: Handshake> Connection<H> {
    async fn run(mut self, tcp: TcpStream, peer: SocketAddr) {
        let _gauge = self.metrics.connection_opened();
        let io = tokio::select! {
            io = self.handshake.handshake(tcp, peer) => io,
            () = stopped(&mut self.stop) => None,
        };
        let Some(io) = io else { return };
        let activity = Arc::new(Activity::new());
        let io = Guarded::new(io, activity.clone(), self.limits);
        let service = Tracked {
            app: self.app.clone(),
            activity: activity.clone(),
            body_timeout: self.limits.body_timeout,
        };
        let http = hyper::server::conn::http1::Builder::new()
            // The head is timed by `Guarded`, from its first byte.
            .header_read_timeout(None)
            .serve_connection(TokioIo::new(io), service);
        tokio::pin!(http);
        let result = tokio::select! {
            result = &mut http => result,
            () = stopped(&mut self.stop) => {
                http.as_mut().graceful_shutdown();
                http.await
            }
        };
        if let Some(phase) = activity.expired() {
            self.metrics.connection_timed_out(phase);
        }
        if let Err(error) = result {
            tracing::debug!(%peer, %error, "connection closed");
        }
    }
}

/// Completes when the server stops.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// The phase a connection is in, shared by its stream and its service.
struct Activity {
    state: Mutex<Phase>,
    /// The stream's reader, woken when the last response ends (so that the
    /// idle clock starts even though no byte arrives).
    reader: AtomicWaker,
    /// The clock that ran out, if one did: `idle`, `header` or `body`.
    expired: OnceLock<&'static str>,
}

#[derive(Clone, Copy)]
enum Phase {
    /// Since when nothing was asked.
    Idle(Instant),
    /// Since a head's first byte.
    Head(Instant),
    /// Requests being answered.
    Busy(usize),
}

impl Activity {
    fn new() -> Self {
        Self {
            state: Mutex::new(Phase::Idle(Instant::now())),
            reader: AtomicWaker::new(),
            expired: OnceLock::new(),
        }
    }

    fn expire(&self, phase: &'static str) {
        let _ = self.expired.set(phase);
    }

    fn expired(&self) -> Option<&'static str> {
        self.expired.get().copied()
    }

    fn phase(&self) -> std::sync::MutexGuard<'_, Phase> {
        // A poisoned lock still holds a valid phase.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn bytes_read(&self) {
        let mut phase = self.phase();
        if let Phase::Idle(_) = *phase {
            *phase = Phase::Head(Instant::now());
        }
    }

    fn request_started(&self) {
        let mut phase = self.phase();
        *phase = match *phase {
            Phase::Busy(n) => Phase::Busy(n + 1),
            _ => Phase::Busy(1),
        };
    }

    fn request_ended(&self) {
        let mut phase = self.phase();
        *phase = match *phase {
            Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
            _ => Phase::Idle(Instant::now()),
        };
        drop(phase);
        self.reader.wake();
    }

    /// When the current phase runs out, and its name; `None`: no clock.
    fn deadline(&self, limits: &ConnectionLimits) -> Option<(Instant, &'static str)> {
        match *self.phase() {
            Phase::Idle(since) => Some((since + limits.idle_timeout, "idle")),
            Phase::Head(since) => Some((since + limits.header_timeout, "header")),
            Phase::Busy(_) => None,
        }
    }
}

/// A stream whose reads fail once the idle or header clock runs out.
struct Guarded<S> {
    inner: S,
    activity: Arc<Activity>,
    limits: ConnectionLimits,
    clock: Pin<Box<Sleep>>,
}

impl<S> Guarded<S> {
    fn new(inner: S, activity: Arc<Activity>, limits: ConnectionLimits) -> Self {
        Self {
            inner,
            activity,
            limits,
            clock: Box::pin(tokio::time::sleep(limits.idle_timeout)),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.activity.bytes_read();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                this.activity.reader.register(cx.waker());
                let Some((deadline, phase)) = this.activity.deadline(&this.limits) else {
                    return Poll::Pending;
                };
                if this.clock.deadline() != deadline {
                    this.clock.as_mut().reset(deadline);
                }
                ready!(this.clock.as_mut().poll(cx));
                this.activity.expire(phase);
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{phase} timeout"),
                )))
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The router as one connection's hyper service: marks the connection busy
/// while a request is answered and times the request body.
#[derive(Clone)]
struct Tracked {
    app: Router,
    activity: Arc<Activity>,
    body_timeout: Duration,
}

impl hyper::service::Service<Request<Incoming>> for Tracked {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        self.activity.request_started();
        let ended = RequestEnded(self.activity.clone());
        let expired = Arc::new(AtomicBool::new(false));
        let limit = self.body_timeout;
        let request = request.map(|body| {
            Body::new(TimedBody {
                inner: body,
                deadline: Instant::now() + limit,
                clock: None,
                expired: expired.clone(),
            })
        });
        let mut app = self.app.clone();
        let activity = self.activity.clone();
        Box::pin(async move {
            let response = match tower_service::Service::call(&mut app, request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            let response = if expired.load(Ordering::Relaxed) {
                activity.expire("body");
                body_timed_out(limit)
            } else {
                response
            };
            Ok(response.map(|body| {
                Body::new(Ending {
                    inner: body,
                    _ended: ended,
                })
            }))
        })
    }
}

/// 408, and the connection is not kept: the rest of the body may still come.
fn body_timed_out(limit: Duration) -> Response<Body> {
    let mut response = ApiError {
        status: StatusCode::REQUEST_TIMEOUT,
        code: "request_timeout",
        message: format!(
            "the request body did not arrive within {} (`quiver serve --body-timeout`)",
            humanize(limit)
        ),
        missing: None,
    }
    .into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn humanize(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// The request's end: when the response body is done (or dropped).
struct RequestEnded(Arc<Activity>);

impl Drop for RequestEnded {
    fn drop(&mut self) {
        self.0.request_ended();
    }
}

/// A response body that ends its request when hyper drops it.
struct Ending {
    inner: Body,
    _ended: RequestEnded,
}

impl http_body::Body for Ending {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A request body that fails once its deadline passes.
struct TimedBody {
    inner: Incoming,
    deadline: Instant,
    /// Armed the first time the body is waited for.
    clock: Option<Pin<Box<Sleep>>>,
    expired: Arc<AtomicBool>,
}

#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
struct BodyTimeout;

impl http_body::Body for TimedBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::BoxError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => {
                let deadline = this.deadline;
                let clock = this
                    .clock
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                ready!(clock.as_mut().poll(cx));
                this.expired.store(true, Ordering::Relaxed);
                Poll::Ready(Some(Err(BodyTimeout.into())))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
