"""The collector manifests agree with themselves and with the collector: receivers bound where
sidecars and kubelets can reach them, ports that line up from Service to container to config,
every variant sharing the same receivers and processors, secrets wired for every topology,
and each config accepted by the real `meshtrace-collector validate`."""

import re
from pathlib import Path

import pytest
import yaml

import manifestlib as ml

COLLECTOR = ml.MANIFESTS / "collector"
TOPOLOGIES = ["gateway", "agent"]
BACKENDS = sorted(p.name for p in (COLLECTOR / "components").iterdir())
# Every config variant the manifests ship: the base (debug) and one per backend component.
VARIANTS = {"base": COLLECTOR / "base" / "config.yaml"} | {
    b: COLLECTOR / "components" / b / "config.yaml" for b in BACKENDS
}
PORTS = {"otlp-grpc": 4317, "otlp-http": 4318, "zipkin": 9411, "health": 13133, "metrics": 8888}


def config(name):
    return yaml.safe_load(VARIANTS[name].read_text())


def built(tmp_path, topology, backend):
    comps = [] if backend == "base" else [COLLECTOR / "components" / backend]
    objs = ml.compose(tmp_path, [COLLECTOR / "overlays" / topology], comps)
    [cm] = [o for o in objs if o["kind"] == "ConfigMap"]
    [wl] = [o for o in objs if o["kind"] in ("Deployment", "DaemonSet")]
    return objs, yaml.safe_load(cm["data"]["config.yaml"]), wl


def host_port(endpoint):
    host, _, port = endpoint.rpartition(":")
    return host.strip("[]"), int(port)


def container(wl):
    [c] = wl["spec"]["template"]["spec"]["containers"]
    return c


# ------------------------------------------------------------------ the config alone


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_listener_binds_all_interfaces(name):
    """The collector defaults to localhost, as the OpenTelemetry Collector does since
    v0.104: a receiver left at its default is unreachable from every sidecar, a health check
    at localhost fails every kubelet probe (the seeds' trap)."""
    c = config(name)
    endpoints = {
        "otlp grpc": c["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"],
        "otlp http": c["receivers"]["otlp"]["protocols"]["http"]["endpoint"],
        "zipkin": c["receivers"]["zipkin"]["endpoint"],
        "health_check": c["extensions"]["health_check"]["endpoint"],
    }
    [reader] = c["service"]["telemetry"]["metrics"]["readers"]
    prom = reader["pull"]["exporter"]["prometheus"]
    endpoints["metrics"] = f"{prom['host']}:{prom['port']}"
    for what, ep in endpoints.items():
        host, _ = host_port(ep)
        assert host == "0.0.0.0", f"{name}: {what} binds {ep}"
    assert {k: host_port(v)[1] for k, v in endpoints.items()} == {
        "otlp grpc": 4317,
        "otlp http": 4318,
        "zipkin": 9411,
        "health_check": 13133,
        "metrics": 8888,
    }


def test_variants_share_receivers_processors_and_pipeline_shape():
    base = config("base")
    for name in VARIANTS:
        c = config(name)
        assert c["receivers"] == base["receivers"], name
        assert c["processors"] == base["processors"], name
        assert c["extensions"]["health_check"] == base["extensions"]["health_check"], name
        assert c["service"]["telemetry"] == base["service"]["telemetry"], name
        for pid, p in c["service"]["pipelines"].items():
            bp = base["service"]["pipelines"][pid]
            assert (p["receivers"], p["processors"]) == (bp["receivers"], bp["processors"]), (name, pid)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_config_references_resolve(name):
    c = config(name)
    svc = c["service"]
    assert set(svc.get("extensions", [])) <= set(c.get("extensions", {})), name
    for pid, p in svc["pipelines"].items():
        assert set(p["receivers"]) <= set(c["receivers"]), (name, pid)
        assert set(p.get("processors", [])) <= set(c["processors"]), (name, pid)
        assert set(p["exporters"]) <= set(c["exporters"]), (name, pid)
        # memory_limiter refuses before anything else allocates; batch sees what survived.
        assert p["processors"][0] == "memory_limiter" and p["processors"][-1] == "batch", (name, pid)
    for eid, e in c["exporters"].items():
        storage = (e.get("sending_queue") or {}).get("storage")
        if storage:
            assert storage in svc["extensions"], (name, eid, storage)
    if name != "base":
        # A real backend: every exporter retries and queues on disk.
        for eid, e in c["exporters"].items():
            assert e["retry_on_failure"]["enabled"] is True, (name, eid)
            assert e["sending_queue"]["storage"].startswith("file_storage"), (name, eid)


# ------------------------------------------------------------------ config x workload x Service


