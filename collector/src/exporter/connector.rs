//! The gRPC exporter's connector: TCP to the endpoint, then a rustls handshake when the
//! endpoint uses TLS, so both network exporters share one TLS implementation
//! ([`super::ClientTlsConfig::rustls`]) with every `tls:` option. A `round_robin` channel's
//! connector dials one resolved address ([`Connector::to`]) and keeps the host's TLS name; a
//! proxied one goes through the proxy's `CONNECT` tunnel ([`Connector::through`]).

use super::balance::Link;
use crate::pipeline::BoxFuture;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_util::either::Either;

/// Connects to the URI's host and port; speaks TLS when built with a TLS config.
#[derive(Clone)]
pub struct Connector {
    tls: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
    /// Dial this address instead of resolving the URI's host.
    addr: Option<SocketAddr>,
    /// Reach this `host:port` through the proxy's tunnel.
    tunnel: Option<(Tunnel<HttpConnector>, http::Uri)>,
    /// Told when a connection attempt starts and ends (`round_robin`'s picker).
    link: Option<Arc<Link>>,
    /// A connection (TCP, tunnel, TLS) not made within this long fails. Inside the connector,
    /// so that the failure is a connect error (nothing sent: another address may be tried).
    timeout: Duration,
}

impl Connector {
    /// Plaintext (h2c) when `tls` is `None`; connections fail after `timeout`.
    pub fn new(
        tls: Option<(rustls::ClientConfig, ServerName<'static>)>,
        timeout: Duration,
    ) -> Self {
        Self {
            tls: tls.map(|(cfg, name)| (tokio_rustls::TlsConnector::from(Arc::new(cfg)), name)),
            addr: None,
            tunnel: None,
            link: None,
            timeout,
        }
    }

    /// The same connector, through `route`'s proxy to `host:port`.
    pub fn through(
        mut self,
        route: &super::proxy::Route,
        host: &str,
        port: u16,
    ) -> std::io::Result<Self> {
        let dst = format!("http://{}", super::proxy::authority(host, port))
            .parse()
            .map_err(std::io::Error::other)?;
        self.tunnel = Some((route.tunnel(), dst));
        Ok(self)
    }

    /// The same connector, dialling `addr` and telling `link` how it goes.
    pub fn to(&self, addr: SocketAddr, link: Arc<Link>) -> Self {
        Self {
            tls: self.tls.clone(),
            addr: Some(addr),
            tunnel: None,
            link: Some(link),
            timeout: self.timeout,
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
        let tunnel = self.tunnel.clone();
        let link = self.link.clone();
        let timeout = self.timeout;
        if let Some(l) = &link {
            l.connecting(true);
        }
        let connecting = async move {
            let tcp = match (tunnel, addr) {
                (Some((mut tunnel, dst)), _) => {
                    std::future::poll_fn(|cx| tunnel.poll_ready(cx))
                        .await
                        .map_err(std::io::Error::other)?;
                    tunnel
                        .call(dst)
                        .await
                        .map_err(std::io::Error::other)?
                        .into_inner()
                }
                (None, Some(addr)) => TcpStream::connect(addr).await?,
                (None, None) => connect_host(&uri, tls.is_some()).await?,
            };
            let _ = tcp.set_nodelay(true);
            match tls {
                None => Ok(TokioIo::new(Either::Left(tcp))),
                Some((connector, name)) => {
                    let s = connector.connect(name, tcp).await?;
                    Ok(TokioIo::new(Either::Right(s)))
                }
            }
        };
        Box::pin(async move {
            let result = match tokio::time::timeout(timeout, connecting).await {
                Ok(r) => r,
                Err(_) => Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no connection within {timeout:?}"),
                )),
            };
            if let Some(l) = &link {
                l.connecting(false);
            }
            result
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
