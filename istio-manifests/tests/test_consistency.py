"""The Istio side agrees with the collector and the filter: every extension provider and the
filter's export cluster resolve to a Service port whose protocol and target receiver are the
right ones; each tracing mode is coherent (exactly one tracer per proxy, so no hop is counted
twice and no parent link breaks); the filter's configuration is the same wherever it is
loaded and is accepted by the filter's own parser."""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

import manifestlib as ml

ISTIO = ml.MANIFESTS / "istio"
COLLECTOR = ml.MANIFESTS / "collector"
ROOT_NS = "istio-system"
FILTER_KINDS = ("WasmPlugin", "TrafficExtension", "EnvoyFilter")


def mesh_config():
    return ml.load_yaml_docs(ISTIO / "mesh" / "istio-operator.yaml")[0]["spec"]["meshConfig"]


def providers():
    return {p["name"]: p for p in mesh_config()["extensionProviders"]}


def build(rel):
    return ml.kustomize(ISTIO / rel)


def collector_objects():
    return ml.kustomize(COLLECTOR / "overlays" / "gateway")


def collector_service():
    [svc] = [o for o in collector_objects() if o["kind"] == "Service" and o["metadata"]["name"] == "meshtrace-collector"]
    return svc


def fqdn(svc):
    return f"{svc['metadata']['name']}.{svc['metadata']['namespace']}.svc.cluster.local"


def receiver_port_for(svc_port):
    """Service port -> container port (by name) -> the collector config receiver on it."""
    [wl] = [o for o in collector_objects() if o["kind"] == "Deployment"]
    [c] = wl["spec"]["template"]["spec"]["containers"]
    cport = {p["name"]: p["containerPort"] for p in c["ports"]}[svc_port["targetPort"]]
    cfg = yaml.safe_load((COLLECTOR / "base" / "config.yaml").read_text())
    protocols = cfg["receivers"]["otlp"]["protocols"]
    for proto, settings in protocols.items():
        if int(settings["endpoint"].rsplit(":", 1)[1]) == cport:
            return proto
    return None


def filter_objects(objs):
    return [o for o in objs if o["kind"] in FILTER_KINDS]


def plugin_config(obj):
    """The JSON the filter receives, as a Python value, whatever resource loads it."""
    if obj["kind"] == "WasmPlugin":
        return obj["spec"].get("pluginConfig", {})
    if obj["kind"] == "TrafficExtension":
        return obj["spec"]["wasm"].get("pluginConfig", {})
    [patch] = obj["spec"]["configPatches"]
    cfg = patch["patch"]["value"]["typed_config"]["config"]["configuration"]
    assert cfg["@type"] == "type.googleapis.com/google.protobuf.StringValue"
    return json.loads(cfg["value"])


def tracing_telemetries(objs):
    return [o for o in objs if o["kind"] == "Telemetry" and "tracing" in o["spec"]]


def export_cluster(svc, port):
    return f"outbound|{port}||{fqdn(svc)}"


# ------------------------------------------------------------------ providers x Service x receivers


def test_helm_values_and_istio_operator_agree():
    values = ml.load_yaml_docs(ISTIO / "mesh" / "istiod-values.yaml")[0]
    assert values["meshConfig"] == mesh_config()


def test_collector_providers_reach_the_right_receivers():
    svc = collector_service()
    ports = {p["port"]: p for p in svc["spec"]["ports"]}
    collector_providers = {n: p["opentelemetry"] for n, p in providers().items() if p["opentelemetry"]["service"] == fqdn(svc)}
    assert set(collector_providers) == {"meshtrace-grpc", "meshtrace-http"}
    for name, otel in collector_providers.items():
        port = ports.get(otel["port"])
        assert port, f"{name}: port {otel['port']} is not on Service {fqdn(svc)}"
        if "http" in otel:
            assert otel["http"]["path"] == "/v1/traces", name
            assert port["appProtocol"] == "http" and port["name"].startswith("http-"), name
            assert receiver_port_for(port) == "http", name
        else:
            # Envoy's gRPC exporter needs an HTTP/2 cluster: Istio gives one only to gRPC ports.
            assert port["appProtocol"] == "grpc" and port["name"].startswith("grpc-"), name
            assert receiver_port_for(port) == "grpc", name


