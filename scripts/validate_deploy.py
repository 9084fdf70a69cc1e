#!/usr/bin/env python3
"""Static checks of the deployment files, run by scripts/validate-deploy.sh.

Usage: validate_deploy.py CHECK [ARGS]   (checks: see CHECKS at the bottom)

Each check prints `ok: ...` lines and `FAIL: ...` lines and exits 1 if anything failed.
Needs PyYAML only; nothing here talks to the network or to a Docker engine.
"""

import fnmatch
import json
import os
import re
import shlex
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIP_DIRS = {".git", "target", "node_modules", ".venv", "venv", "__pycache__"}

failures = []


def ok(msg):
    print(f"  ok: {msg}")


def fail(msg):
    failures.append(msg)
    print(f"  FAIL: {msg}")


def rel(path):
    return os.path.relpath(path, ROOT)


def finish():
    if failures:
        print(f"  {len(failures)} problem(s)")
        sys.exit(1)


# --- YAML loading that refuses duplicate keys (PyYAML silently keeps the last one) -----------
class StrictLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    loader.flatten_mapping(node)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=StrictLoader)


def load_yaml_all(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.load_all(f, Loader=StrictLoader) if d is not None]


def yaml_files():
    out = []
    for dirpath, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in sorted(filenames):
            if name.endswith((".yml", ".yaml")):
                out.append(os.path.join(dirpath, name))
    return out


# --- yaml ----------------------------------------------------------------------------------
def check_yaml():
    """Every *.yml / *.yaml of the repository parses (all documents), without duplicate keys."""
    files = yaml_files()
    for path in files:
        try:
            docs = load_yaml_all(path)
            ok(f"{rel(path)} ({len(docs)} document{'s' if len(docs) != 1 else ''})")
        except yaml.YAMLError as e:
            fail(f"{rel(path)}: {e}")
    if not files:
        fail("no YAML files found")


# --- metric names --------------------------------------------------------------------------
PROMQL_WORDS = {
    # aggregations and their modifiers
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk",
    "topk", "quantile", "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
    "and", "or", "unless", "offset", "atan2",
    # functions
    "abs", "absent", "absent_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min",
    "day_of_month", "day_of_week", "day_of_year", "days_in_month", "delta", "deriv", "exp",
    "floor", "histogram_quantile", "histogram_count", "histogram_sum", "histogram_fraction",
    "holt_winters", "hour", "idelta", "increase", "irate", "label_join", "label_replace", "ln",
    "log2", "log10", "minute", "month", "predict_linear", "rate", "resets", "round", "scalar",
    "sgn", "sort", "sort_desc", "sqrt", "time", "timestamp", "vector", "year", "avg_over_time",
    "min_over_time", "max_over_time", "sum_over_time", "count_over_time",
    "quantile_over_time", "stddev_over_time", "stdvar_over_time", "last_over_time",
    "present_over_time", "inf", "nan",
}
HIST_SUFFIXES = ("_bucket", "_sum", "_count")
ALWAYS_ALLOWED = {"up"}


def load_catalog():
    """deploy/metrics.txt: `name type` per line (copy of the metric catalog)."""
    path = os.path.join(ROOT, "deploy", "metrics.txt")
    catalog = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) != 2 or parts[1] not in {"counter", "gauge", "histogram"}:
                fail(f"deploy/metrics.txt:{n}: expected `name counter|gauge|histogram`")
                continue
            catalog[parts[0]] = parts[1]
    return catalog


