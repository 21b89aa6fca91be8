"""What train.py shows and writes besides the model: samples per emotion and session, validation
metrics as text, the reference-face line, the confusion-matrix path and the --json file."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from emusify.reading.model import temp_beside

SESSION_LINES = 40  # more sessions than this: listed per group instead


def reference_line(model: Any) -> str:
    """One line saying which reference face the model reads against, and where it came from."""
    info = model.meta.get("reference", {})
    if model.calibration == "none":
        return "reference face: none (the model reads faces as they are)"
    if model.calibration == "session-mean":
        return "reference face: the running mean of your frames (session-mean)"
    if info.get("source") == "prior":
        return ("reference face: none of your own recorded, the starter's average relaxed face; run.py asks "
                "for a calibration shot (record 'python collect.py neutral' and train again to build it in)")
    if info.get("people", 0) > 1:
        return (f"reference face: each person's neutral frames ({info['people']} people, "
                f"{info['frames']} frames); new users start from their average")
    return (f"reference face: your relaxed face, the median of {info.get('frames', 0)} neutral frames "
            "of your recordings (run.py uses it until a newer calibration shot)")


def confusion_png(model: Path) -> Path:
    """models/emusify.npz -> models/emusify.confusion.png."""
    return Path(model).with_suffix(".confusion.png")


def format_samples(sessions: list[dict[str, Any]]) -> str:
    """Samples per emotion, then per recording session (per group when there are many)."""
    per_class: Counter[str] = Counter()
    for s in sessions:
        per_class[s["emotion"]] += s["samples"]
    lines = ["samples per emotion:"]
    lines += [f"  {label:<12} {n:>7}" for label, n in sorted(per_class.items())]
    lines.append(f"  {'total':<12} {sum(per_class.values()):>7}")
    if len(sessions) <= SESSION_LINES:
        lines.append(f"samples per recording session ({len(sessions)}):")
        lines += [f"  {s['id']:<28} {s['emotion']:<10} group {s['group'] or '-':<16} {s['samples']:>6}"
                  for s in sessions]
    else:
        groups: Counter[str] = Counter()
        for s in sessions:
            groups[str(s["group"] or "-")] += s["samples"]
        lines.append(f"samples per group ({len(sessions)} sessions in {len(groups)} groups):")
        lines += [f"  {g:<28} {n:>7}" for g, n in sorted(groups.items())]
    return "\n".join(lines)


def format_metrics(result: dict[str, Any]) -> str:
    """Accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix as text."""
    head = f"validation: {result.get('scheme', 'none')}"
    if "accuracy" not in result:
        return "\n".join([head, "  no validation figures (see the warnings above)"])
    lines = [head, f"  accuracy {result['accuracy']:.3f}   macro-F1 {result['macro_f1']:.3f}   "
                   f"({result['n']} samples)",
             f"  {'class':<12} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8}"]
    for label, c in result["per_class"].items():
        lines.append(f"  {label:<12} {c['precision']:>9.3f} {c['recall']:>7.3f} {c['f1']:>6.3f} "
                     f"{c['support']:>8}")
    labels, matrix = result["confusion"]["labels"], result["confusion"]["matrix"]
    width = max(7, *(len(x) + 1 for x in labels))
    lines.append("confusion matrix (rows: true, columns: predicted):")
    lines.append(" " * 14 + "".join(f"{x:>{width}}" for x in labels))
    for label, row in zip(labels, matrix):
        lines.append(f"  {label:<12}" + "".join(f"{v:>{width}}" for v in row))
    return "\n".join(lines)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_beside(path)
    try:
        tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    print(f"metrics written: {path}")
