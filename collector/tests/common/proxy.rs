//! A small HTTP proxy for exporter tests, as a corporate egress proxy behaves: `CONNECT
//! host:port` opens a tunnel, a request in absolute form (`POST http://host:port/path`) is
//! passed on in origin form. It resolves host names through its own table (the test's
//! `backend.test` names a local port), and records each request line with its
//! `Proxy-Authorization`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy was asked: the request line and the `Proxy-Authorization` value.
pub type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A running proxy.
pub struct Proxy {
    pub addr: std::net::SocketAddr,
    pub seen: Seen,
}

/// Starts a proxy on its own thread; `hosts` maps the names it resolves to local addresses.
pub fn start(hosts: &[(&str, std::net::SocketAddr)]) -> Proxy {
    let hosts: Arc<HashMap<String, std::net::SocketAddr>> =
        Arc::new(hosts.iter().map(|(h, a)| ((*h).to_owned(), *a)).collect());
    let seen: Seen = Arc::default();
    let (tx, rx) = std::sync::mpsc::channel();
    let record = seen.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(serve(client, hosts.clone(), record.clone()));
            }
        });
    });
    Proxy {
        addr: rx.recv().unwrap(),
        seen,
    }
}

async fn serve(
    mut client: TcpStream,
    hosts: Arc<HashMap<String, std::net::SocketAddr>>,
    seen: Seen,
) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte).await.unwrap_or(0) == 0 || head.len() > 16 << 10 {
            return;
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    let line = lines.next().unwrap_or_default().to_owned();
    let auth = lines
        .clone()
        .find_map(|l| {
            l.strip_prefix("Proxy-Authorization: ")
                .or_else(|| l.strip_prefix("proxy-authorization: "))
        })
        .map(str::to_owned);
    seen.lock().unwrap().push((line.clone(), auth));
    let mut parts = line.split(' ');
    let (method, target) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let authority = match method {
        "CONNECT" => target.to_owned(),
        _ => target
            .strip_prefix("http://")
            .and_then(|t| t.split('/').next())
            .unwrap_or_default()
            .to_owned(),
    };
    // Its own table first, then the system's resolver.
    let mapped = authority
        .rsplit_once(':')
        .and_then(|(host, _)| hosts.get(host).copied());
    let upstream = match mapped {
        Some(a) => TcpStream::connect(a).await,
        None => TcpStream::connect(authority.as_str()).await,
    };
    let Ok(mut upstream) = upstream else {
        let _ = client
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    };
    if method == "CONNECT" {
        let _ = client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await;
    } else {
        // Origin form, without the proxy's own header.
        let path = target
            .strip_prefix("http://")
            .and_then(|t| t.find('/').map(|i| &t[i..]))
            .unwrap_or("/");
        let mut out = format!("{method} {path} {}\r\n", parts.next().unwrap_or("HTTP/1.1"));
        for l in lines.filter(|l| {
            !l.is_empty() && !l.to_ascii_lowercase().starts_with("proxy-authorization:")
        }) {
            out.push_str(l);
            out.push_str("\r\n");
        }
        out.push_str("\r\n");
        if upstream.write_all(out.as_bytes()).await.is_err() {
            return;
        }
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}
