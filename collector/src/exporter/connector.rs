//! The gRPC exporter's connector: TCP to the endpoint, then a rustls handshake when the
//! endpoint uses TLS, so both network exporters share one TLS implementation
//! ([`super::ClientTlsConfig::rustls`]) with every `tls:` option. A `round_robin` channel's
//! connector dials one resolved address ([`Connector::to`]) and keeps the host's TLS name.

use crate::pipeline::BoxFuture;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_util::either::Either;

/// Connects to the URI's host and port; speaks TLS when built with a TLS config.
#[derive(Clone)]
pub struct Connector {
    tls: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
    /// Dial this address instead of resolving the URI's host.
    addr: Option<SocketAddr>,
}

impl Connector {
    /// Plaintext (h2c) when `tls` is `None`.
    pub fn new(tls: Option<(rustls::ClientConfig, ServerName<'static>)>) -> Self {
        Self {
            tls: tls.map(|(cfg, name)| (tokio_rustls::TlsConnector::from(Arc::new(cfg)), name)),
            addr: None,
        }
    }

    /// The same connector, dialling `addr`.
    pub fn to(&self, addr: SocketAddr) -> Self {
        Self {
            tls: self.tls.clone(),
            addr: Some(addr),
        }
    }
}

type Io = TokioIo<Either<TcpStream, TlsStream<TcpStream>>>;

impl tonic::codegen::Service<http::Uri> for Connector {
    type Response = Io;
    type Error = std::io::Error;
    type Future = BoxFuture<'static, Result<Io, std::io::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), std::io::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let tls = self.tls.clone();
        let addr = self.addr;
        Box::pin(async move {
            let tcp = match addr {
                Some(addr) => TcpStream::connect(addr).await?,
                None => connect_host(&uri, tls.is_some()).await?,
            };
            let _ = tcp.set_nodelay(true);
            match tls {
                None => Ok(TokioIo::new(Either::Left(tcp))),
                Some((connector, name)) => {
                    let s = connector.connect(name, tcp).await?;
                    Ok(TokioIo::new(Either::Right(s)))
                }
            }
        })
    }
}

/// TCP to the URI's host, each of its addresses in turn until one accepts.
async fn connect_host(uri: &http::Uri, tls: bool) -> std::io::Result<TcpStream> {
    let host = uri
        .host()
        .ok_or_else(|| std::io::Error::other("the endpoint has no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    TcpStream::connect((host.as_str(), port)).await
}
