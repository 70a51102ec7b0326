//! `balancer_name` of the gRPC exporter. `round_robin`, the Collector's default, spreads
//! requests over every address the endpoint's host resolves to, one HTTP/2 connection each: a
//! headless Service's gateway pods share one agent's load, where a single long-lived
//! connection would pin it to one pod. `pick_first` keeps one connection.
//!
//! The addresses are resolved on the first request and again every [`REFRESH`] (a scaled-up
//! Deployment's new pods get traffic without waiting for a connection to break, which is
//! where grpc-go's resolver alone falls short), and soon after a connection fails. A failed
//! resolution keeps the addresses there were.
//!
//! Like grpc-go's picker, requests go to addresses whose connection is up (or not tried yet)
//! before those still connecting: a black-holed pod holds up the one request that found it,
//! not every n-th. An address whose connection cannot be made (refused, or not made within
//! the connector's timeout) is passed over for a backoff, and the request goes to the next
//! one at once: nothing was sent. The turn starts at a random address, so that a fleet of
//! agents does not start on the same gateway.

use crate::pipeline::BoxFuture;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tonic::transport::Channel;

/// How often the addresses are resolved again while requests flow.
pub const REFRESH: Duration = Duration::from_secs(30);
/// The soonest a failed connection makes the addresses be resolved again.
const REFRESH_AFTER_FAILURE: Duration = Duration::from_secs(5);
/// How long an address that refused a connection is first passed over; doubled on each
/// failure in a row up to [`MAX_BACKOFF`], as gRPC's connection backoff is.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// `balancer_name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// One connection, to the first address that accepts it.
    PickFirst,
    /// A connection to every address, requests in turn.
    RoundRobin,
}

impl Policy {
    /// The policy named in the config; absent is `round_robin`, as in the Collector (configgrpc's
    /// `BalancerName()`). Names compare without case, as grpc-go's balancer registry does.
    pub fn parse(name: Option<&str>) -> Result<Policy, String> {
        match name.map(str::trim) {
            None | Some("") => Ok(Policy::RoundRobin),
            Some(n) if n.eq_ignore_ascii_case("round_robin") => Ok(Policy::RoundRobin),
            Some(n) if n.eq_ignore_ascii_case("pick_first") => Ok(Policy::PickFirst),
            Some(n) => Err(format!(
                "unknown balancer {n:?}: use round_robin (the default) or pick_first"
            )),
        }
    }
}

/// Resolves a host and port to its addresses.
pub type Resolve =
    Arc<dyn Fn(String, u16) -> BoxFuture<'static, io::Result<Vec<SocketAddr>>> + Send + Sync>;

/// The system resolver (`getaddrinfo`, on a blocking thread).
pub fn system_resolver() -> Resolve {
    Arc::new(|host, port| {
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host.as_str(), port))
                .await?
                .collect())
        })
    })
}

/// Builds the (lazy) channel to one address; its connector reports to the [`Link`].
pub type MakeChannel = Box<dyn Fn(SocketAddr, Arc<Link>) -> Channel + Send + Sync>;

/// Whether one address's connector is making a connection (a failed one is passed over by its
/// backoff).
#[derive(Debug, Default)]
pub struct Link(AtomicBool);

impl Link {
    /// A connection attempt starts (`true`) or ends (`false`).
    pub fn connecting(&self, yes: bool) {
        self.0.store(yes, Ordering::Relaxed);
    }

