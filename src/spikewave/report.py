"""Reporting of reproduction results: a text table for the terminal and an HTML page.

The HTML page (``index.html``) stands alone: every figure is embedded inline as a PNG
data URI, so the file can be moved or mailed without its folder. For each reproduction it
gives the status (pass, known partial, fail), the version, seed, configuration and the
command that runs it again, and each figure with its caption (stored in the PNG by
:func:`spikewave.plot.save_figure`) as caption and alt text. It is laid out for screens
down to 390 px wide: wide tables and code scroll inside their own box.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from spikewave import __version__
from spikewave._io import atomic_write_text
from spikewave.experiments.registry import Metric, Result

DOCS_URL = "https://spikewave.readthedocs.io/en/latest/"
"""Where the documentation site is published; results pages are ``results/NAME/`` below."""

STATUS_LABELS = {"pass": "pass", "partial": "known partial", "fail": "FAIL"}


def results_page_url(name: str) -> str:
    """The documentation page of a reproduction's full results."""
    return f"{DOCS_URL}results/{name}/"


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


def _with_unit(text: str, unit: str) -> str:
    return f"{text} {unit}" if unit and text != "-" else text


def format_reference(m: Metric) -> str:
    """The reference column: the bound for an upper-bound check, else the reference value,
    with the metric's unit."""
    if m.bound is not None:
        return _with_unit(f"< {format_value(m.bound)}", m.unit)
    return _with_unit(format_value(m.reference), m.unit)


def metric_status(m: Metric, result: Result) -> str:
    """``-`` (reported only), ``pass``, ``known`` (a declared shortfall) or ``FAIL``."""
    if m.passed is None:
        return "-"
    if m.passed:
        return "pass"
    if result.status == "partial":
        return "known"
    return "FAIL"


def summary_line(results: Sequence[Result]) -> str:
    """``N/M reproductions pass`` with the known-partial and failed ones named."""
    by = {s: [r.name for r in results if r.status == s] for s in ("pass", "partial", "fail")}
    line = f"{len(by['pass'])}/{len(results)} reproductions pass"
    if by["partial"]:
        line += f"; known partial: {', '.join(by['partial'])}"
    if by["fail"]:
        line += f"; FAILED: {', '.join(by['fail'])}"
    return line


