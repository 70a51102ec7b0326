"""overlays/two-tier: agents under the name the sidecars export to, sending each trace whole to
one pod of a gateway tier that tail-samples. The tiers must not select each other's pods, the
agents' resolver must name the gateway's headless Service and port, each workload must run its
own config on ports that match it, only the agents may reach the gateway, and both configs must
pass the real collector's `validate` without a warning."""

import os

import pytest
import yaml

import manifestlib as ml

COLLECTOR = ml.MANIFESTS / "collector"
TWO_TIER = COLLECTOR / "overlays" / "two-tier"
CONFIGS = {"agent": TWO_TIER / "agent" / "config.yaml", "gateway": TWO_TIER / "gateway" / "config.yaml"}
WORKLOAD = {"agent": "DaemonSet", "gateway": "Deployment"}


@pytest.fixture(scope="module")
def objs():
    return ml.kustomize(TWO_TIER)


def one(objs, kind, name=None):
    found = [o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(found) == 1, f"{kind} {name}: {[ml.obj_id(o) for o in found]}"
    return found[0]


def pod_labels(objs, tier):
    return one(objs, WORKLOAD[tier])["spec"]["template"]["metadata"]["labels"]


def selects(selector, labels):
    return selector.items() <= labels.items()


def container(wl):
    [c] = wl["spec"]["template"]["spec"]["containers"]
    return c


def mounted_config(objs, tier):
    """The config.yaml the tier's workload runs: from the ConfigMap its --config path is in."""
    wl = one(objs, WORKLOAD[tier])
    c = container(wl)
    [arg] = [a for a in c["args"] if a.startswith("--config=")]
    directory, _, file = arg.split("=", 1)[1].rpartition("/")
    [mount] = [m for m in c["volumeMounts"] if m["mountPath"] == directory]
    [vol] = [v for v in wl["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"]]
    cm = one(objs, "ConfigMap", vol["configMap"]["name"])
    return cm["data"][file]


def listener_ports(cfg):
    ports = {int(cfg["extensions"]["health_check"]["endpoint"].rsplit(":", 1)[1])}
    for name, r in cfg["receivers"].items():
        settings = r.get("protocols", {"": r}).values()
        ports |= {int(s["endpoint"].rsplit(":", 1)[1]) for s in settings}
    [reader] = cfg["service"]["telemetry"]["metrics"]["readers"]
    ports.add(reader["pull"]["exporter"]["prometheus"]["port"])
    return ports


def fqdn(svc):
    return f"{svc['metadata']['name']}.{svc['metadata']['namespace']}.svc.cluster.local"


def test_each_selector_picks_one_tier(objs):
    """A Service, policy or budget that matched both tiers would send sidecars' spans to the
    gateway (bypassing the load balancing), or let the mesh reach it."""
    agent, gateway = pod_labels(objs, "agent"), pod_labels(objs, "gateway")
    want = {
        ("Service", "meshtrace-collector"): "agent",
        ("NetworkPolicy", "meshtrace-collector"): "agent",
        ("DaemonSet", "meshtrace-collector"): "agent",
        ("Service", "meshtrace-collector-gateway"): "gateway",
        ("NetworkPolicy", "meshtrace-collector-gateway"): "gateway",
        ("Deployment", "meshtrace-collector-gateway"): "gateway",
        ("PodDisruptionBudget", "meshtrace-collector-gateway"): "gateway",
    }
    got = {}
    for o in objs:
        spec = o.get("spec") or {}
        sel = spec.get("selector") if o["kind"] == "Service" else (spec.get("podSelector") or spec.get("selector") or {}).get("matchLabels")
        if sel is None:
            continue
        tiers = [t for t, labels in (("agent", agent), ("gateway", gateway)) if selects(sel, labels)]
        assert len(tiers) == 1, f"{ml.obj_id(o)} selects {tiers}"
        got[(o["kind"], o["metadata"]["name"])] = tiers[0]
    assert got == want
    # Topology spread counts the gateway's own pods.
    for c in one(objs, "Deployment")["spec"]["template"]["spec"]["topologySpreadConstraints"]:
        assert selects(c["labelSelector"]["matchLabels"], gateway)
        assert not selects(c["labelSelector"]["matchLabels"], agent)


def test_the_sidecars_export_to_the_agents(objs):
    """The mesh config is unchanged: its providers name the agent tier's node-local Service."""
    mesh = ml.load_yaml_docs(ml.MANIFESTS / "istio" / "mesh" / "istio-operator.yaml")[0]["spec"]["meshConfig"]
    svc = one(objs, "Service", "meshtrace-collector")
    ours = [p["opentelemetry"] for p in mesh["extensionProviders"] if p["opentelemetry"]["service"].startswith("meshtrace-collector.")]
    assert ours, "no provider exports to meshtrace-collector"
    ports = {p["port"] for p in svc["spec"]["ports"]}
    for p in ours:
        assert p["service"] == fqdn(svc) and p["port"] in ports, p
    assert svc["spec"]["internalTrafficPolicy"] == "Local"
    assert "clusterIP" not in svc["spec"]


def test_the_agents_resolve_the_gateway_pods(objs):
    """resolver.dns names the gateway's headless Service (one address per pod) on the port that
    reaches the gateway's OTLP/gRPC receiver."""
    lb = yaml.safe_load(mounted_config(objs, "agent"))["exporters"]["loadbalancing"]
    svc = one(objs, "Service", "meshtrace-collector-gateway")
    assert svc["spec"]["clusterIP"] == "None"
    dns = lb["resolver"]["dns"]
    assert dns["hostname"] == fqdn(svc)
    [port] = [p for p in svc["spec"]["ports"] if p["port"] == dns["port"]]
    assert (port["name"], port["appProtocol"]) == ("grpc-otlp", "grpc")
    cports = {p["name"]: p["containerPort"] for p in container(one(objs, "Deployment"))["ports"]}
    gw = yaml.safe_load(mounted_config(objs, "gateway"))
    assert gw["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] == f"0.0.0.0:{cports[port['targetPort']]}"
    assert {p["name"] for p in svc["spec"]["ports"]} == {"grpc-otlp", "http-metrics"}
    assert lb["routing_key"] == "traceID"


@pytest.mark.parametrize("tier", ["agent", "gateway"])
def test_each_workload_runs_its_tiers_config_on_its_ports(objs, tier):
    text = mounted_config(objs, tier)
    assert text == CONFIGS[tier].read_text()
    cfg = yaml.safe_load(text)
    c = container(one(objs, WORKLOAD[tier]))
    # Every port the container declares has a listener, and every listener a port.
    assert {p["containerPort"] for p in c["ports"]} == listener_ports(cfg)
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"]["port"] == "health"
    assert "memory" in c["resources"]["limits"]
    [pipeline] = cfg["service"]["pipelines"].values()
    assert pipeline["processors"][0] == "memory_limiter" and pipeline["processors"][-1] == "batch"
    if tier == "gateway":
        assert "tail_sampling" in pipeline["processors"]
    else:
        assert pipeline["exporters"] == ["loadbalancing"]


def test_the_agents_queue_on_disk_in_front_of_the_routing(objs):
    """A retry is routed again only when the queue is in front of the routing; a queue on disk
    per backend would strand a replaced gateway pod's spans (validate warns about it)."""
    cfg = yaml.safe_load(mounted_config(objs, "agent"))
    lb = cfg["exporters"]["loadbalancing"]
    assert lb["protocol"]["otlp"]["sending_queue"]["enabled"] is False
    assert lb["retry_on_failure"]["enabled"] is True
    storage = lb["sending_queue"]["storage"]
    assert storage in cfg["service"]["extensions"]
    directory = cfg["extensions"][storage]["directory"]
    mounts = container(one(objs, "DaemonSet"))["volumeMounts"]
    assert any(m["mountPath"] == directory and not m.get("readOnly") for m in mounts)


def test_only_the_agents_reach_the_gateway(objs):
    np = one(objs, "NetworkPolicy", "meshtrace-collector-gateway")
    otlp, open_rule = np["spec"]["ingress"]
    assert [p["port"] for p in otlp["ports"]] == ["otlp-grpc"]
    agent = pod_labels(objs, "agent")
    mesh_pod = {"app": "productpage", "sidecar.istio.io/inject": "true"}
    for peer in otlp["from"]:
        # A podSelector alone is this namespace only.
        assert set(peer) == {"podSelector"}, peer
        assert selects(peer["podSelector"]["matchLabels"], agent)
        assert not selects(peer["podSelector"]["matchLabels"], pod_labels(objs, "gateway"))
        assert not selects(peer["podSelector"]["matchLabels"], mesh_pod)
    assert {p["port"] for p in open_rule["ports"]} == {"health", "metrics"}
    # The agents' own policy is the agent overlay's: the mesh reaches them as before.
    agent_np = one(ml.kustomize(COLLECTOR / "overlays" / "agent"), "NetworkPolicy")
    assert one(objs, "NetworkPolicy", "meshtrace-collector")["spec"] == agent_np["spec"]


def test_the_gateway_scales_itself(objs):
    dep = one(objs, "Deployment")
    hpa = one(objs, "HorizontalPodAutoscaler")
    pdb = one(objs, "PodDisruptionBudget")
    assert (hpa["spec"]["scaleTargetRef"]["kind"], hpa["spec"]["scaleTargetRef"]["name"]) == ("Deployment", dep["metadata"]["name"])
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]
    assert dep["spec"]["template"]["spec"]["serviceAccountName"] == "meshtrace-collector-gateway"
    one(objs, "ServiceAccount", "meshtrace-collector-gateway")
    assert [o["metadata"]["name"] for o in objs if o["kind"] == "Namespace"] == ["observability"]


@pytest.mark.parametrize("tier", ["agent", "gateway"])
def test_real_collector_validates_each_tier_without_a_warning(validating_collector, tier):
    res = ml.run_validate(validating_collector, CONFIGS[tier])
    assert (res.returncode, res.stderr) == (0, ""), f"{tier}: {res.stdout}{res.stderr}"


def test_the_guide_shows_the_policies_the_gateway_ships():
    """docs/istio.md §7 says the overlay ships its policy set: the two must not drift."""
    guide = (ml.ROOT / "docs" / "istio.md").read_text()
    section = guide.split("### 7. Keep every error and slow request", 1)[1].split("\n## ", 1)[0]
    snippet = yaml.safe_load(section.split("```yaml\n", 1)[1].split("```", 1)[0])
    shipped = yaml.safe_load(CONFIGS["gateway"].read_text())["processors"]["tail_sampling"]
    assert snippet["processors"]["tail_sampling"]["policies"] == shipped["policies"]
    assert snippet["processors"]["tail_sampling"]["decision_wait"] == shipped["decision_wait"]


def test_a_users_overlay_gives_the_gateway_a_backend(tmp_path, validating_collector):
    """The recipe of docs/istio.md §7: a copy of the gateway's config with the Tempo component's
    exporter, swapped in by an overlay of the user's own. The gateway runs it, the agents keep
    theirs, and the real collector takes it without a warning."""
    guide = (ml.ROOT / "docs" / "istio.md").read_text()
    section = guide.split("### 7. Keep every error and slow request", 1)[1].split("\n## ", 1)[0]
    recipe = yaml.safe_load(section.split("  ```yaml\n", 1)[1].split("  ```", 1)[0].replace("\n  ", "\n"))
    cfg = yaml.safe_load(CONFIGS["gateway"].read_text())
    tempo = yaml.safe_load((COLLECTOR / "components" / "tempo" / "config.yaml").read_text())
    cfg["exporters"] = tempo["exporters"]
    cfg["extensions"]["file_storage/queue"] = tempo["extensions"]["file_storage/queue"]
    cfg["service"]["extensions"] = tempo["service"]["extensions"]
    cfg["service"]["pipelines"]["traces"]["exporters"] = list(tempo["exporters"])
    mine = tmp_path / "my-collector"
    mine.mkdir()
    (mine / "config.yaml").write_text(yaml.safe_dump(cfg))
    recipe["resources"] = [os.path.relpath(TWO_TIER, mine)]
    (mine / "kustomization.yaml").write_text(yaml.safe_dump(recipe))
    objs = ml.kustomize(mine, unrestricted=True)
    assert yaml.safe_load(mounted_config(objs, "gateway")) == cfg
    assert mounted_config(objs, "agent") == CONFIGS["agent"].read_text()
    res = ml.run_validate(validating_collector, mine / "config.yaml")
    assert (res.returncode, res.stderr) == (0, ""), res.stdout + res.stderr
    # The queue on disk is on the gateway's writable volume.
    mounts = container(one(objs, "Deployment"))["volumeMounts"]
    directory = cfg["extensions"]["file_storage/queue"]["directory"]
    assert any(m["mountPath"] == directory and not m.get("readOnly") for m in mounts)
