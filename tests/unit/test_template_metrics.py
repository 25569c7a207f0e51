"""The alarms and the dashboard watch metrics the code really publishes (names cannot drift)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from local.template import load_template, repo_root

ROOT = repo_root()


def published_metric_names() -> set[str]:
    sources = [*ROOT.glob("functions/*/app.py"), *ROOT.glob("layers/sessiongate/sessiongate/*.py")]
    return {m for path in sources for m in re.findall(r'name="([A-Z][A-Za-z]+)"', Path(path).read_text())}


def test_every_alarmed_or_charted_sessiongate_metric_is_published():
    # Given the template's alarms and dashboard
    resources = load_template(ROOT / "template.yaml")["Resources"]
    alarmed = {
        r["Properties"]["MetricName"]
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"]["Namespace"] == "SessionGate"
    }
    body = resources["SessionGateDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    charted = set()
    for widget in json.loads(body)["widgets"]:
        namespace = None
        for metric in widget["properties"]["metrics"]:
            namespace = metric[0] if metric[0] != "." else namespace
            if namespace == "SessionGate":
                charted.add(metric[1])
    # Then each name is one the code emits
    published = published_metric_names()
    assert alarmed and charted
    assert alarmed <= published, alarmed - published
    assert charted <= published, charted - published
