#!/usr/bin/env python3
"""Checks deploy/monitoring against what a dispatcher really exports.

  check_monitoring.py --metrics SCRAPE.txt --rules alerts.yaml --dashboard dashboard.json \
      [--promtool promtool]

SCRAPE.txt is a real dispatcher's /metrics (tests/integration/monitoring_test.cpp scrapes one).
Every PromQL expression in the rule files (alerts and recording rules) and in the Grafana
dashboard (panel targets and template variable queries) must name at least one metric, and
every metric it names must be one the scrape declares (# TYPE; a histogram's _bucket, _sum and
_count), one a recording rule defines, or Prometheus's own `up`. With --promtool the dashboard's
expressions are also parsed by promtool (written as recording rules, the Grafana variables
replaced), so a syntax error fails too. Exits 0 when all is well, 1 listing every problem.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

# Series Prometheus itself adds to every scrape target.
SCRAPE_BUILTINS = {"up"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
            "unless", "bool", "offset", "atan2", "inf", "nan"}
GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


def exported_metrics(scrape_text):
    names = set()
    for line in scrape_text.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[:2] == ["#", "TYPE"]:
            name, kind = parts[2], parts[3]
            names.add(name)
            if kind == "histogram":
                names.update({name + "_bucket", name + "_sum", name + "_count"})
            elif kind == "summary":
                names.update({name + "_sum", name + "_count"})
    return names


def metric_names(expr):
    """The metric names a PromQL expression selects (functions and label names left out)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)  # strings
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = GROUPING.sub(" ", text)
    names = []
    for m in IDENT.finditer(text):
        word = m.group(0)
        before = text[m.start() - 1] if m.start() > 0 else " "
        if before.isdigit() or before == "." or before == "$":
            continue  # part of a number (1e3) or a variable
        after = text[m.end():].lstrip()
        if after.startswith("("):
            continue  # a function or an aggregation
        if word.lower() in KEYWORDS or re.fullmatch(r"\d.*", word):
            continue
        names.append(word)
    return names


def label_values_query(query):
    """label_values(metric{...}, label) and query_result(expr) hold an expression."""
    m = re.fullmatch(r"\s*label_values\((.*),\s*[a-zA-Z_]\w*\s*\)\s*", query, re.S)
    if m:
        return m.group(1)
    m = re.fullmatch(r"\s*query_result\((.*)\)\s*", query, re.S)
    if m:
        return m.group(1)
    m = re.fullmatch(r"\s*label_values\(\s*[a-zA-Z_]\w*\s*\)\s*", query)
    if m:
        return None  # every series' label: names no metric
    return query


def rule_expressions(path):
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    out, recorded = [], set()
    for group in doc.get("groups", []):
        for rule in group.get("rules", []):
            name = rule.get("alert") or rule.get("record")
            out.append((f"{path}: {'alert' if 'alert' in rule else 'record'} {name}", rule["expr"]))
            if "record" in rule:
                recorded.add(rule["record"])
    return out, recorded


def dashboard_expressions(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    out = []

    def walk_panels(panels):
        for panel in panels:
            for target in panel.get("targets", []):
                if "expr" in target:
                    out.append((f"{path}: panel '{panel.get('title')}' {target.get('refId')}",
                                target["expr"]))
            walk_panels(panel.get("panels", []))

    walk_panels(doc.get("panels", []))
    for var in doc.get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        query = var.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        expr = label_values_query(query or "")
        if expr:
            out.append((f"{path}: variable ${var.get('name')}", expr))
    return out


def grafana_to_promql(expr):
    for var, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(var, value)
    return re.sub(r"\$\{?[a-zA-Z_]\w*\}?", ".*", expr)  # $job, ${instance}: in =~ matchers


def promtool_parse(promtool, expressions):
    """Problems promtool finds parsing `expressions`, written as recording rules."""
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:expr_{i}", "expr": grafana_to_promql(expr)}
        for i, (_, expr) in enumerate(expressions)]}]}
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(rules, f)
        path = f.name
    try:
        r = subprocess.run([promtool, "check", "rules", path], capture_output=True, text=True)
    finally:
        os.unlink(path)
    return [] if r.returncode == 0 else [f"promtool rejects a dashboard expression:\n{r.stdout}{r.stderr}"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--metrics", required=True)
    ap.add_argument("--rules", action="append", default=[])
    ap.add_argument("--dashboard", action="append", default=[])
    ap.add_argument("--promtool")
    args = ap.parse_args()

    with open(args.metrics, encoding="utf-8") as f:
        known = exported_metrics(f.read())
    if not known:
        print(f"{args.metrics} declares no metric (# TYPE lines): not a /metrics scrape")
        return 1
    expressions, recorded = [], set()
    for path in args.rules:
        exprs, names = rule_expressions(path)
        expressions += exprs
        recorded |= names
    dashboard = []
    for path in args.dashboard:
        dashboard += dashboard_expressions(path)
    expressions += dashboard
    if not expressions:
        print("no expression found")
        return 1

    problems = []
    for where, expr in expressions:
        names = metric_names(expr)
        if not names:
            problems.append(f"{where}: names no metric: {expr}")
        for name in names:
            if name not in known and name not in recorded and name not in SCRAPE_BUILTINS:
                problems.append(f"{where}: '{name}' is not exported by the dispatcher: {expr}")
    if args.promtool and dashboard:
        problems += promtool_parse(args.promtool, dashboard)
    for p in problems:
        print(p)
    print(f"{len(expressions)} expressions checked against {len(known)} exported metric names, "
          f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