def metric_names(expr):
    """Metric names used in a PromQL expression (without a full parser: strings, label
    matchers, grouping lists, ranges, numbers and keywords are removed first)."""
    e = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`', '""', expr)
    e = re.sub(r"\$\{?\w+\}?", "5m", e)                      # Grafana variables
    e = re.sub(r"\{[^{}]*\}", " ", e)                         # label matchers
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)                         # ranges and subqueries
    e = re.sub(r"\boffset\s+\S+", " ", e)
    e = re.sub(r"(?<![\w:])\d+(\.\d+)?(e[+-]?\d+)?(?![\w:])", " ", e)
    names = set()
    for tok in re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        if tok.lower() in PROMQL_WORDS:
            continue
        names.add(tok)
    return names


def allowed(name, catalog):
    if name in ALWAYS_ALLOWED or name in catalog:
        return True
    for suffix in HIST_SUFFIXES:
        if name.endswith(suffix) and catalog.get(name[: -len(suffix)]) == "histogram":
            return True
    return False


def dashboard_exprs(path):
    with open(path, encoding="utf-8") as f:
        dash = json.load(f)
    out = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                if "expr" in t:
                    out.append((p.get("title", "?"), t["expr"]))
            walk(p.get("panels", []))

    walk(dash.get("panels", []))
    return out


def alert_exprs():
    doc = load_yaml(os.path.join(ROOT, "deploy", "prometheus", "alerts.yml"))
    return [(r.get("alert") or r.get("record"), r["expr"])
            for g in doc["groups"] for r in g["rules"]]


def check_metrics():
    """Every metric named in the alert rules and the dashboards is in deploy/metrics.txt
    (histograms may add _bucket/_sum/_count; `up` is Prometheus' own)."""
    catalog = load_catalog()
    ok(f"deploy/metrics.txt lists {len(catalog)} metrics")
    used = set()
    sources = [("deploy/prometheus/alerts.yml", alert_exprs())]
    dash_dir = os.path.join(ROOT, "deploy", "grafana", "dashboards")
    for name in sorted(os.listdir(dash_dir)):
        if name.endswith(".json"):
            sources.append((f"deploy/grafana/dashboards/{name}",
                            dashboard_exprs(os.path.join(dash_dir, name))))
    for source, exprs in sources:
        bad = 0
        for where, expr in exprs:
            names = metric_names(expr)
            if not names:
                fail(f"{source} [{where}]: no metric name found in {expr!r}")
                bad += 1
            for n in sorted(names):
                if not allowed(n, catalog):
                    fail(f"{source} [{where}]: {n} is not in the metric catalog")
                    bad += 1
                else:
                    base = n
                    for suffix in HIST_SUFFIXES:
                        if n.endswith(suffix) and n[: -len(suffix)] in catalog:
                            base = n[: -len(suffix)]
                    used.add(base)
        if not bad:
            ok(f"{source}: {len(exprs)} expressions, every metric name is in the catalog")
    unused = sorted(set(catalog) - used)
    if unused:
        print(f"  note: catalog metrics in no alert or panel: {', '.join(unused)}")


def check_metrics_in_code():
    """Once the metrics code exists (src/metrics.rs or src/metrics/), each catalog name must
    appear in src/ (whole, or after its smsgw_ prefix when the code adds the prefix)."""
    if not (os.path.exists(os.path.join(ROOT, "src", "metrics.rs"))
            or os.path.isdir(os.path.join(ROOT, "src", "metrics"))):
        print("  skipped: src/metrics.rs does not exist yet, so the catalog cannot be compared "
              "with the code")
        return
    text = []
    for dirpath, _, filenames in os.walk(os.path.join(ROOT, "src")):
        for name in filenames:
            if name.endswith(".rs"):
                with open(os.path.join(dirpath, name), encoding="utf-8") as f:
                    text.append(f.read())
    text = "\n".join(text)
    missing = []
    for name in load_catalog():
        short = name[len("smsgw_"):] if name.startswith("smsgw_") else name
        if f'"{name}"' not in text and f'"{short}"' not in text:
            missing.append(name)
    if missing:
        fail(f"catalog metrics not found as string literals in src/: {', '.join(missing)}")
    else:
        ok("every catalog metric name appears in src/")


# --- dashboards ----------------------------------------------------------------------------
def provisioned_datasource_uids():
    uids = set()
    d = os.path.join(ROOT, "deploy", "grafana", "provisioning", "datasources")
    for name in sorted(os.listdir(d)):
        if name.endswith((".yml", ".yaml")):
            for ds in (load_yaml(os.path.join(d, name)) or {}).get("datasources", []):
                if "uid" in ds:
                    uids.add(ds["uid"])
    return uids


def check_dashboards():
    """Dashboard JSON parses; uid/title set; panel ids unique; every panel has a gridPos and
    a data source provisioned by deploy/grafana/provisioning/datasources."""
    uids = provisioned_datasource_uids()
    d = os.path.join(ROOT, "deploy", "grafana", "dashboards")
    files = [n for n in sorted(os.listdir(d)) if n.endswith(".json")]
    if not files:
        fail("no dashboard in deploy/grafana/dashboards")
    for name in files:
        path = os.path.join(d, name)
        try:
            with open(path, encoding="utf-8") as f:
                dash = json.load(f)
        except json.JSONDecodeError as e:
            fail(f"{rel(path)}: {e}")
            continue
        problems = []
        for key in ("uid", "title", "panels", "schemaVersion"):
            if key not in dash:
                problems.append(f"missing {key}")
        ids = []

        def walk(panels):
            for p in panels:
                ids.append(p.get("id"))
                if "gridPos" not in p:
                    problems.append(f"panel {p.get('title')!r} has no gridPos")
                if p.get("type") != "row":
                    ds = p.get("datasource") or {}
                    if ds.get("uid") not in uids:
                        problems.append(f"panel {p.get('title')!r} uses data source "
                                        f"{ds.get('uid')!r}, not provisioned ({sorted(uids)})")
                    if not p.get("targets"):
                        problems.append(f"panel {p.get('title')!r} has no query")
                walk(p.get("panels", []))

        walk(dash.get("panels", []))
        if len(ids) != len(set(ids)) or None in ids:
            problems.append("panel ids are missing or not unique")
        for p in problems:
            fail(f"{rel(path)}: {p}")
        if not problems:
            ok(f"{rel(path)}: {len(ids)} panels, data sources {sorted(uids)}")
    # The provider's path must be where docker-compose.yml mounts the dashboards.
    prov = os.path.join(ROOT, "deploy", "grafana", "provisioning", "dashboards")
    compose = load_yaml(os.path.join(ROOT, "docker-compose.yml"))
    mounts = [v.split(":")[1] for v in compose["services"]["grafana"].get("volumes", [])
              if isinstance(v, str) and v.startswith("./deploy/grafana/dashboards")]
    for name in sorted(os.listdir(prov)):
        for p in load_yaml(os.path.join(prov, name)).get("providers", []):
            path = p.get("options", {}).get("path")
            if path in mounts:
                ok(f"dashboard provider {p.get('name')!r} reads {path}, mounted by compose")
            else:
                fail(f"dashboard provider {p.get('name')!r} reads {path}, but compose mounts "
                     f"the dashboards at {mounts}")


def dashboard_rules(out_path):
    """Writes the dashboard queries as recording rules, so that promtool parses them."""
    rules = []
    d = os.path.join(ROOT, "deploy", "grafana", "dashboards")
    for name in sorted(os.listdir(d)):
        if name.endswith(".json"):
            for i, (_, expr) in enumerate(dashboard_exprs(os.path.join(d, name))):
                e = expr.replace("$__rate_interval", "5m").replace("$__interval", "1m")
                e = e.replace("$__range", "1h")
                rules.append({"record": f"dashboard:{re.sub(r'[^a-z0-9]', '_', name[:-5])}:q{i}",
                              "expr": e})
    with open(out_path, "w", encoding="utf-8") as f:
        yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}, f)
    print(f"  wrote {len(rules)} dashboard queries to {out_path}")


# --- alerts --------------------------------------------------------------------------------
def github_anchor(heading):
    a = heading.strip().lower()
    a = re.sub(r"[^\w\- ]", "", a)
    return a.replace(" ", "-")


def check_alerts():
    """Every alert has a severity, summary, description and a runbook_url whose anchor is a
    heading of docs/OPERATIONS.md; every alert is exercised by alerts_test.yml."""
    doc_path = os.path.join(ROOT, "docs", "OPERATIONS.md")
    anchors = set()
    with open(doc_path, encoding="utf-8") as f:
        in_code = False
        for line in f:
            if line.startswith("```"):
                in_code = not in_code
            if not in_code and line.startswith("#"):
                anchors.add(github_anchor(line.lstrip("#")))
    tests = load_yaml(os.path.join(ROOT, "deploy", "prometheus", "alerts_test.yml"))
    tested = {t["alertname"] for case in tests["tests"] for t in case.get("alert_rule_test", [])}
    firing = {t["alertname"] for case in tests["tests"] for t in case.get("alert_rule_test", [])
              if t.get("exp_alerts")}
    doc = load_yaml(os.path.join(ROOT, "deploy", "prometheus", "alerts.yml"))
    names = []
    for g in doc["groups"]:
        for r in g["rules"]:
            if "alert" not in r:
                continue
            name = r["alert"]
            names.append(name)
            ann = r.get("annotations", {})
            problems = [f"missing {k}" for k in ("summary", "description", "runbook_url")
                        if not ann.get(k)]
            if r.get("labels", {}).get("severity") not in {"critical", "warning", "info"}:
                problems.append("severity must be critical, warning or info")
            url = ann.get("runbook_url", "")
            if url:
                target, _, anchor = url.partition("#")
                if not target.endswith("docs/OPERATIONS.md"):
                    problems.append(f"runbook_url {url} does not point to docs/OPERATIONS.md")
                elif anchor not in anchors:
                    problems.append(f"runbook_url anchor #{anchor} is no heading of "
                                    "docs/OPERATIONS.md")
            if name not in tested:
                problems.append("not exercised by alerts_test.yml")
            elif name not in firing:
                problems.append("alerts_test.yml never expects it to fire")
            for p in problems:
                fail(f"alert {name}: {p}")
            if not problems:
                ok(f"alert {name}: annotations, runbook #{anchor}, tested")
    if len(names) != len(set(names)):
        fail("alert names are not unique")


