"""One comparison table for a Hydra sweep: ``python scripts/sweep_summary.py SWEEP_DIR``.

A multirun (``python src/train.py -m model=single_frame,slow_fusion ...``) leaves one directory
per job under ``logs/<task>/multiruns/<date>/``: ``<n>/.hydra/overrides.yaml`` (the job's
overrides) and, when the job finished, ``<n>/metrics.json`` (written by :mod:`deepvideo.runs`:
Hit@k, ``train/clips_per_s``, ``time/run_s``, ``val/best_epoch``; :class:`deepvideo.modules.RunStats`).
:func:`summarize_sweep` reads every job into a :class:`SweepRow`, keeps the overrides that vary
across the jobs as columns, and writes ``summary.md`` and ``summary.csv`` (the same rows) into
the sweep directory. A job without ``metrics.json`` is a failed row with the reason its log gives
(the ``run failed:`` line :func:`deepvideo.cli.run_or_exit` writes, else the log's last error
line), never a hole.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from deepvideo.errors import ConfigError
from deepvideo.runs import run_overrides

__all__ = ["METRICS", "SweepRow", "read_sweep", "summarize_sweep", "sweep_table", "varying_keys"]

# metrics.json key -> column title, in table order
METRICS: dict[str, str] = {
    "test/video_hit@1": "video Hit@1",
    "test/video_hit@5": "video Hit@5",
    "test/clip_hit@1": "clip Hit@1",
    "train/clips_per_s": "train clips/s",
    "time/run_s": "wall time",
    "val/best_epoch": "best epoch",
}
FAILED_LINE = re.compile(r"run failed:\s*(.*)$")
ERROR_LINE = re.compile(r"^\w*(Error|Exception)\b.*|.*\]\[ERROR\] - (.*)$")


@dataclass
class SweepRow:
    """One job of a sweep: its directory, overrides, and metrics or why it failed."""

    job: str
    path: Path
    overrides: dict[str, str]
    metrics: dict[str, float] = field(default_factory=dict)
    reason: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.metrics) and not self.reason


def parse_overrides(lines: Sequence[str]) -> dict[str, str]:
    """``["model=single_frame", "+x=1"]`` -> ``{"model": "single_frame", "x": "1"}``."""
    out: dict[str, str] = {}
    for line in lines:
        key, _, value = str(line).partition("=")
        out[key.lstrip("+~")] = value
    return out


def failure_reason(job_dir: Path) -> str:
    """Why a job has no ``metrics.json``, from its log: the ``run failed:`` line, else the last
    error line, else that the log says nothing (killed, or still running)."""
    reason = ""
    for log in sorted(job_dir.glob("*.log")):
        for line in log.read_text(errors="replace").splitlines():
            failed = FAILED_LINE.search(line)
            if failed:
                return failed.group(1).strip()
            error = ERROR_LINE.match(line.strip())
            if error:
                reason = (error.group(2) or error.group(0)).strip()
    return reason or "no metrics.json and no error in the job's log (killed or still running)"


def _job_key(row: SweepRow) -> tuple[int, str]:
    return (int(row.job), "") if row.job.isdigit() else (1 << 30, row.job)


def read_sweep(sweep_dir: str | Path) -> list[SweepRow]:
    """Every job of ``sweep_dir`` (any depth), in job-number order."""
    sweep_dir = Path(sweep_dir)
    found = sorted(sweep_dir.glob("**/.hydra/overrides.yaml"))
    if not found:
        raise ConfigError(
            f"{sweep_dir} holds no Hydra job (no <job>/.hydra/overrides.yaml): pass the directory "
            "of a multirun, e.g. logs/train/multiruns/<date>"
        )
    rows = []
    for overrides_file in found:
        job_dir = overrides_file.parent.parent
        overrides = parse_overrides(run_overrides(job_dir))
        row = SweepRow(str(job_dir.relative_to(sweep_dir)), job_dir, overrides)
        metrics_file = job_dir / "metrics.json"
        if metrics_file.is_file():
            try:
                row.metrics = {k: float(v) for k, v in json.loads(metrics_file.read_text()).items()}
            except (ValueError, TypeError) as err:
                row.reason = f"unreadable metrics.json: {err}"
        else:
            row.reason = failure_reason(job_dir)
        rows.append(row)
    return sorted(rows, key=_job_key)


def varying_keys(rows: Sequence[SweepRow]) -> list[str]:
    """The override keys whose value differs between jobs (or that some jobs lack)."""
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row.overrides if k not in keys]
    return [k for k in keys if len({row.overrides.get(k) for row in rows}) > 1]


def _cell(key: str, value: float | None) -> str:
    if value is None:
        return ""
    if key.startswith("test/"):
        return f"{100 * value:.1f}"
    if key == "time/run_s":
        minutes, seconds = divmod(round(value), 60)
        return f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"
    if key == "val/best_epoch":
        return str(int(value))
    return f"{value:.1f}"


def sweep_table(
    rows: Sequence[SweepRow],
) -> tuple[list[str], list[list[str]], list[str], list[list[str]]]:
    """``(header, markdown cells, csv header, csv cells)``: job, varying overrides, status, the
    metrics (markdown: titled, Hit@k in %; CSV: metrics.json keys and values), failure reason."""
    keys = varying_keys(rows)
    header = ["job", *keys, "status", *METRICS.values(), "reason"]
    csv_header = ["job", *keys, "status", *METRICS, "reason"]
    cells, raw = [], []
    for row in rows:
        status = "ok" if row.ok else "failed"
        values = [row.metrics.get(k) for k in METRICS]
        front = [row.job, *[row.overrides.get(k, "") for k in keys], status]
        cells.append([*front, *[_cell(k, v) for k, v in zip(METRICS, values, strict=True)]])
        cells[-1].append(row.reason)
        raw.append([*front, *["" if v is None else f"{v:.6g}" for v in values], row.reason])
    return header, cells, csv_header, raw


def markdown(header: Sequence[str], cells: Sequence[Sequence[str]]) -> str:
    def line(values: Sequence[str]) -> str:
        return "| " + " | ".join(str(v).replace("|", "\\|") for v in values) + " |"

    numeric = set(METRICS.values())
    rule = ["---:" if h in numeric else "---" for h in header]
    return "\n".join([line(header), line(rule), *(line(c) for c in cells)]) + "\n"


def summarize_sweep(sweep_dir: str | Path) -> tuple[str, Path, Path]:
    """Read ``sweep_dir``, write ``summary.md`` and ``summary.csv`` into it; return the markdown
    table and both paths."""
    sweep_dir = Path(sweep_dir)
    rows = read_sweep(sweep_dir)
    header, cells, csv_header, raw = sweep_table(rows)
    failed = sum(not row.ok for row in rows)
    table = markdown(header, cells)
    text = f"# Sweep {sweep_dir}\n\n{len(rows)} runs, {failed} failed.\n\n{table}"
    md_path, csv_path = sweep_dir / "summary.md", sweep_dir / "summary.csv"
    md_path.write_text(text)
    with csv_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(csv_header)
        writer.writerows(raw)
    return table, md_path, csv_path
