#!/usr/bin/env python3
"""The deploy checks no kept tool knows, run by scripts/validate-deploy.sh after hadolint,
yamllint, kubernetes-validate, docker-compose config and promtool.

  validate_deploy.py RULES   checks the metric catalog, runbooks, k8s and compose, and writes
                             the dashboard queries to RULES as recording rules (for `promtool
                             check rules`, which parses their PromQL)

Prints a `FAIL:` line per problem and exits 1 if there was any. Needs PyYAML only.
"""
import glob
import json
import os
import re
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
failures = []


def load(rel, parse=True):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        return yaml.safe_load(f) if parse and rel.endswith((".yml", ".yaml")) else f.read()


def check(ok, msg):
    if not ok:
        failures.append(msg)
        print(f"  FAIL: {msg}")


def exprs():
    """(where, what, PromQL) of every alert, recording rule and dashboard query."""
    rules = [r for g in load("deploy/prometheus/alerts.yml")["groups"] for r in g["rules"]]
    out = [("alerts.yml", r.get("alert") or r.get("record"), r["expr"]) for r in rules]
    for name in sorted(glob.glob("deploy/grafana/dashboards/*.json", root_dir=ROOT)):
        panels = json.loads(load(name))["panels"]
        while panels:
            p = panels.pop(0)
            panels[:0] = p.get("panels", [])
            out += [(name, p.get("title"), t["expr"]) for t in p.get("targets", []) if "expr" in t]
    return out


def check_metric_catalog():
    """Alerts and dashboards use only metrics of deploy/metrics.txt (scripts/postman.sh checks
    that a live gateway serves every one of those)."""
    lines = [line.split("#")[0].split() for line in load("deploy/metrics.txt").splitlines()]
    catalog = dict(words[:2] for words in lines if words)
    known = set(catalog) | {n + s for n, t in catalog.items() if t == "histogram"
                            for s in ("_bucket", "_sum", "_count")}
    for where, what, expr in exprs():
        names = set(re.findall(r"\bsmsgw_\w+", re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)))
        check(names or re.search(r"\bup\b", expr), f"{where} [{what}]: no metric in {expr!r}")
        for name in sorted(names - known):
            check(False, f"{where} [{what}]: {name} is not in deploy/metrics.txt")
    print(f"  metric catalog: {len(catalog)} metrics; {len(exprs())} queries use only those")


def check_alerts():
    """Every alert has a severity, summary and description, a runbook_url whose anchor is a
    heading of docs/OPERATIONS.md, and a case of alerts_test.yml in which it fires."""
    text = re.sub(r"^```.*?^```", "", load("docs/OPERATIONS.md"), flags=re.M | re.S)
    anchors = {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
               for h in re.findall(r"^#+ (.*)$", text, re.M)}
    cases = load("deploy/prometheus/alerts_test.yml")["tests"]
    fired = {t["alertname"] for c in cases for t in c.get("alert_rule_test", [])
             if t.get("exp_alerts")}
    groups = load("deploy/prometheus/alerts.yml")["groups"]
    rules = [r for g in groups for r in g["rules"] if "alert" in r]
    for r in rules:
        name, ann = r["alert"], r.get("annotations", {})
        check(r.get("labels", {}).get("severity") in {"critical", "warning", "info"},
              f"alert {name}: severity is not critical, warning or info")
        for key in ("summary", "description"):
            check(ann.get(key), f"alert {name}: no {key}")
        doc, _, anchor = ann.get("runbook_url", "").partition("#")
        check(doc == "docs/OPERATIONS.md" and anchor in anchors, f"alert {name}: runbook_url "
              f"{ann.get('runbook_url')!r} names no heading of docs/OPERATIONS.md")
        check(name in fired, f"alert {name}: alerts_test.yml has no case in which it fires")
    print(f"  alerts: {len(rules)}, each with a runbook section and a test in which it fires")


def check_k8s_and_compose():
    """kustomization.yaml lists every file of deploy/k8s; a Deployment's grace period exceeds
    SHUTDOWN_TIMEOUT_SECS plus its preStop pause; compose's operators match their mocks; every
    variable is known to .env.example (the gateway ignores unknown ones: a typo goes unseen)."""
    known = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", load(".env.example"), re.M))
    files = {n for n in os.listdir(os.path.join(ROOT, "deploy/k8s")) if n.endswith(".yaml")}
    listed = set(load("deploy/k8s/kustomization.yaml")["resources"])
    check(listed == files - {"kustomization.yaml"}, f"kustomization.yaml resources differ from "
          f"the files of deploy/k8s: {sorted(listed ^ (files - {'kustomization.yaml'}))}")
    docs = [d for n in sorted(listed & files)
            for d in yaml.safe_load_all(load(f"deploy/k8s/{n}", parse=False)) if d]
    shutdown = 30
    for d in (d for d in docs if d["kind"] in {"ConfigMap", "Secret"}):
        data = d.get("data") or d.get("stringData") or {}
        check(not set(data) - known, f"{d['kind']} {d['metadata']['name']}: "
              f"variables not in .env.example: {sorted(set(data) - known)}")
        shutdown = int(data.get("SHUTDOWN_TIMEOUT_SECS", shutdown))
    for d in (d for d in docs if d["kind"] == "Deployment"):
        spec, name = d["spec"]["template"]["spec"], d["metadata"]["name"]
        grace = spec.get("terminationGracePeriodSeconds", 30)
        for c in spec["containers"]:
            pre = ((c.get("lifecycle") or {}).get("preStop") or {}).get("exec", {}).get("command")
            pause = int(pre[1]) if (pre or [None])[0] == "sleep" else 0
            check(grace > shutdown + pause, f"Deployment {name}: grace period {grace}s is not "
                  f"above SHUTDOWN_TIMEOUT_SECS {shutdown}s + preStop {pause}s")
    services = load("docker-compose.yml")["services"]
    for svc in ("migrate", "api", "publisher", "worker"):
        env = set(services[svc].get("environment") or {})
        check(not env - known,
              f"compose {svc}: variables not in .env.example: {sorted(env - known)}")
    for op in json.loads(services["api"]["environment"]["OPERATORS"]):
        host, port = re.match(r"https?://([^:/]+):(\d+)/", op["url"]).groups()
        command = (services.get(host) or {}).get("command", [])
        args = dict(a[2:].split("=", 1) for a in command if "=" in a)
        check(args.get("listen", "").endswith(f":{port}") and args.get("api-key") == op["api_key"]
              and args.get("dlr-key") == op["api_key"]
              and args.get("dlr-url") == f"http://api:8080/dlr/{op['name']}",
              f"compose: operator {op['name']} does not match service {host} (port, keys, dlr-url)")
    print(f"  k8s: {len(docs)} objects; compose: operators match their mocks; variables known")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} RULES_OUT")
    for check_one in (check_metric_catalog, check_alerts, check_k8s_and_compose):
        check_one()
    queries = [e for where, _, e in exprs() if where != "alerts.yml"]
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        rules = [{"record": f"dashboard:q{i}", "expr": re.sub(r"\$__\w+", "5m", e)}
                 for i, e in enumerate(queries)]
        yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}, f)
    sys.exit(1 if failures else 0)