# --- docker compose ------------------------------------------------------------------------
COMPOSE_VAR = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def interpolate(value):
    if isinstance(value, str):
        return COMPOSE_VAR.sub(lambda m: os.environ.get(m.group(1), m.group(2) or ""), value)
    if isinstance(value, list):
        return [interpolate(v) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v) for k, v in value.items()}
    return value


def env_example_names():
    names = set()
    with open(os.path.join(ROOT, ".env.example"), encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=", line)
            if m:
                names.add(m.group(1))
    return names


def check_operators(where, raw, services=None):
    try:
        ops = json.loads(raw)
    except json.JSONDecodeError as e:
        fail(f"{where}: OPERATORS is not JSON: {e}")
        return []
    if not isinstance(ops, list) or not ops:
        fail(f"{where}: OPERATORS must be a non-empty JSON array")
        return []
    allowed_keys = {"name", "url", "api_key", "timeout_ms", "breaker_failures",
                    "breaker_open_ms", "breaker_max_open_ms"}
    for op in ops:
        extra = set(op) - allowed_keys
        if extra or not {"name", "url", "api_key"} <= set(op):
            fail(f"{where}: operator {op.get('name')!r} needs name, url, api_key and may only "
                 f"add timeout_ms/breaker_*; got {sorted(op)}")
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", str(op.get("name", ""))):
            fail(f"{where}: operator name {op.get('name')!r} is not 1-64 of [A-Za-z0-9_-]")
        if not str(op.get("url", "")).startswith(("http://", "https://")):
            fail(f"{where}: operator {op.get('name')!r} url must be http(s)")
        if services is not None:
            host = re.sub(r"^https?://", "", op["url"]).split("/")[0].split(":")[0]
            if host not in services:
                fail(f"{where}: operator {op['name']!r} url host {host!r} is no compose service")
    return ops


def mock_args(command):
    args = {}
    for a in command:
        if a.startswith("--") and "=" in a:
            k, v = a[2:].split("=", 1)
            args[k] = v
    return args


def check_compose():
    """docker-compose.yml without Docker: services, pinned images, depends_on, mounts and
    volumes, ports, healthchecks, the gateway's environment against .env.example, OPERATORS
    against the mock operators, and Prometheus' DNS discovery against the service names."""
    path = os.path.join(ROOT, "docker-compose.yml")
    raw = load_yaml(path)
    c = interpolate(raw)
    services = c.get("services", {})
    required = {"mysql", "rabbitmq", "migrate", "api", "publisher", "worker", "mock-a",
                "mock-b", "prometheus", "grafana", "otel-collector", "jaeger"}
    missing = required - set(services)
    if missing:
        fail(f"services missing: {sorted(missing)}")
    else:
        ok(f"{len(services)} services: {', '.join(sorted(services))}")
    declared_volumes = set((c.get("volumes") or {}).keys())
    used_volumes = set()
    for name, s in services.items():
        image = s.get("image")
        if not image and "build" not in s:
            fail(f"{name}: neither image nor build")
        if image and "build" not in s:
            tag = image.rsplit(":", 1)[1] if ":" in image.split("/")[-1] else None
            if not tag or tag == "latest":
                fail(f"{name}: image {image} is not pinned to a tag")
        if "build" in s:
            b = s["build"]
            ctx = b if isinstance(b, str) else b.get("context", ".")
            dockerfile = "Dockerfile" if isinstance(b, str) else b.get("dockerfile", "Dockerfile")
            if not os.path.isfile(os.path.join(ROOT, ctx, dockerfile)):
                fail(f"{name}: build file {os.path.join(ctx, dockerfile)} does not exist")
        deps = s.get("depends_on") or {}
        for dep, spec in (deps.items() if isinstance(deps, dict) else ((d, {}) for d in deps)):
            if dep not in services:
                fail(f"{name}: depends_on unknown service {dep}")
                continue
            cond = (spec or {}).get("condition", "service_started")
            if cond == "service_healthy" and not services[dep].get("healthcheck") \
                    and "build" not in services[dep]:
                fail(f"{name}: waits for {dep} to be healthy, but {dep} has no healthcheck")
            if cond == "service_healthy" and (services[dep].get("healthcheck") or {}).get("disable"):
                fail(f"{name}: waits for {dep} to be healthy, but its healthcheck is disabled")
        for v in s.get("volumes", []) or []:
            src = v.split(":")[0] if isinstance(v, str) else v.get("source")
            if src.startswith((".", "/")):
                if not os.path.exists(os.path.join(ROOT, src)):
                    fail(f"{name}: mounted path {src} does not exist")
            else:
                used_volumes.add(src)
                if src not in declared_volumes:
                    fail(f"{name}: volume {src} is not declared under volumes:")
        if name in {"publisher", "worker"} and s.get("ports"):
            fail(f"{name}: publishes host ports, so `--scale {name}=N` would conflict")
    for v in sorted(declared_volumes - used_volumes):
        fail(f"volume {v} is declared but unused")
    if not any(str(p).endswith("8080:8080") for p in services.get("api", {}).get("ports", [])):
        fail("api does not publish port 8080")
    for name in ("mysql", "rabbitmq"):
        if not services.get(name, {}).get("healthcheck"):
            fail(f"{name} has no healthcheck")
    ok("images pinned, depends_on targets exist, mounted files exist, volumes declared")

    # The gateway's environment: known variable names, migrations left to `migrate`.
    known = env_example_names()
    ops = None
    for name in ("migrate", "api", "publisher", "worker"):
        env = services.get(name, {}).get("environment") or {}
        unknown = sorted(set(env) - known)
        if unknown:
            fail(f"{name}: variables not in .env.example: {unknown}")
        for var in ("ADMIN_TOKEN", "DATABASE_URL", "AMQP_URL", "OPERATORS"):
            if not env.get(var):
                fail(f"{name}: {var} is not set")
        if len(str(env.get("ADMIN_TOKEN", ""))) < 16:
            fail(f"{name}: ADMIN_TOKEN is shorter than 16 characters")
        if name != "migrate" and str(env.get("RUN_MIGRATIONS")).lower() != "false":
            fail(f"{name}: RUN_MIGRATIONS should be false (the migrate service runs them)")
        if env.get("OPERATORS"):
            ops = check_operators(f"{name}.OPERATORS", env["OPERATORS"], set(services))
        cmd = services.get(name, {}).get("command") or []
        if name != "migrate" and cmd != ["serve", "--role", name]:
            fail(f"{name}: command should be serve --role {name}, is {cmd}")
    ok("gateway environment: names known to .env.example, secrets set, roles and migrations")

    # OPERATORS <-> mock operators: url port = --listen port, api_key = --api-key = --dlr-key,
    # and the delivery reports go to the api service's /dlr/<name>.
    for op in ops or []:
        host = re.sub(r"^https?://", "", op["url"]).split("/")[0]
        svc, _, port = host.partition(":")
        m = services.get(svc)
        if not m:
            continue
        args = mock_args(m.get("command") or [])
        problems = []
        if (m.get("command") or [None])[0] != "mock-operator":
            problems.append("is not a mock-operator")
        if args.get("listen", "").rsplit(":", 1)[-1] != (port or "80"):
            problems.append(f"listens on {args.get('listen')}, OPERATORS says port {port}")
        if args.get("api-key") != op["api_key"] or args.get("dlr-key") != op["api_key"]:
            problems.append("--api-key / --dlr-key differ from the api_key in OPERATORS")
        if args.get("dlr-url") != f"http://api:8080/dlr/{op['name']}":
            problems.append(f"--dlr-url {args.get('dlr-url')} is not http://api:8080/dlr/{op['name']}")
        if args.get("name") != op["name"]:
            problems.append(f"--name {args.get('name')} differs from {op['name']}")
        hc = " ".join((m.get("healthcheck") or {}).get("test", []))
        if port and port not in hc:
            problems.append("its healthcheck does not probe its own port")
        for p in problems:
            fail(f"operator {op['name']} ({svc}): {p}")
        if not problems:
            ok(f"operator {op['name']}: {svc} listens on {port}, same key, reports to the api")

    # Prometheus discovers exactly the gateway roles; the OTLP endpoint reaches the collector.
    prom = load_yaml(os.path.join(ROOT, "deploy", "prometheus", "prometheus.yml"))
    gw = [j for j in prom["scrape_configs"] if j["job_name"] == "sms-gateway"]
    names = {n for j in gw for sd in j.get("dns_sd_configs", []) for n in sd["names"]}
    if names != {"api", "publisher", "worker"}:
        fail(f"prometheus job sms-gateway discovers {sorted(names)}, not api/publisher/worker")
    else:
        ok("prometheus discovers every replica of api, publisher and worker by DNS")
    endpoint = services["api"]["environment"].get("OTEL_EXPORTER_OTLP_ENDPOINT", "")
    if not re.fullmatch(r"http://otel-collector:4318/?", endpoint):
        fail(f"OTEL_EXPORTER_OTLP_ENDPOINT is {endpoint!r}, expected http://otel-collector:4318")
    else:
        ok(f"spans go to {endpoint} (the otel-collector service)")


# --- OpenTelemetry collector ---------------------------------------------------------------
def check_otel():
    """deploy/otel-collector.yml: pipelines name only defined components, OTLP/HTTP on 4318,
    traces exported to the compose service jaeger."""
    c = load_yaml(os.path.join(ROOT, "deploy", "otel-collector.yml"))
    svc = c.get("service", {})
    for ext in svc.get("extensions", []):
        if ext not in (c.get("extensions") or {}):
            fail(f"service.extensions names undefined extension {ext}")
    pipelines = svc.get("pipelines", {})
    if "traces" not in pipelines:
        fail("no traces pipeline")
    for pname, p in pipelines.items():
        for kind in ("receivers", "processors", "exporters"):
            for comp in p.get(kind, []):
                if comp not in (c.get(kind) or {}):
                    fail(f"pipeline {pname}: {kind[:-1]} {comp} is not defined")
    http = ((c.get("receivers") or {}).get("otlp") or {}).get("protocols", {}).get("http") or {}
    if not str(http.get("endpoint", "")).endswith(":4318"):
        fail("the otlp receiver does not listen for HTTP on 4318")
    for name, e in (c.get("exporters") or {}).items():
        if name.startswith("otlp") and not str(e.get("endpoint", "")).startswith("jaeger:"):
            fail(f"exporter {name} does not point at the jaeger service")
    ok(f"pipelines {sorted(pipelines)} use defined components; OTLP/HTTP on 4318 -> jaeger")


# --- Dockerfile ----------------------------------------------------------------------------
def dockerignore_patterns():
    pats = []
    with open(os.path.join(ROOT, ".dockerignore"), encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                pats.append(line)
    return pats


def ignored(path, patterns):
    """Approximation of .dockerignore matching (last match wins, `!` re-includes)."""
    result = False
    for pat in patterns:
        neg = pat.startswith("!")
        p = pat[1:] if neg else pat
        p = p.rstrip("/")
        candidates = [path] + [path[: i] for i in range(len(path)) if path[i] == "/"]
        hit = False
        for cand in candidates:
            if fnmatch.fnmatch(cand, p) or (p.startswith("**/") and (
                    fnmatch.fnmatch(cand, p[3:]) or fnmatch.fnmatch(cand, "*/" + p[3:]))):
                hit = True
        if hit:
            result = not neg
    return result


def check_dockerfile():
    """The Dockerfile: pinned bases, a dependency layer built from both workspace manifests,
    a release build, a numeric non-root user, EXPOSE 8080, a curl-free HEALTHCHECK, ENTRYPOINT
    and CMD; every COPY source exists and is not excluded by .dockerignore."""
    with open(os.path.join(ROOT, "Dockerfile"), encoding="utf-8") as f:
        text = f.read()
    # Join continuation lines, drop comments.
    lines = []
    buf = ""
    for line in text.splitlines():
        s = line.strip()
        if not buf and (not s or s.startswith("#")):
            continue
        if s.endswith("\\"):
            buf += s[:-1] + " "
            continue
        lines.append((buf + s).strip())
        buf = ""
    instr = [(l.split(None, 1)[0].upper(), l.split(None, 1)[1] if " " in l else "") for l in lines]
    froms = [a for i, a in instr if i == "FROM"]
    args = dict(re.findall(r"^ARG (\w+)=(\S+)", text, re.M))
    bases = [re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""), f.split()[0]) for f in froms]
    if len(bases) < 2:
        fail("not a multi-stage build")
    if not bases or bases[0] != "rust:1.95-bookworm":
        fail(f"builder is {bases[:1]}, expected rust:1.95-bookworm")
    if bases[-1] != "debian:bookworm-slim":
        fail(f"runtime is {bases[-1:]}, expected debian:bookworm-slim")
    ok(f"stages: {' -> '.join(bases)}")

    # Dependency layer: both manifests and the lock file copied before the first cargo build,
    # and no source copied before it.
    first_build = next((n for n, (i, a) in enumerate(instr) if i == "RUN" and "cargo build" in a), None)
    if first_build is None:
        fail("no cargo build")
    else:
        before = " ".join(a for i, a in instr[:first_build] if i == "COPY")
        for needed in ("Cargo.toml", "Cargo.lock", "loadtest/Cargo.toml"):
            if needed not in before.split():
                fail(f"{needed} is not copied before the dependency build")
        if re.search(r"(^|\s)(src|loadtest/src|\.)(\s|$)", before.replace("./", "")):
            fail("sources are copied before the dependency build (the layer would not cache)")
        builds = [a for i, a in instr if i == "RUN" and "cargo build" in a]
        if len(builds) < 2:
            fail("expected a dependency build and a project build")
        if not all("--release" in b and "--locked" in b for b in builds):
            fail("cargo build without --release --locked")
        ok("dependency layer from Cargo.toml, Cargo.lock and loadtest/Cargo.toml; "
           "release builds with --locked")

    runtime = instr[max(n for n, (i, _) in enumerate(instr) if i == "FROM"):]
    users = [a for i, a in runtime if i == "USER"]
    if not users or users[-1].split(":")[0] in {"0", "root"} or not users[-1].split(":")[0].isdigit():
        fail(f"runtime USER is {users[-1:] or 'unset'}; expected a numeric non-root uid")
    if "8080" not in " ".join(a for i, a in runtime if i == "EXPOSE").split():
        fail("EXPOSE 8080 missing")
    hc = [a for i, a in runtime if i == "HEALTHCHECK"]
    if hc and "curl" in hc[0]:
        fail("HEALTHCHECK uses curl, which the runtime image does not have")
    ep = [a for i, a in runtime if i == "ENTRYPOINT"]
    cmd = [a for i, a in runtime if i == "CMD"]
    if not ep or json.loads(ep[-1]) != ["sms-gateway"]:
        fail(f"ENTRYPOINT is {ep[-1:]}, expected [\"sms-gateway\"]")
    if not cmd or json.loads(cmd[-1]) != ["serve", "--role", "all"]:
        fail(f"CMD is {cmd[-1:]}, expected [\"serve\", \"--role\", \"all\"]")
    apt = " ".join(a for i, a in runtime if i == "RUN" and "apt-get install" in a)
    pkgs = [w for w in apt.split("apt-get install", 1)[-1].split("&&")[0].split()
            if not w.startswith("-")] if apt else []
    if pkgs != ["ca-certificates"]:
        fail(f"runtime installs {pkgs}, expected ca-certificates only")
    if re.search(r"\b(curl|wget)\b", " ".join(a for i, a in instr if i == "RUN")):
        fail("a RUN step downloads with curl/wget")
    ok(f"runtime: USER {users[-1] if users else '?'}, EXPOSE 8080, HEALTHCHECK "
       f"{'(curl-free)' if hc else 'none'}, ENTRYPOINT/CMD sms-gateway serve --role all")

    patterns = dockerignore_patterns()
    for i, a in instr:
        if i != "COPY" or a.startswith("--from"):
            continue
        srcs = shlex.split(a)[:-1]
        for src in srcs:
            if src.startswith("--"):
                continue
            src = src.rstrip("/") or "."
            if not os.path.exists(os.path.join(ROOT, src)):
                fail(f"COPY {src}: does not exist")
            elif ignored(src, patterns):
                fail(f"COPY {src}: excluded by .dockerignore")
    for must in ("target", ".git"):
        if not ignored(must, patterns):
            fail(f".dockerignore does not exclude {must}/")
    if not ignored(".env", patterns):
        fail(".dockerignore does not exclude .env (it may hold secrets)")
    ok("COPY sources exist and are in the build context; .dockerignore excludes target/, .git, .env")
    hc_bin = hc[0].split('"')[1] if hc and '"' in hc[0] else None
    if hc_bin and hc_bin != "sms-gateway" and f"/usr/local/bin/{hc_bin}" not in text:
        fail(f"HEALTHCHECK runs {hc_bin}, which the Dockerfile does not install")


