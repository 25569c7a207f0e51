"""One table on stdout, the same rows (with their raw medians) as JSON."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any


@dataclass
class Row:
    name: str
    ratio: float | None  # None: could not be measured (detail says why)
    goal: float
    detail: str
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def met(self) -> bool:
        return self.ratio is not None and not math.isnan(self.ratio) and self.ratio <= self.goal

    def asdict(self) -> dict[str, Any]:
        ratio = None if self.ratio is None or math.isinf(self.ratio) else round(self.ratio, 4)
        return {
            "name": self.name,
            "ratio": ratio,
            "ratio_is_infinite": self.ratio is not None and math.isinf(self.ratio),
            "goal": self.goal,
            "met": self.met,
            "detail": self.detail,
            "raw": self.raw,
        }


def row_from_dict(data: dict[str, Any]) -> Row:
    ratio = math.inf if data.get("ratio_is_infinite") else data.get("ratio")
    return Row(data["name"], ratio, data["goal"], data["detail"], data.get("raw") or {})


def _ratio_text(ratio: float | None) -> str:
    if ratio is None:
        return "n/a"
    if math.isinf(ratio):
        return "inf"
    return f"{ratio:.2f}"


def print_table(rows: list[Row], title: str, out: IO[str]) -> None:
    width = max(len(r.name) for r in rows)
    out.write(f"{title}\n")
    out.write(f"{'row':<{width}}  {'ratio':>6}  {'goal':>7}  {'met':<3}  measured\n")
    out.write(f"{'-' * width}  {'-' * 6}  {'-' * 7}  {'-' * 3}  {'-' * 8}\n")
    for r in rows:
        met = "yes" if r.met else "no"
        out.write(
            f"{r.name:<{width}}  {_ratio_text(r.ratio):>6}  {'<= ' + format(r.goal, 'g'):>7}  {met:<3}  {r.detail}\n"
        )
    out.write(f"{sum(r.met for r in rows)}/{len(rows)} goals met\n")
    out.flush()


def write_json(path: Path, rows: list[Row], meta: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        **meta,
        "rows": [r.asdict() for r in rows],
        "goals_met": sum(r.met for r in rows),
        "rows_total": len(rows),
    }
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n", encoding="utf-8")