def format_table(results: Sequence[Result]) -> str:
    """A plain-text table: one row per metric, measured beside reference."""
    header = ("reproduction", "metric", "measured", "reference", "criterion", "status")
    rows = [header]
    for r in results:
        for m in r.metrics:
            rows.append((r.name, m.key, _with_unit(format_value(m.value), m.unit),
                         format_reference(m), m.criterion, metric_status(m, r)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    for r in results:
        if r.status == "partial" and r.known_partial is not None:
            lines.append(f"{r.name}: known partial -- {r.known_partial.reason} Reached: "
                         f"{r.known_partial.reached} ({results_page_url(r.name)})")
    lines.append(f"{summary_line(results)}; wall time {sum(r.wall_s for r in results):.1f} s")
    return "\n".join(lines)


def _figure(path: Path, name: str, number: int) -> str:
    from spikewave.plot import figure_caption

    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    caption = figure_caption(path) or f"Figure {number} of {name}"
    esc = html.escape
    return (f'<figure><img alt="{esc(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>Figure {number}. {esc(caption)} <span class=\"file\">"
            f"({esc(Path(path).name)})</span></figcaption></figure>")


def _badge(status: str) -> str:
    return f'<span class="badge {status}">{STATUS_LABELS[status]}</span>'


def _section(r: Result) -> str:
    esc = html.escape
    figs = "\n".join(_figure(p, r.name, i + 1)
                     for i, p in enumerate(q for q in r.figures if Path(q).exists()))
    note = ""
    if r.status == "partial" and r.known_partial is not None:
        kp = r.known_partial
        note = (f'<p class="note"><strong>Known partial result.</strong> {esc(kp.reason)} '
                f"<strong>Reached:</strong> {esc(kp.reached)} "
                f'<a href="{esc(results_page_url(r.name))}">Full results and the runs '
                "behind this</a>.</p>")
    elif r.status == "fail":
        note = ('<p class="note fail"><strong>Failed checks:</strong> '
                f"{esc(', '.join(r.failed_checks))}.</p>")
    config = json.dumps(r.config, indent=1, default=str, sort_keys=True)
    seed = "-" if r.seed is None else str(r.seed)
    return f"""<section id="{esc(r.name)}">
<h2>{esc(r.name)}: {esc(r.title)} {_badge(r.status)}</h2>
{note}
<dl class="meta">
<dt>command</dt><dd><code>{esc(r.command or 'spikewave reproduce ' + r.name)}</code></dd>
<dt>spikewave</dt><dd>{esc(__version__)}</dd>
<dt>seed</dt><dd>{esc(seed)}</dd>
<dt>run</dt><dd>{'quick' if r.quick else 'full'}, wall time {r.wall_s:.1f} s</dd>
</dl>
<details><summary>configuration</summary><pre>{esc(config)}</pre></details>
{figs}
</section>"""


_CSS = """
*, *::before, *::after { box-sizing: border-box; }
body { font-family: system-ui, sans-serif; margin: 0 auto; padding: 1em; max-width: 1100px;
       line-height: 1.4; overflow-wrap: anywhere; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; font-size: 0.9em; min-width: 700px; }
td, th { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top;
         overflow-wrap: normal; }
td code, .badge { white-space: nowrap; }
th { background: #f3f3f3; }
.pass { color: #17702a; } .fail { color: #b00020; } .known, .partial { color: #8a5a00; }
.badge { font-size: 0.7em; padding: 1px 6px; border-radius: 4px; border: 1px solid; }
.note { background: #fff7e0; border-left: 4px solid #e0a800; padding: 0.5em 0.8em; }
.note.fail { background: #fde8ec; border-color: #b00020; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 1em; }
dl.meta dt { color: #555; } dl.meta dd { margin: 0; min-width: 0; }
pre { overflow-x: auto; background: #f6f6f6; padding: 0.5em; font-size: 0.8em; }
code { overflow-wrap: anywhere; }
figure { display: inline-block; margin: 0.5em 0; max-width: 100%; }
img { max-width: 100%; height: auto; }
figcaption { font-size: 0.85em; color: #444; max-width: 60em; }
figcaption .file { color: #888; }
"""


def render_html(results: Sequence[Result], quick: bool) -> str:
    """The report page: a summary table of every metric, then each reproduction's
    status, provenance and figures."""
    esc = html.escape
    rows = []
    for r in results:
        for i, m in enumerate(r.metrics):
            name = (f'<td rowspan="{len(r.metrics)}"><a href="#{esc(r.name)}">{esc(r.name)}'
                    f"</a><br>{_badge(r.status)}</td>") if i == 0 else ""
            status = metric_status(m, r)
            cls = {"pass": "pass", "FAIL": "fail", "known": "known"}.get(status, "")
            rows.append(f"<tr>{name}<td><code>{esc(m.key)}</code></td>"
                        f"<td>{esc(_with_unit(format_value(m.value), m.unit))}</td>"
                        f"<td>{esc(format_reference(m))}</td><td>{esc(m.criterion)}</td>"
                        f'<td class="{cls}">{status}</td></tr>')
    sections = "\n".join(_section(r) for r in results)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    mode = "quick" if quick else "full"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>spikewave reproductions</title>
<link rel="icon" href="data:,">
<style>{_CSS}</style></head><body>
<h1>spikewave {esc(__version__)}: reproductions ({mode})</h1>
<p>{esc(summary_line(results))}. Generated {stamp} by
<code>spikewave reproduce all{' --quick' if quick else ''}</code>.
A <em>known partial</em> result is a documented shortfall against the paper: its module
declares which checks fall short, why, and what is reached instead.</p>
<div class="scroll"><table><tr><th>reproduction</th><th>metric</th><th>measured</th>
<th>reference</th><th>criterion</th><th>check</th></tr>
{chr(10).join(rows)}
</table></div>
{sections}
</body></html>
"""


def write_html_report(results: Sequence[Result], out_dir: Path, quick: bool) -> Path:
    """Write ``out_dir/index.html`` atomically; returns its path."""
    return atomic_write_text(Path(out_dir) / "index.html", render_html(results, quick))