    fn is_connecting(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Where the requests of one exporter go.
pub enum Balancer {
    /// One channel; its connector resolves the host when it connects.
    One(Channel),
    /// A channel per address.
    RoundRobin(Arc<Pool>),
}

/// The channel one request goes out on.
pub struct Pick {
    /// The channel.
    pub channel: Channel,
    /// For `round_robin`: the pool and the address picked from it.
    from: Option<(Arc<Pool>, Arc<Backend>)>,
    /// How many addresses there were to choose from.
    pub of: usize,
}

impl Pick {
    /// The address picked, for `round_robin`.
    pub fn address(&self) -> Option<SocketAddr> {
        self.from.as_ref().map(|(_, b)| b.addr)
    }

    /// The request went out: the address is healthy again.
    pub fn sent(&self) {
        if let Some((_, b)) = &self.from {
            b.lock().failures = 0;
        }
    }

    /// The connection could not be made; `true` when another address may take the request.
    pub fn connect_failed(&self) -> bool {
        let Some((pool, b)) = &self.from else {
            return false;
        };
        let mut health = b.lock();
        health.failures = health.failures.saturating_add(1);
        let shift = u32::from(health.failures.saturating_sub(1)).min(5);
        let backoff = FIRST_BACKOFF.saturating_mul(1 << shift).min(MAX_BACKOFF);
        health.down_until = Some(Instant::now() + backoff);
        drop(health);
        tracing::debug!(address = %b.addr, ?backoff, "connection failed: the address is passed over");
        pool.resolve_soon();
        true
    }
}

impl Balancer {
    /// The channel for the next request.
    pub async fn pick(&self) -> Result<Pick, String> {
        match self {
            Balancer::One(channel) => Ok(Pick {
                channel: channel.clone(),
                from: None,
                of: 1,
            }),
            Balancer::RoundRobin(pool) => pool.pick().await,
        }
    }
}

/// The addresses of one host and their channels.
pub struct Pool {
    host: String,
    port: u16,
    make: MakeChannel,
    resolve: Resolve,
    refresh: Duration,
    next: AtomicUsize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    backends: Arc<[Arc<Backend>]>,
    /// When the addresses are to be asked for again (`None`: never asked), and whether an
    /// answer is awaited.
    due: Option<Instant>,
    resolving: bool,
}

struct Backend {
    addr: SocketAddr,
    channel: Channel,
    link: Arc<Link>,
    health: Mutex<Health>,
}

#[derive(Default)]
struct Health {
    failures: u8,
    down_until: Option<Instant>,
}

impl Backend {
    fn lock(&self) -> std::sync::MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn is_down(&self, now: Instant) -> bool {
        self.lock().down_until.is_some_and(|t| t > now)
    }
}

impl Pool {
    /// A pool for `host:port`, resolved with `resolve` every `refresh`.
    pub fn new(
        host: String,
        port: u16,
        make: MakeChannel,
        resolve: Resolve,
        refresh: Duration,
    ) -> Arc<Pool> {
        Arc::new(Pool {
            host,
            port,
            make,
            resolve,
            refresh,
            next: AtomicUsize::new(random_start()),
            state: Mutex::new(State::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn pick(self: &Arc<Self>) -> Result<Pick, String> {
        let now = Instant::now();
        let (backends, stale) = {
            let mut state = self.lock();
            let stale = !state.resolving && state.due.is_none_or(|due| now >= due);
            if stale {
                state.resolving = true;
            }
            (state.backends.clone(), stale)
        };
        let backends = if backends.is_empty() {
            // Nothing to send to until the host resolves: this request waits for it.
            self.resolve_now().await?
        } else {
            if stale {
                let pool = self.clone();
                tokio::spawn(async move {
                    let _ = pool.resolve_now().await;
                });
            }
            backends
        };
        let n = backends.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n.max(1);
        let in_turn = || backends.iter().cycle().skip(start).take(n);
        // The next address in turn that is up or untried; else one still connecting; else,
        // all passed over, the next in turn.
        let chosen = in_turn()
            .find(|b| !b.is_down(now) && !b.link.is_connecting())
            .or_else(|| in_turn().find(|b| !b.is_down(now)))
            .or_else(|| in_turn().next())
            .ok_or_else(|| format!("{}:{} has no address", self.host, self.port))?;
        Ok(Pick {
            channel: chosen.channel.clone(),
            from: Some((self.clone(), chosen.clone())),
            of: n,
        })
    }

    /// Resolves the host and adopts the answer; the backends there are now.
    async fn resolve_now(&self) -> Result<Arc<[Arc<Backend>]>, String> {
        self.lock().resolving = true;
        let answer = (self.resolve)(self.host.clone(), self.port).await;
        let mut state = self.lock();
        state.resolving = false;
        state.due = Some(Instant::now() + self.refresh);
        let mut addrs = match answer {
            Ok(addrs) if !addrs.is_empty() => addrs,
            other => {
                let why = match other {
                    Ok(_) => "no address".to_owned(),
                    Err(e) => e.to_string(),
                };
                let endpoint = format!("{}:{}", self.host, self.port);
                if state.backends.is_empty() {
                    return Err(format!("resolving {endpoint} failed: {why}"));
                }
                tracing::warn!(%endpoint, error = %why, "resolving the endpoint failed: its addresses are kept");
                return Ok(state.backends.clone());
            }
        };
        addrs.sort_unstable();
        addrs.dedup();
        let same = addrs.len() == state.backends.len()
            && addrs
                .iter()
                .zip(state.backends.iter())
                .all(|(a, b)| *a == b.addr);
        if !same {
            let backends: Arc<[Arc<Backend>]> = addrs
                .iter()
                .map(|&addr| {
                    state
                        .backends
                        .iter()
                        .find(|b| b.addr == addr)
                        .cloned()
                        .unwrap_or_else(|| {
                            let link = Arc::new(Link::default());
                            Arc::new(Backend {
                                addr,
                                channel: (self.make)(addr, link.clone()),
                                link,
                                health: Mutex::default(),
                            })
                        })
                })
                .collect();
            tracing::info!(
                endpoint = %format_args!("{}:{}", self.host, self.port),
                addresses = ?addrs,
                "round_robin: the endpoint's addresses"
            );
            state.backends = backends;
        }
        Ok(state.backends.clone())
    }

    /// A connection failed: resolve again soon (the pod may be gone), never later than due.
    fn resolve_soon(&self) {
        let soon = Instant::now() + REFRESH_AFTER_FAILURE;
        let mut state = self.lock();
        state.due = state.due.map(|due| due.min(soon));
    }
}

/// A random place to start the turn at.
fn random_start() -> usize {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u8(0);
    // Truncation is fine: any start will do.
    h.finish() as usize
}

/// Whether a channel's error is a connection that could not be made (nothing was sent).
pub fn is_connect_error(e: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(e), |e| e.source()).any(|e| e.is::<tonic::ConnectError>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_names() {
        for (name, want) in [
            (None, Ok(Policy::RoundRobin)),
            (Some(""), Ok(Policy::RoundRobin)),
            (Some("round_robin"), Ok(Policy::RoundRobin)),
            (Some("ROUND_ROBIN"), Ok(Policy::RoundRobin)),
            (Some("pick_first"), Ok(Policy::PickFirst)),
            (
                Some("least_request"),
                Err(
                    "unknown balancer \"least_request\": use round_robin (the default) or pick_first"
                        .to_owned(),
                ),
            ),
        ] {
            assert_eq!(Policy::parse(name), want, "{name:?}");
        }
    }
}