def test_external_providers_have_a_serviceentry_and_tls():
    objs = build("external-newrelic")
    [se] = [o for o in objs if o["kind"] == "ServiceEntry"]
    [dr] = [o for o in objs if o["kind"] == "DestinationRule"]
    for name, p in providers().items():
        otel = p["opentelemetry"]
        if otel["service"].endswith(".svc.cluster.local"):
            continue
        assert otel["service"] in se["spec"]["hosts"], name
        [port] = [x for x in se["spec"]["ports"] if x["number"] == otel["port"]]
        assert port["protocol"] == "HTTP" and "http" in otel, name
        assert port["targetPort"] == 443
        assert dr["spec"]["host"] == otel["service"]
        [pls] = [x for x in dr["spec"]["trafficPolicy"]["portLevelSettings"] if x["port"]["number"] == otel["port"]]
        assert pls["tls"]["mode"] == "SIMPLE" and pls["tls"]["sni"] == otel["service"]


def test_filter_exports_to_the_collector_http_receiver():
    svc = collector_service()
    http_ports = [p for p in svc["spec"]["ports"] if receiver_port_for(p) == "http"]
    [port] = http_ports
    for rel in ("modes/tracer", "modes/tracer-trafficextension", "modes/tracer-envoyfilter", "examples/per-workload"):
        for obj in filter_objects(build(rel)):
            export = plugin_config(obj)["export"]
            assert export["cluster"] == export_cluster(svc, port["port"]), (rel, obj["kind"])
            assert export["authority"] == f"{fqdn(svc)}:{port['port']}", (rel, obj["kind"])
            assert export["path"] == "/v1/traces", (rel, obj["kind"])


def test_telemetry_names_only_defined_providers():
    defined = set(providers())
    for d in ml.kustomize_dirs():
        for t in (o for o in ml.kustomize(d) if o["kind"] == "Telemetry"):
            for entry in t["spec"].get("tracing", []):
                for p in entry.get("providers", []):
                    assert p["name"] in defined, (str(d), p["name"])


# ------------------------------------------------------------------ the filter everywhere the same


def test_plugin_config_is_the_same_in_every_loader():
    configs = {}
    for rel in ("modes/tracer", "modes/tracer-trafficextension", "modes/tracer-envoyfilter"):
        [obj] = filter_objects(build(rel))
        configs[obj["kind"]] = plugin_config(obj)
    assert configs["WasmPlugin"] == configs["TrafficExtension"] == configs["EnvoyFilter"]


def test_wasmplugin_and_trafficextension_load_it_the_same_way():
    [wp] = filter_objects(build("modes/tracer"))
    [te] = filter_objects(build("modes/tracer-trafficextension"))
    for key in ("url", "imagePullPolicy", "type", "failStrategy", "vmConfig"):
        assert wp["spec"][key] == te["spec"]["wasm"][key], key
    for key in ("phase", "priority"):
        assert wp["spec"][key] == te["spec"][key], key
    assert wp["spec"]["failStrategy"] == "FAIL_OPEN", "a tracing filter must never fail traffic"


def test_envoyfilter_loads_it_the_same_way():
    [ef] = filter_objects(build("modes/tracer-envoyfilter"))
    [wp] = filter_objects(build("modes/tracer"))
    [patch] = ef["spec"]["configPatches"]
    assert patch["patch"]["operation"] == "INSERT_FIRST"
    cfg = patch["patch"]["value"]["typed_config"]["config"]
    assert cfg["failure_policy"] == wp["spec"]["failStrategy"]
    assert cfg["vm_config"]["runtime"] == "envoy.wasm.runtime.v8"
    assert cfg["vm_config"]["environment_variables"]["host_env_keys"] == [
        e["name"] for e in wp["spec"]["vmConfig"]["env"] if e["valueFrom"] == "HOST"
    ]
    local = cfg["vm_config"]["code"]["local"]["filename"]
    # The file:// component and the EnvoyFilter read the module from the same place.
    comp = yaml.safe_load((ISTIO / "components" / "wasm-source-file" / "kustomization.yaml").read_text())
    urls = {op["value"] for p in comp["patches"] for op in yaml.safe_load(p["patch"]) if op["op"] == "replace"}
    assert urls == {f"file://{local}"}


