//! The simulated mesh: workloads, their routes and who calls whom, and the pods that run them.
//!
//! Modelled on what an Istio mesh looks like from its sidecars: the Bookinfo sample (the
//! workload Istio's docs trace) plus a gRPC shop, behind an ingress gateway.

use crate::rng::Rng;

/// One workload (a Kubernetes Deployment with Istio sidecars).
#[derive(Debug)]
pub struct Workload {
    /// The `app` label, which is also the Service name and Istio's canonical service.
    pub app: &'static str,
    /// Kubernetes namespace.
    pub namespace: &'static str,
    /// `version` labels (canonical revisions); one Deployment per version.
    pub versions: &'static [&'static str],
    /// The Service port.
    pub port: u16,
    /// Inbound routes as `(method, path)`; `{n}` in a path becomes a random number.
    pub routes: &'static [(&'static str, &'static str)],
    /// Apps this workload calls while serving one request, in order.
    pub calls: &'static [&'static str],
    /// The `User-Agent` of this workload's own outbound requests.
    pub client_agent: &'static str,
    /// The protocol its Service speaks (`HTTP/1.1` or `HTTP/2` for gRPC).
    pub protocol: &'static str,
    /// An ingress gateway: its span is the root of the trace and it has no sidecar.
    pub gateway: bool,
}

/// Browsers and tools that reach the ingress gateway.
pub const EDGE_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "curl/8.5.0",
    "k6/0.51.0 (https://k6.io/)",
];

/// Zones pods may run in; some clusters have no zone labels, so some pods have none.
pub const ZONES: &[&str] = &["us-east-1a", "us-east-1b", "us-east-1c"];

/// Envoy's `response_flags` seen with 5xx answers (upstream connection failure, retries
/// exhausted, upstream overflow).
pub const ERROR_FLAGS: &[&str] = &["UF", "URX", "UO", "UC"];

/// The mesh. The first entry is the gateway; `calls` name other entries' `app`.
pub const MESH: &[Workload] = &[
    Workload {
        app: "istio-ingressgateway",
        namespace: "istio-system",
        versions: &["1.26.2"],
        port: 8080,
        routes: &[
            ("GET", "/productpage"),
            ("GET", "/productpage?u=normal"),
            ("GET", "/api/v1/products/{n}/reviews"),
            ("GET", "/static/bootstrap/dist/css/bootstrap.min.css"),
            ("POST", "/login"),
            ("GET", "/"),
            ("POST", "/cart/checkout"),
        ],
        calls: &["productpage"],
        client_agent: "",
        protocol: "HTTP/1.1",
        gateway: true,
    },
    Workload {
        app: "productpage",
        namespace: "bookinfo",
        versions: &["v1"],
        port: 9080,
        routes: &[
            ("GET", "/productpage"),
            ("GET", "/productpage?u=normal"),
            ("GET", "/api/v1/products/{n}/reviews"),
            ("POST", "/login"),
        ],
        calls: &["details", "reviews"],
        client_agent: "python-requests/2.32.3",
        protocol: "HTTP/1.1",
        gateway: false,
    },
    Workload {
        app: "details",
        namespace: "bookinfo",
        versions: &["v1"],
        port: 9080,
        routes: &[("GET", "/details/{n}")],
        calls: &[],
        client_agent: "Ruby",
        protocol: "HTTP/1.1",
        gateway: false,
    },
    Workload {
        app: "reviews",
        namespace: "bookinfo",
        versions: &["v1", "v2", "v3"],
        port: 9080,
        routes: &[("GET", "/reviews/{n}")],
        calls: &["ratings"],
        client_agent: "Apache-CXF/3.1.18",
        protocol: "HTTP/1.1",
        gateway: false,
    },
    Workload {
        app: "ratings",
        namespace: "bookinfo",
        versions: &["v1"],
        port: 9080,
        routes: &[("GET", "/ratings/{n}")],
        calls: &[],
        client_agent: "node-fetch/1.0",
        protocol: "HTTP/1.1",
        gateway: false,
    },
    Workload {
        app: "frontend",
        namespace: "shop",
        versions: &["v1"],
        port: 8080,
        routes: &[
            ("GET", "/product/{n}"),
            ("GET", "/cart"),
            ("POST", "/cart/checkout"),
            ("POST", "/setCurrency"),
        ],
        calls: &["cartservice", "currencyservice", "checkoutservice"],
        client_agent: "grpc-go/1.64.0",
        protocol: "HTTP/1.1",
        gateway: false,
    },
    Workload {
        app: "cartservice",
        namespace: "shop",
        versions: &["v1"],
        port: 7070,
        routes: &[
            ("POST", "/hipstershop.CartService/GetCart"),
            ("POST", "/hipstershop.CartService/AddItem"),
        ],
        calls: &[],
        client_agent: "grpc-dotnet/2.63.0 (.NET 8.0.6; CLR 8.0.6; net8.0; linux; x64)",
        protocol: "HTTP/2",
        gateway: false,
    },
    Workload {
        app: "currencyservice",
        namespace: "shop",
        versions: &["v1"],
        port: 7000,
        routes: &[
            ("POST", "/hipstershop.CurrencyService/Convert"),
            (
                "POST",
                "/hipstershop.CurrencyService/GetSupportedCurrencies",
            ),
        ],
        calls: &[],
        client_agent: "grpc-node-js/1.10.9",
        protocol: "HTTP/2",
        gateway: false,
    },
    Workload {
        app: "checkoutservice",
        namespace: "shop",
        versions: &["v1"],
        port: 5050,
        routes: &[("POST", "/hipstershop.CheckoutService/PlaceOrder")],
        calls: &["cartservice", "currencyservice", "paymentservice"],
        client_agent: "grpc-go/1.64.0",
        protocol: "HTTP/2",
        gateway: false,
    },
    Workload {
        app: "paymentservice",
        namespace: "shop",
        versions: &["v1"],
        port: 50051,
        routes: &[("POST", "/hipstershop.PaymentService/Charge")],
        calls: &[],
        client_agent: "grpc-node-js/1.10.9",
        protocol: "HTTP/2",
        gateway: false,
    },
];

