"""Reporting of reproduction results: a text table for the terminal and an HTML page.

The HTML page (``index.html``) stands alone: every figure is embedded inline as a PNG
data URI, so the file can be moved or mailed without its folder.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from spikewave import __version__
from spikewave._io import atomic_write_text
from spikewave.experiments.registry import Metric, Result


def format_value(x: float | None) -> str:
    if x is None:
        return "-"
    if isinstance(x, bool):
        return str(x)
    if not math.isfinite(x):
        return str(x)
    if x == 0:
        return "0"
    if abs(x) < 1e-3 or abs(x) >= 1e5:
        return f"{x:.3e}"
    return f"{x:.5g}"


def _status(m: Metric) -> str:
    return "-" if m.passed is None else ("pass" if m.passed else "FAIL")


def format_table(results: Sequence[Result]) -> str:
    """A plain-text table: one row per metric, measured beside reference."""
    header = ("reproduction", "metric", "measured", "reference", "criterion", "status")
    rows = [header]
    for r in results:
        for m in r.metrics:
            unit = f" {m.unit}" if m.unit else ""
            rows.append((r.name, m.key, format_value(m.value) + unit,
                         format_value(m.reference), m.criterion, _status(m)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    n_pass = sum(r.passed for r in results)
    lines.append("")
    lines.append(f"{n_pass}/{len(results)} reproductions pass; "
                 f"wall time {sum(r.wall_s for r in results):.1f} s")
    return "\n".join(lines)


def _img(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    alt = html.escape(Path(path).name)
    return f'<figure><img alt="{alt}" src="data:image/png;base64,{data}"><figcaption>{alt}' \
           "</figcaption></figure>"


def render_html(results: Sequence[Result], quick: bool) -> str:
    """The report page: a summary table of every metric, then each reproduction's figures."""
    esc = html.escape
    rows = []
    for r in results:
        for i, m in enumerate(r.metrics):
            name = (f'<td rowspan="{len(r.metrics)}"><a href="#{esc(r.name)}">{esc(r.name)}'
                    "</a></td>") if i == 0 else ""
            cls = {"pass": "pass", "FAIL": "fail"}.get(_status(m), "")
            unit = f" {esc(m.unit)}" if m.unit else ""
            rows.append(f"<tr>{name}<td><code>{esc(m.key)}</code></td>"
                        f"<td>{esc(format_value(m.value))}{unit}</td>"
                        f"<td>{esc(format_value(m.reference))}</td><td>{esc(m.criterion)}</td>"
                        f'<td class="{cls}">{_status(m)}</td></tr>')
    sections = []
    for r in results:
        figs = "\n".join(_img(p) for p in r.figures if Path(p).exists())
        verdict = "pass" if r.passed else "FAIL"
        sections.append(f'<section id="{esc(r.name)}"><h2>{esc(r.name)}: {esc(r.title)} '
                        f'<span class="{verdict.lower()}">{verdict}</span></h2>'
                        f"<p>wall time {r.wall_s:.1f} s</p>{figs}</section>")
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    n_pass = sum(r.passed for r in results)
    mode = "quick" if quick else "full"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>spikewave reproductions</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 4px 8px; }}
th {{ background: #f3f3f3; }} .pass {{ color: #17702a; }} .fail {{ color: #b00020; }}
figure {{ display: inline-block; margin: 0.5em; }} img {{ max-width: 100%; }}
figcaption {{ font-size: 0.8em; color: #666; }}
</style></head><body>
<h1>spikewave {esc(__version__)}: reproductions ({mode})</h1>
<p>{n_pass}/{len(results)} reproductions pass. Generated {stamp} by
<code>spikewave reproduce all{' --quick' if quick else ''}</code>.</p>
<table><tr><th>reproduction</th><th>metric</th><th>measured</th><th>reference</th>
<th>criterion</th><th>status</th></tr>
{chr(10).join(rows)}
</table>
{chr(10).join(sections)}
</body></html>
"""


def write_html_report(results: Sequence[Result], out_dir: Path, quick: bool) -> Path:
    """Write ``out_dir/index.html`` atomically; returns its path."""
    return atomic_write_text(Path(out_dir) / "index.html", render_html(results, quick))