def test_file_and_https_components_patch_both_apis(tmp_path):
    for comp in ("wasm-source-file", "wasm-source-https"):
        for rel in ("modes/tracer", "modes/tracer-trafficextension"):
            d = tmp_path / f"{comp}-{rel.replace('/', '-')}"
            d.mkdir()
            [obj] = filter_objects(ml.compose(d, [ISTIO / rel], [ISTIO / "components" / comp]))
            url = obj["spec"]["url"] if obj["kind"] == "WasmPlugin" else obj["spec"]["wasm"]["url"]
            assert url.startswith("file:///" if comp.endswith("file") else "https://"), (comp, rel)
            ml.validate_object(obj)


# ------------------------------------------------------------------ one tracer per proxy


def native_reporting(telemetry_entries):
    """Does this Telemetry leave Envoy's native span reporting on?"""
    for e in telemetry_entries:
        if e.get("disableSpanReporting"):
            return False
    return any(e.get("providers") for e in telemetry_entries)


@pytest.mark.parametrize("rel", ["modes/tracer", "modes/tracer-trafficextension", "modes/tracer-envoyfilter"])
def test_tracer_modes_turn_native_spans_off_where_the_filter_runs(rel):
    objs = build(rel)
    [t] = tracing_telemetries(objs)
    [f] = filter_objects(objs)
    # Mesh-wide Telemetry (root namespace, no selector) covers every proxy the filter can
    # reach from the root namespace.
    assert t["metadata"]["namespace"] == ROOT_NS and "selector" not in t["spec"]
    assert f["metadata"]["namespace"] == ROOT_NS
    assert all(e.get("disableSpanReporting") is True for e in t["spec"]["tracing"])
    assert not native_reporting(t["spec"]["tracing"])
    cfg = plugin_config(f)
    assert cfg["mode"] == "tracer" and "export" in cfg


def test_enricher_mode_keeps_native_tracer_and_filter_does_not_trace():
    objs = build("modes/enricher")
    [t] = tracing_telemetries(objs)
    [f] = filter_objects(objs)
    assert native_reporting(t["spec"]["tracing"])
    cfg = plugin_config(f)
    assert cfg["mode"] == "enricher"
    assert "export" not in cfg, "an enricher exporting its own spans would count every hop twice"
    # The attributes reach the native span through request headers the filter writes.
    headers = [
        tag["header"]["name"]
        for e in t["spec"]["tracing"]
        for tag in (e.get("customTags") or {}).values()
        if "header" in tag
    ]
    assert headers and all(h.startswith("x-meshtrace-") for h in headers)
    # Exactly the headers the filter writes (its `enricher` section), and the filter touches
    # no trace context in this mode.
    written = {v for v in (cfg.get("enricher") or {}).values() if v}
    assert set(headers) == written, (headers, written)
    assert not {"sampling", "propagation", "drop", "resource"} & set(cfg), cfg
    # The workload's name is the proxy's own, set at injection: the tag reads it from the
    # environment, and the filter writes no header for it on every request.
    tags = {name: tag for e in t["spec"]["tracing"] for name, tag in (e.get("customTags") or {}).items()}
    assert tags["meshtrace.workload"] == {
        "environment": {"name": "ISTIO_META_WORKLOAD_NAME", "defaultValue": "unknown"}
    }, tags["meshtrace.workload"]
    assert cfg["enricher"]["workload_header"] is None, cfg["enricher"]


def test_native_mode_loads_no_filter():
    objs = build("modes/native")
    assert not filter_objects(objs)
    [t] = tracing_telemetries(objs)
    assert native_reporting(t["spec"]["tracing"])


