#!/usr/bin/env python3
"""The checker of deploy/monitoring, checked: it finds the metrics an expression names, and it
fails on a name the scrape does not declare (a typo in an alert must not pass unnoticed)."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_monitoring as cm  # noqa: E402

SCRAPE = """# HELP tresse_consumer_lag Messages behind
# TYPE tresse_consumer_lag gauge
tresse_consumer_lag 0
# HELP tresse_attempt_duration_seconds Duration
# TYPE tresse_attempt_duration_seconds histogram
tresse_attempt_duration_seconds_bucket{le="0.1"} 0
tresse_attempt_duration_seconds_bucket{le="+Inf"} 0
tresse_attempt_duration_seconds_sum 0
tresse_attempt_duration_seconds_count 0
# HELP tresse_deliveries_total Deliveries
# TYPE tresse_deliveries_total counter
tresse_deliveries_total{outcome="delivered"} 0
"""


class MetricNamesTest(unittest.TestCase):
    def test_finds_the_selected_metrics_only(self):
        cases = {
            'tresse_consumer_lag > 1000 and deriv(tresse_consumer_lag[15m]) > 0':
                ["tresse_consumer_lag", "tresse_consumer_lag"],
            'histogram_quantile(0.99, sum by (le) (rate(tresse_attempt_duration_seconds_bucket'
            '{job=~"$job", le!="+Inf"}[$__rate_interval])))':
                ["tresse_attempt_duration_seconds_bucket"],
            'sum without (instance, pod) (increase(tresse_deliveries_total{outcome="x"}[15m]))':
                ["tresse_deliveries_total"],
            'a / on(instance) group_left(version) b offset 5m': ["a", "b"],
            'up{job="tresse-dispatcher"} == 0': ["up"],
            '1e3 * 2.5 > bool 0': [],
            'max_over_time(x[1h:5m])': ["x"],
        }
        for expr, names in cases.items():
            self.assertEqual(cm.metric_names(expr), names, expr)

    def test_exported_names_include_histogram_series(self):
        self.assertEqual(cm.exported_metrics(SCRAPE), {
            "tresse_consumer_lag", "tresse_deliveries_total", "tresse_attempt_duration_seconds",
            "tresse_attempt_duration_seconds_bucket", "tresse_attempt_duration_seconds_sum",
            "tresse_attempt_duration_seconds_count"})


class CheckerTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.scrape = self.write("metrics.txt", SCRAPE)

    def tearDown(self):
        shutil.rmtree(self.dir)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def run_checker(self, rules=None, dashboard=None, promtool=None):
        args = [sys.executable, os.path.join(os.path.dirname(__file__), "check_monitoring.py"),
                "--metrics", self.scrape]
        if rules:
            args += ["--rules", self.write("rules.yaml", rules)]
        if dashboard:
            args += ["--dashboard", self.write("dashboard.json", json.dumps(dashboard))]
        if promtool:
            args += ["--promtool", promtool]
        return subprocess.run(args, capture_output=True, text=True)

    def test_passes_expressions_of_exported_metrics(self):
        r = self.run_checker(
            rules="groups:\n- name: g\n  rules:\n"
                  "  - record: job:lag:sum\n    expr: sum by (job) (tresse_consumer_lag)\n"
                  "  - alert: Lag\n    expr: job:lag:sum > 10\n",
            dashboard={"panels": [{"title": "p", "targets": [
                {"refId": "A", "expr": 'rate(tresse_deliveries_total{job=~"$job"}[$__rate_interval])'}]}]})
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_fails_on_a_metric_the_dispatcher_does_not_export(self):
        r = self.run_checker(rules="groups:\n- name: g\n  rules:\n"
                                   "  - alert: Typo\n    expr: tresse_consumer_lagg > 10\n")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("'tresse_consumer_lagg' is not exported", r.stdout)

    def test_fails_on_a_dashboard_typo_in_a_nested_row(self):
        r = self.run_checker(dashboard={"panels": [{"type": "row", "title": "r", "panels": [
            {"title": "p", "targets": [{"refId": "A", "expr": "sum(tresse_delivery_total)"}]}]}]})
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("'tresse_delivery_total' is not exported", r.stdout)

    def test_fails_on_a_template_variable_of_an_unknown_metric(self):
        r = self.run_checker(dashboard={"panels": [], "templating": {"list": [
            {"type": "query", "name": "instance",
             "query": {"query": "label_values(tresse_build_inf, instance)"}}]}})
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("'tresse_build_inf'", r.stdout)

    def test_fails_on_an_expression_naming_no_metric(self):
        r = self.run_checker(rules="groups:\n- name: g\n  rules:\n  - alert: Always\n    expr: vector(1)\n")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("names no metric", r.stdout)

    def test_promtool_rejects_a_dashboard_syntax_error(self):
        promtool = os.environ.get("TRESSE_PROMTOOL") or shutil.which("promtool")
        self.assertIsNotNone(promtool, "promtool not found (Debian package prometheus)")
        r = self.run_checker(
            dashboard={"panels": [{"title": "p", "targets": [
                {"refId": "A", "expr": "sum(rate(tresse_deliveries_total[$__rate_interval])"}]}]},
            promtool=promtool)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("promtool rejects", r.stdout)


if __name__ == "__main__":
    unittest.main()
