//! A small HTTP/1.1 server (hyper on tokio) for the stand-ins: every
//! connection is served concurrently and kept alive as a real API would, and
//! the synchronous handler runs on tokio's blocking pool (it may sleep to
//! inject latency).

use std::fmt;
use std::net::TcpListener;
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Delete,
    Other(String),
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
            Method::Other(m) => m,
        })
    }
}

/// A response body: all at once, or chunks as a handler sends them.
pub enum Payload {
    Full(String),
    Stream(tokio::sync::mpsc::Receiver<String>),
    /// No answer: the connection is closed.
    Abort,
}

/// The error that makes hyper close a connection without answering.
#[derive(Debug)]
struct Aborted;
impl fmt::Display for Aborted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("answer dropped on purpose")
    }
}
impl std::error::Error for Aborted {}

/// Status, headers and body of an answer.
type Answer = (u16, Vec<(String, String)>, Payload);

/// A body fed by a channel (streamed answers, e.g. NDJSON).
struct ChannelBody(tokio::sync::mpsc::Receiver<String>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|c| c.map(|s| Ok(hyper::body::Frame::data(Bytes::from(s)))))
    }
}

/// A request with its body read, answered once with [`Request::respond`].
pub struct Request {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: String,
    answer: oneshot::Sender<Answer>,
}

impl Request {
    pub fn method(&self) -> &Method {
        &self.method
    }
    /// Path and query, e.g. `/v4/regions?page=1`.
    pub fn url(&self) -> &str {
        &self.url
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }
    pub fn body(&self) -> &str {
        &self.body
    }
    pub fn respond(self, status: u16, headers: Vec<(String, String)>, body: String) {
        let _ = self.answer.send((status, headers, Payload::Full(body)));
    }

    /// Closes the connection without an answer (the request was handled;
    /// the client never hears how).
    pub fn abort(self) {
        let _ = self.answer.send((0, vec![], Payload::Abort));
    }

    /// Answers with a body streamed from the returned sender (the answer ends when it is dropped).
    pub fn respond_stream(
        self,
        status: u16,
        headers: Vec<(String, String)>,
    ) -> tokio::sync::mpsc::Sender<String> {
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let _ = self.answer.send((status, headers, Payload::Stream(rx)));
        tx
    }
}

pub type Handler = Arc<dyn Fn(Request) + Send + Sync>;

/// A running server; stops accepting when dropped.
pub struct Server {
    pub port: u16,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Server {
    pub fn start(listener: TcpListener, handler: Handler) -> std::io::Result<Server> {
        Self::start_with(listener, handler, None)
    }

    /// Serves HTTPS with `tls` (HTTP/1.1), or plain HTTP without it.
    pub fn start_with(
        listener: TcpListener,
        handler: Handler,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> std::io::Result<Server> {
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        let port = listener.local_addr()?.port();
        listener.set_nonblocking(true)?;
        let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        std::thread::spawn(move || {
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                loop {
                    let stream = tokio::select! {
                        _ = &mut stop_rx => return,
                        accepted = listener.accept() => match accepted {
                            Ok((stream, _)) => stream,
                            Err(_) => continue,
                        },
                    };
                    let handler = handler.clone();
                    let acceptor = acceptor.clone();
                    tokio::spawn(async move {
                        let service = service_fn(move |req: hyper::Request<Incoming>| {
                            let handler = handler.clone();
                            async move { serve(handler, req).await }
                        });
                        let builder = hyper::server::conn::http1::Builder::new();
                        match acceptor {
                            Some(a) => {
                                if let Ok(tls) = a.accept(stream).await {
                                    let _ =
                                        builder.serve_connection(TokioIo::new(tls), service).await;
                                }
                            }
                            None => {
                                let _ = builder
                                    .serve_connection(TokioIo::new(stream), service)
                                    .await;
                            }
                        }
                    });
                }
            });
        });
        Ok(Server {
            port,
            stop: Some(stop_tx),
        })
    }
}

type Body = http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>;

async fn serve(
    handler: Handler,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Body>, Aborted> {
    let method = match req.method().as_str() {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "DELETE" => Method::Delete,
        other => Method::Other(other.to_string()),
    };
    let url = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = match req.into_body().collect().await {
        Ok(b) => String::from_utf8_lossy(&b.to_bytes()).into_owned(),
        Err(_) => String::new(),
    };
    let (tx, rx) = oneshot::channel();
    let request = Request {
        method,
        url,
        headers,
        body,
        answer: tx,
    };
    tokio::task::spawn_blocking(move || handler(request));
    let (status, headers, body) =
        rx.await
            .unwrap_or((500, vec![], Payload::Full("handler gave no answer".into())));
    if matches!(body, Payload::Abort) {
        return Err(Aborted);
    }
    let mut resp = hyper::Response::builder().status(status);
    for (k, v) in headers {
        resp = resp.header(k, v);
    }
    let body: Body = match body {
        Payload::Full(s) => Full::new(Bytes::from(s)).boxed(),
        Payload::Stream(rx) => BodyExt::boxed(ChannelBody(rx)),
        Payload::Abort => unreachable!("handled above"),
    };
    Ok(resp.body(body).expect("valid response"))
}