def match_modes(obj):
    """The traffic directions a WasmPlugin applies to (Istio: no match, or an entry without a
    mode or CLIENT_AND_SERVER, is both)."""
    entries = obj["spec"].get("match") or [{}]
    modes = set()
    for e in entries:
        mode = e.get("mode", "UNDEFINED")
        modes |= {"CLIENT", "SERVER"} if mode in ("UNDEFINED", "CLIENT_AND_SERVER") else {mode}
    return modes


def test_no_kustomization_loads_the_filter_twice():
    for d in ml.kustomize_dirs():
        objs = filter_objects(ml.kustomize(d))
        kinds = [o["kind"] for o in objs]
        if len(objs) <= 1:
            continue
        # Several only as WasmPlugins for disjoint directions: no listener gets two.
        assert set(kinds) == {"WasmPlugin"}, (str(d), kinds)
        seen = set()
        for o in objs:
            modes = match_modes(o)
            assert not modes & seen, (str(d), o["metadata"]["name"], modes, seen)
            seen |= modes


def test_match_modes_read_as_istio_reads_them():
    wp = lambda match: {"spec": {"match": match} if match is not None else {}}  # noqa: E731
    assert match_modes(wp(None)) == {"CLIENT", "SERVER"}
    assert match_modes(wp([{"ports": [{"number": 9080}]}])) == {"CLIENT", "SERVER"}
    assert match_modes(wp([{"mode": "CLIENT_AND_SERVER"}])) == {"CLIENT", "SERVER"}
    assert match_modes(wp([{"mode": "SERVER"}])) == {"SERVER"}
    assert match_modes(wp([{"mode": "SERVER"}, {"mode": "CLIENT"}])) == {"CLIENT", "SERVER"}


def test_per_direction_mode_is_modes_tracer_split_by_direction():
    """Each direction's plugin is modes/tracer's, with the kind its traffic makes: the spans are
    the same, and the stream-properties expression reads less (BENCHMARKS.md, tenth pass)."""
    objs = build("modes/tracer-per-direction")
    [t] = tracing_telemetries(objs)
    [t0] = tracing_telemetries(build("modes/tracer"))
    assert t == t0
    [base] = filter_objects(build("modes/tracer"))
    plugins = {o["metadata"]["name"]: o for o in filter_objects(objs)}
    assert sorted(plugins) == ["meshtrace-client", "meshtrace-server"]
    for name, o in plugins.items():
        direction = name.rsplit("-", 1)[1]
        assert o["spec"]["match"] == [{"mode": direction.upper()}], name
        cfg = plugin_config(o)
        assert cfg["span"] == {"kind": direction}, name
        # Everything else as the one plugin has it.
        assert {k: v for k, v in cfg.items() if k != "span"} == plugin_config(base), name
        spec = {k: v for k, v in o["spec"].items() if k not in ("match", "pluginConfig")}
        base_spec = {k: v for k, v in base["spec"].items() if k != "pluginConfig"}
        assert spec == base_spec, name
        assert o["metadata"]["namespace"] == base["metadata"]["namespace"] == ROOT_NS
        ml.validate_object(o)


def test_per_workload_example_selects_the_same_pods_twice():
    objs = build("examples/per-workload")
    [t] = tracing_telemetries(objs)
    [f] = filter_objects(objs)
    assert t["metadata"]["namespace"] == f["metadata"]["namespace"] != ROOT_NS
    assert t["spec"]["selector"] == f["spec"]["selector"]
    assert all(e.get("disableSpanReporting") is True for e in t["spec"]["tracing"])
    assert plugin_config(f)["mode"] == "tracer"


def test_proxyconfig_feeds_the_filter_and_the_native_tracer():
    [pc] = build("proxyconfig")
    assert "OTEL_RESOURCE_ATTRIBUTES" in pc["spec"]["environmentVariables"]
    for p in providers().values():
        assert "environment" in p["opentelemetry"]["resourceDetectors"]
    [wp] = filter_objects(build("modes/tracer"))
    assert {"name": "OTEL_RESOURCE_ATTRIBUTES", "valueFrom": "HOST"} in wp["spec"]["vmConfig"]["env"]
    attrs = pc["spec"]["environmentVariables"]["OTEL_RESOURCE_ATTRIBUTES"]
    assert re.fullmatch(r"[^=,]+=[^=,]+(,[^=,]+=[^=,]+)*", attrs), attrs