@pytest.mark.parametrize("backend", ["base", *BACKENDS])
@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_workload_matches_config(tmp_path, topology, backend):
    objs, cfg, wl = built(tmp_path, topology, backend)
    c = container(wl)
    pod = wl["spec"]["template"]
    # The container runs the mounted config.
    [arg] = [a for a in c["args"] if a.startswith("--config=")]
    path = Path(arg.split("=", 1)[1])
    [mount] = [m for m in c["volumeMounts"] if Path(m["mountPath"]) == path.parent]
    [vol] = [v for v in pod["spec"]["volumes"] if v["name"] == mount["name"]]
    [cm] = [o for o in objs if o["kind"] == "ConfigMap"]
    assert vol["configMap"]["name"] == cm["metadata"]["name"]
    assert path.name in cm["data"]
    # Named container ports are the config's ports.
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == PORTS
    # Probes hit the health_check extension's port and path.
    health = cfg["extensions"]["health_check"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"]["port"] == "health", probe
        assert c[probe]["httpGet"]["path"] == health.get("path", "/"), probe
    # Scrape annotations point at the metrics reader.
    ann = pod["metadata"]["annotations"]
    assert ann["prometheus.io/scrape"] == "true" and int(ann["prometheus.io/port"]) == PORTS["metrics"]
    # Never in the mesh; hardened.
    assert pod["metadata"]["labels"]["sidecar.istio.io/inject"] == "false"
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"] and sc["runAsNonRoot"]
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    # memory_limiter works in shares of the memory limit: there must be one.
    ml_cfg = cfg["processors"]["memory_limiter"]
    if "limit_percentage" in ml_cfg:
        assert "memory" in c["resources"]["limits"]
    # Every ${env:VAR} the config reads is set on the container.
    wanted = set(re.findall(r"\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)\}", yaml.safe_dump(cfg)))
    have = {e["name"] for e in c.get("env", [])}
    assert wanted <= have, f"{topology}+{backend}: unset {wanted - have}"
    # The persistent queue's directory is a writable volume.
    for ext_id, ext in cfg.get("extensions", {}).items():
        if ext_id.split("/")[0] == "file_storage":
            assert any(Path(ext["directory"]) == Path(m["mountPath"]) and not m.get("readOnly") for m in c["volumeMounts"]), ext_id


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_services_select_the_pods_and_reach_the_ports(tmp_path, topology):
    objs, _, wl = built(tmp_path, topology, "base")
    labels = wl["spec"]["template"]["metadata"]["labels"]
    cports = {p["name"]: p["containerPort"] for p in container(wl)["ports"]}
    services = {o["metadata"]["name"]: o for o in objs if o["kind"] == "Service"}
    main = services["meshtrace-collector"]
    for svc in services.values():
        assert svc["spec"]["selector"].items() <= labels.items(), svc["metadata"]["name"]
        for p in svc["spec"]["ports"]:
            assert p["targetPort"] in cports, p
            assert cports[p["targetPort"]] == p["port"], p
    by_port = {p["port"]: p for p in main["spec"]["ports"]}
    assert by_port[4317]["name"] == "grpc-otlp" and by_port[4317]["appProtocol"] == "grpc"
    assert by_port[4318]["name"] == "http-otlp" and by_port[4318]["appProtocol"] == "http"
    assert set(by_port) == {4317, 4318, 9411, 13133}
    if topology == "agent":
        assert main["spec"]["internalTrafficPolicy"] == "Local"
        assert "meshtrace-collector-headless" not in services
    else:
        assert services["meshtrace-collector-headless"]["spec"]["clusterIP"] == "None"
    # The NetworkPolicy guards these pods and names their ports.
    [np] = [o for o in objs if o["kind"] == "NetworkPolicy"]
    assert np["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    otlp_rule, open_rule = np["spec"]["ingress"]
    assert {p["port"] for p in otlp_rule["ports"]} == {"otlp-grpc", "otlp-http", "zipkin"}
    assert otlp_rule["from"], "OTLP ports must not be open to everyone"
    assert {p["port"] for p in open_rule["ports"]} == {"health", "metrics"}
    for rule in (otlp_rule, open_rule):
        assert {p["port"] for p in rule["ports"]} <= set(cports)


def test_gateway_scaling_objects_target_the_deployment(tmp_path):
    objs, _, wl = built(tmp_path, "gateway", "base")
    [hpa] = [o for o in objs if o["kind"] == "HorizontalPodAutoscaler"]
    [pdb] = [o for o in objs if o["kind"] == "PodDisruptionBudget"]
    ref = hpa["spec"]["scaleTargetRef"]
    assert (ref["kind"], ref["name"]) == ("Deployment", wl["metadata"]["name"])
    assert hpa["spec"]["minReplicas"] >= 2 and wl["spec"]["replicas"] >= 2
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= wl["spec"]["template"]["metadata"]["labels"].items()
    assert container(wl)["resources"]["requests"]["cpu"], "HPA on CPU needs a CPU request"


# ------------------------------------------------------------------ the real collector

@pytest.mark.parametrize("name", list(VARIANTS))
def test_real_collector_validates_config(validating_collector, tmp_path, name):
    res = ml.run_validate(validating_collector, VARIANTS[name])
    assert res.returncode == 0, f"{name}: meshtrace-collector validate said:\n{res.stdout}{res.stderr}"