# --- Kubernetes ----------------------------------------------------------------------------
def k8s_docs():
    d = os.path.join(ROOT, "deploy", "k8s")
    docs = []
    for name in sorted(os.listdir(d)):
        if name.endswith((".yml", ".yaml")) and name != "kustomization.yaml":
            for doc in load_yaml_all(os.path.join(d, name)):
                docs.append((name, doc))
    return docs


def pod_spec(doc):
    if doc["kind"] in {"Deployment", "Job", "StatefulSet", "DaemonSet"}:
        return doc["spec"]["template"]["spec"]
    return None


def check_k8s():
    """deploy/k8s without a cluster: apiVersion/kind/metadata.name everywhere; every file in
    kustomization.yaml and back; pods non-root with a read-only root file system and no
    privilege escalation; Deployments with liveness /healthz and readiness /readyz on a
    declared port, resources, and a grace period above SHUTDOWN_TIMEOUT_SECS; selectors,
    envFrom, the HPA and the PDB pointing at what exists."""
    d = os.path.join(ROOT, "deploy", "k8s")
    kust = load_yaml(os.path.join(d, "kustomization.yaml"))
    files = {n for n in os.listdir(d) if n.endswith((".yml", ".yaml")) and n != "kustomization.yaml"}
    listed = set(kust.get("resources", []))
    for n in sorted(listed - files):
        fail(f"kustomization.yaml lists {n}, which does not exist")
    for n in sorted(files - listed):
        fail(f"{n} is not listed in kustomization.yaml")
    docs = k8s_docs()
    by_kind = {}
    for name, doc in docs:
        for key in ("apiVersion", "kind"):
            if not doc.get(key):
                fail(f"{name}: {key} missing")
        if not (doc.get("metadata") or {}).get("name"):
            fail(f"{name}: metadata.name missing")
        by_kind.setdefault(doc.get("kind"), []).append((name, doc))
    ok(f"{len(docs)} objects: " + ", ".join(f"{k} x{len(v)}" for k, v in sorted(by_kind.items())))
    for kind in ("Namespace", "ConfigMap", "Secret", "Job", "Deployment", "Service",
                 "HorizontalPodAutoscaler", "PodDisruptionBudget"):
        if kind not in by_kind:
            fail(f"no {kind}")

    configmaps = {doc["metadata"]["name"]: doc for _, doc in by_kind.get("ConfigMap", [])}
    secrets = {doc["metadata"]["name"]: doc for _, doc in by_kind.get("Secret", [])}
    known = env_example_names()
    for cname, cm in configmaps.items():
        unknown = sorted(set(cm.get("data", {})) - known)
        if unknown:
            fail(f"ConfigMap {cname}: variables not in .env.example: {unknown}")
    for sname, s in secrets.items():
        data = s.get("stringData", {})
        unknown = sorted(set(data) - known)
        if unknown:
            fail(f"Secret {sname}: variables not in .env.example: {unknown}")
        for var in ("ADMIN_TOKEN", "DATABASE_URL", "AMQP_URL", "OPERATORS"):
            if var not in data:
                fail(f"Secret {sname}: {var} missing")
        if "OPERATORS" in data:
            check_operators(f"Secret {sname}", data["OPERATORS"])
    shutdown = max(int(cm.get("data", {}).get("SHUTDOWN_TIMEOUT_SECS", 30))
                   for cm in configmaps.values()) if configmaps else 30

    deployments = {}
    for name, doc in by_kind.get("Deployment", []) + by_kind.get("Job", []):
        dname = f"{doc['kind']} {doc['metadata']['name']}"
        spec = pod_spec(doc)
        psc = spec.get("securityContext") or {}
        problems = []
        if doc["kind"] == "Deployment":
            sel = doc["spec"]["selector"]["matchLabels"]
            labels = doc["spec"]["template"]["metadata"]["labels"]
            if any(labels.get(k) != v for k, v in sel.items()):
                problems.append("selector does not match the pod template's labels")
            deployments[doc["metadata"]["name"]] = labels
            grace = spec.get("terminationGracePeriodSeconds", 30)
            pre = 0
        for c in spec["containers"]:
            csc = c.get("securityContext") or {}
            non_root = csc.get("runAsNonRoot", psc.get("runAsNonRoot"))
            uid = csc.get("runAsUser", psc.get("runAsUser"))
            if non_root is not True:
                problems.append(f"{c['name']}: runAsNonRoot is not true")
            if uid in (None, 0):
                problems.append(f"{c['name']}: runAsUser is unset or 0")
            if csc.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{c['name']}: readOnlyRootFilesystem is not true")
            if csc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{c['name']}: allowPrivilegeEscalation is not false")
            if "ALL" not in ((csc.get("capabilities") or {}).get("drop") or []):
                problems.append(f"{c['name']}: capabilities are not dropped")
            if not (c.get("resources") or {}).get("requests"):
                problems.append(f"{c['name']}: no resource requests")
            for ref in c.get("envFrom", []):
                if "configMapRef" in ref and ref["configMapRef"]["name"] not in configmaps:
                    problems.append(f"{c['name']}: envFrom unknown ConfigMap {ref['configMapRef']['name']}")
                if "secretRef" in ref and ref["secretRef"]["name"] not in secrets:
                    problems.append(f"{c['name']}: envFrom unknown Secret {ref['secretRef']['name']}")
            if doc["kind"] != "Deployment":
                continue
            ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
            for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
                pr = c.get(probe)
                if not pr:
                    problems.append(f"{c['name']}: no {probe}")
                    continue
                get = pr.get("httpGet") or {}
                if get.get("path") != path:
                    problems.append(f"{c['name']}: {probe} path is {get.get('path')}, expected {path}")
                port = get.get("port")
                if port not in ports and port not in ports.values():
                    problems.append(f"{c['name']}: {probe} port {port} is not a container port")
            if 8080 not in ports.values():
                problems.append(f"{c['name']}: does not declare containerPort 8080")
            args = c.get("args") or []
            if args[:2] != ["serve", "--role"] or args[2:3] == ["all"]:
                problems.append(f"{c['name']}: args {args} should be serve --role api|publisher|worker")
            cmd = (((c.get("lifecycle") or {}).get("preStop") or {}).get("exec") or {}).get("command") or []
            if cmd[:1] == ["sleep"]:
                pre = max(pre, int(cmd[1]))
        if doc["kind"] == "Deployment" and grace <= shutdown + pre:
            problems.append(f"terminationGracePeriodSeconds {grace} is not above "
                            f"SHUTDOWN_TIMEOUT_SECS {shutdown} + preStop {pre}")
        for p in problems:
            fail(f"{name}: {dname}: {p}")
        if not problems:
            extra = f", grace {grace}s > {shutdown}s + {pre}s" if doc["kind"] == "Deployment" else ""
            ok(f"{name}: {dname}: non-root, read-only root fs"
               f"{', probes /healthz and /readyz' if doc['kind'] == 'Deployment' else ''}{extra}")
    roles = {labels.get("app.kubernetes.io/component") for labels in deployments.values()}
    if not {"api", "publisher", "worker"} <= roles:
        fail(f"expected one Deployment per role, found components {sorted(r for r in roles if r)}")

    def selects(selector):
        return [n for n, labels in deployments.items()
                if all(labels.get(k) == v for k, v in selector.items())]

    for name, svc in by_kind.get("Service", []):
        hit = selects(svc["spec"].get("selector", {}))
        if not hit:
            fail(f"{name}: Service {svc['metadata']['name']} selects no Deployment's pods")
        else:
            ok(f"{name}: Service {svc['metadata']['name']} selects {', '.join(sorted(hit))}")
    for name, hpa in by_kind.get("HorizontalPodAutoscaler", []):
        ref = hpa["spec"]["scaleTargetRef"]
        target = [d for _, d in by_kind.get("Deployment", [])
                  if d["metadata"]["name"] == ref["name"]]
        if ref.get("kind") != "Deployment" or not target:
            fail(f"{name}: HPA targets {ref}, which does not exist")
        elif "replicas" in target[0]["spec"]:
            fail(f"{name}: the HPA's Deployment sets replicas, which every apply would reset")
        elif not any(m.get("resource", {}).get("name") == "cpu" for m in hpa["spec"].get("metrics", [])):
            fail(f"{name}: HPA has no CPU metric")
        else:
            ok(f"{name}: HPA scales {ref['name']} on CPU")
    for name, pdb in by_kind.get("PodDisruptionBudget", []):
        hit = selects(pdb["spec"]["selector"]["matchLabels"])
        if hit != ["sms-gateway-api"]:
            fail(f"{name}: PDB selects {hit}, expected the api Deployment")
        else:
            ok(f"{name}: PDB covers sms-gateway-api")
    unannotated = []
    for _, d in by_kind.get("Deployment", []):
        ann = d["spec"]["template"]["metadata"].get("annotations", {})
        if ann.get("prometheus.io/scrape") != "true" or ann.get("prometheus.io/port") != "8080":
            unannotated.append(d["metadata"]["name"])
            fail(f"Deployment {d['metadata']['name']}: no prometheus.io/scrape annotations")
    if not unannotated:
        ok("every Deployment's pods carry prometheus.io/scrape annotations")


CHECKS = {
    "yaml": check_yaml,
    "metrics": check_metrics,
    "metrics-in-code": check_metrics_in_code,
    "dashboards": check_dashboards,
    "alerts": check_alerts,
    "compose": check_compose,
    "otel": check_otel,
    "dockerfile": check_dockerfile,
    "k8s": check_k8s,
}

if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "dashboard-rules" and len(sys.argv) == 3:
        dashboard_rules(sys.argv[2])
        sys.exit(0)
    if len(sys.argv) != 2 or sys.argv[1] not in CHECKS:
        print(f"usage: {sys.argv[0]} {'|'.join(CHECKS)}|dashboard-rules OUT", file=sys.stderr)
        sys.exit(2)
    CHECKS[sys.argv[1]]()
    finish()