# ------------------------------------------------------------------ the filter's own parser


def filter_checker():
    """The command that checks a filter configuration: MESHTRACE_FILTER_CHECK_CONFIG, or the
    filter crate's `check_config` example (`check_config FILE`: exit 0 when the filter's
    parser accepts FILE, non-zero with the parser's message when not)."""
    cmd = os.environ.get("MESHTRACE_FILTER_CHECK_CONFIG")
    if cmd:
        return cmd.split()
    example = ml.ROOT / "filter-wasm" / "examples" / "check_config.rs"
    if not example.is_file():
        pytest.skip(
            "the filter has no config checker yet (filter-wasm/examples/check_config.rs or "
            "MESHTRACE_FILTER_CHECK_CONFIG): the lead wires this test up when the filter's "
            "config parser lands (issue 4)"
        )
    return ["cargo", "run", "--quiet", "-p", "meshtrace-filter", "--example", "check_config", "--"]


def every_plugin_config():
    seen = {}
    for d in ml.kustomize_dirs():
        for obj in filter_objects(ml.kustomize(d)):
            cfg = plugin_config(obj)
            seen[json.dumps(cfg, sort_keys=True)] = f"{d.relative_to(ml.MANIFESTS)}:{obj['kind']}"
    return seen


def test_filter_parser_accepts_every_plugin_config(tmp_path):
    cmd = filter_checker()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"sampling": {"percentage": "lots"}, "no_such_key": True}))
    res = subprocess.run([*cmd, str(bad)], capture_output=True, text=True, cwd=ml.ROOT, timeout=600, check=False)
    assert res.returncode != 0, "the checker accepts a broken config: it proves nothing"
    for cfg_json, where in every_plugin_config().items():
        f = tmp_path / "cfg.json"
        # What Istio hands the filter: the pluginConfig Struct as JSON.
        f.write_text(cfg_json)
        res = subprocess.run([*cmd, str(f)], capture_output=True, text=True, cwd=ml.ROOT, timeout=600, check=False)
        assert res.returncode == 0, f"{where}: the filter refuses its config:\n{res.stdout}{res.stderr}"


# The variables Istio 1.30.3's injection template sets on istio-proxy
# (manifests/charts/istio-control/istio-discovery/files/injection-template.yaml); customTags
# reading anything else always get their default value.
ISTIO_PROXY_ENV = {
    "POD_NAME", "POD_NAMESPACE", "INSTANCE_IP", "SERVICE_ACCOUNT", "HOST_IP", "ISTIO_CPU_LIMIT",
    "PROXY_CONFIG", "ISTIO_META_POD_PORTS", "ISTIO_META_APP_CONTAINERS", "ISTIO_META_CLUSTER_ID",
    "ISTIO_META_NODE_NAME", "ISTIO_META_INTERCEPTION_MODE", "ISTIO_META_NETWORK",
    "ISTIO_META_WORKLOAD_NAME", "ISTIO_META_OWNER", "ISTIO_META_MESH_ID", "TRUST_DOMAIN",
    "OTEL_RESOURCE_ATTRIBUTES",
}


def test_custom_tags_read_variables_the_proxy_has():
    extra = set()
    [pc] = build("proxyconfig")
    extra |= set(pc["spec"]["environmentVariables"])
    for d in ml.kustomize_dirs():
        for t in (o for o in ml.kustomize(d) if o["kind"] == "Telemetry"):
            for entry in t["spec"].get("tracing", []):
                for name, tag in (entry.get("customTags") or {}).items():
                    if "environment" in tag:
                        assert tag["environment"]["name"] in ISTIO_PROXY_ENV | extra, (str(d), name)