/// The trust domain / mesh id and the cluster id of a default Istio install.
pub const MESH_ID: &str = "cluster.local";
/// Istio's default cluster id.
pub const CLUSTER_ID: &str = "Kubernetes";

/// The workload whose `app` is `app`.
#[must_use]
pub fn workload(app: &str) -> Option<&'static Workload> {
    MESH.iter().find(|w| w.app == app)
}

impl Workload {
    /// The Service's cluster-local host name, e.g. `reviews.bookinfo.svc.cluster.local`.
    #[must_use]
    pub fn fqdn(&self) -> String {
        format!("{}.{}.svc.cluster.local", self.app, self.namespace)
    }
}

/// One pod of a workload: what its sidecar puts in the resource and in `node_id`.
#[derive(Debug, Clone)]
pub struct Pod {
    /// The workload it runs.
    pub workload: &'static Workload,
    /// Its `version` label.
    pub version: &'static str,
    /// The Deployment name (`reviews-v2`).
    pub deployment: String,
    /// The pod name (`reviews-v2-7d7b6f8c5-x2kq9`).
    pub name: String,
    /// The pod IP.
    pub ip: String,
    /// The node it runs on.
    pub node: String,
    /// The node's zone, when the cluster labels zones.
    pub zone: Option<&'static str>,
}

impl Pod {
    /// A new pod of `workload` with random names and addresses.
    pub fn new(workload: &'static Workload, rng: &mut Rng) -> Self {
        let version = rng.pick(workload.versions).copied().unwrap_or("v1");
        let deployment = if workload.gateway {
            workload.app.to_owned()
        } else {
            format!("{}-{version}", workload.app)
        };
        let name = format!("{deployment}-{}-{}", rng.k8s_suffix(10), rng.k8s_suffix(5));
        let ip = format!("10.244.{}.{}", rng.range(0, 7), rng.range(2, 254));
        let node = format!(
            "ip-10-0-{}-{}.ec2.internal",
            rng.range(0, 63),
            rng.range(1, 254)
        );
        let zone = if rng.chance(60) {
            rng.pick(ZONES).copied()
        } else {
            None
        };
        Self {
            workload,
            version,
            deployment,
            name,
            ip,
            node,
            zone,
        }
    }

    /// Envoy's `node_id` for this pod's proxy, as Istio sets it.
    #[must_use]
    pub fn node_id(&self) -> String {
        let kind = if self.workload.gateway {
            "router"
        } else {
            "sidecar"
        };
        let ns = self.workload.namespace;
        format!(
            "{kind}~{}~{}.{ns}~{ns}.svc.cluster.local",
            self.ip, self.name
        )
    }

    /// Istio's default `service.name` (`APP_LABEL_AND_NAMESPACE`).
    #[must_use]
    pub fn service_name(&self) -> String {
        format!("{}.{}", self.workload.app, self.workload.namespace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_call_names_a_workload_and_the_gateway_comes_first() {
        for w in MESH {
            for callee in w.calls {
                assert!(
                    workload(callee).is_some(),
                    "{} calls unknown {callee}",
                    w.app
                );
            }
            assert!(!w.routes.is_empty() && !w.versions.is_empty(), "{}", w.app);
        }
        assert!(MESH.first().is_some_and(|w| w.gateway));
        assert_eq!(MESH.iter().filter(|w| w.gateway).count(), 1);
    }

    #[test]
    fn pods_look_like_istio_pods() {
        let mut rng = Rng::new(5);
        let reviews = workload("reviews").unwrap();
        let pod = Pod::new(reviews, &mut rng);
        assert!(
            pod.name.starts_with(&format!("reviews-{}-", pod.version)),
            "{}",
            pod.name
        );
        assert!(
            pod.node_id().starts_with("sidecar~10.244."),
            "{}",
            pod.node_id()
        );
        assert!(
            pod.node_id()
                .ends_with(".bookinfo~bookinfo.svc.cluster.local")
        );
        assert_eq!(pod.service_name(), "reviews.bookinfo");
        let gw = Pod::new(&MESH[0], &mut rng);
        assert!(gw.node_id().starts_with("router~"));
        assert!(gw.name.starts_with("istio-ingressgateway-"));
    }
}
