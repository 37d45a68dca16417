"""The HTML report and the documentation site, opened in a real (headless) Chromium.

Both are served from a local HTTP server and every page is checked as a reader would meet
it: every image decodes, every in-page anchor and every link within the site resolves
(links to other sites are only checked for form: no network here), the console shows no
error, no request fails, and nothing overflows horizontally on a 390 px wide phone screen.

Chromium comes from the Debian packages (``apt-get install chromium``, which ``.ci/run``
does) or from ``SPIKEWAVE_CHROMIUM``; where neither playwright nor a Chromium is
installed, the test is skipped with the reason.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import threading
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urldefrag, urlparse

import pytest

from spikewave.experiments import REPRODUCTIONS, RunContext
from spikewave.experiments.registry import KnownPartial, Metric, Result, below
from spikewave.plot import new_figure, save_figure
from spikewave.report import write_html_report

REPO = Path(__file__).resolve().parents[2]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def chromium_path() -> str | None:
    """The Chromium to drive: ``SPIKEWAVE_CHROMIUM``, Debian's, or one unpacked into
    ``.cache/chromium`` by ``dpkg -x``."""
    candidates = [os.environ.get("SPIKEWAVE_CHROMIUM"), shutil.which("chromium"),
                  shutil.which("chromium-browser"),
                  str(REPO / ".cache" / "chromium" / "usr" / "lib" / "chromium" / "chromium")]
    return next((c for c in candidates if c and Path(c).is_file()), None)


def _unavailable(reason: str) -> None:
    """Skip where the browser cannot be had; in CI (``CI`` set) that is a failure."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the browser test: see .ci/run)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright import sync_api
    except ImportError:
        _unavailable("playwright is not installed (it is in the dev extra)")
    exe = chromium_path()
    if exe is None:
        _unavailable("no Chromium found: apt-get install chromium, or set SPIKEWAVE_CHROMIUM")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, headless=True,
                               args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # no request log on the test's output
        pass


@pytest.fixture
def serve():
    servers = []

    def start(folder: Path) -> str:
        handler = functools.partial(_Quiet, directory=str(folder))
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def check_page(browser, url: str, viewports=(PHONE, DESKTOP)) -> tuple[list[str], list[str]]:
    """Open ``url`` at each width; returns (problems, links on the page)."""
    problems, links = [], []
    for viewport in viewports:
        page = browser.new_page(viewport=viewport)
        errors: list[str] = []
        page.on("console", lambda m, e=errors: e.append(f"console {m.type}: {m.text}")
                if m.type == "error" else None)
        page.on("pageerror", lambda exc, e=errors: e.append(f"page error: {exc}"))
        page.on("requestfailed", lambda r, e=errors: e.append(f"request failed: {r.url}"))
        page.on("response", lambda r, e=errors: e.append(f"HTTP {r.status}: {r.url}")
                if r.status >= 400 else None)
        response = page.goto(url, wait_until="load")
        if response is None or response.status != 200:
            problems.append(f"{url}: HTTP {response.status if response else '?'}")
            page.close()
            continue
        page.wait_for_timeout(100)
        problems += [f"{url} ({viewport['width']} px): {e}" for e in errors]
        broken = page.evaluate("""() => [...document.images]
            .filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.currentSrc || i.src)""")
        problems += [f"{url}: image does not decode: {src[:80]}" for src in broken]
        missing = page.evaluate("""() => [...document.querySelectorAll('a[href^="#"]')]
            .map(a => decodeURIComponent(a.getAttribute('href').slice(1)))
            .filter(id => id && !document.getElementById(id)
                    && !document.getElementsByName(id).length)""")
        problems += [f"{url}: anchor #{a} has no target" for a in missing]
        if viewport is PHONE:
            width = page.evaluate("() => [document.documentElement.scrollWidth, "
                                  "window.innerWidth]")
            if width[0] > width[1] + 1:
                problems.append(f"{url}: horizontal overflow at 390 px ({width[0]} px wide)")
            links = page.evaluate("() => [...document.querySelectorAll('a[href]')]"
                                  ".map(a => a.href)")
        page.close()
    return problems, links


def check_links(links: set[str], base: str) -> list[str]:
    """Same-site links must load (and their #fragment exist); others must be well formed."""
    problems, pages = [], {}
    for link in sorted(links):
        url, fragment = urldefrag(link)
        if not url.startswith(base):
            parsed = urlparse(url)
            if parsed.scheme not in ("http", "https", "mailto") or (
                    parsed.scheme != "mailto" and not parsed.netloc):
                problems.append(f"malformed external link {link}")
            continue
        if url not in pages:
            try:
                with urllib.request.urlopen(url, timeout=10) as resp:
                    pages[url] = resp.read().decode("utf-8", "replace")
            except OSError as exc:
                problems.append(f"broken link {link}: {exc}")
                pages[url] = None
                continue
        html = pages[url]
        if fragment and html is not None and url.endswith("/") and not re.search(
                rf'id="{re.escape(fragment)}"', html):
            problems.append(f"link {link}: no #{fragment} on the target page")
    return problems


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    """A report of real quick runs of three reproductions and one known-partial result."""
    out = tmp_path_factory.mktemp("report")
    results = [REPRODUCTIONS[name].execute(RunContext(quick=True, out_dir=out / name,
                                                      progress=False))
               for name in ("coincidence", "adaptive", "stdp-window")]
    fig, ax = new_figure()
    ax.plot([0, 1, 2], [3, 1, 2])
    png = save_figure(fig, out / "partial" / "curve.png",
                      caption="A measured curve, in mV against ms.")
    partial = Result("partial-demo", "A result that falls short as documented",
                     [Metric("reached", 0.8, 1.0, "= 1", False, "mV"),
                      below("error_ms", 1e-3, 1e-2, unit="ms", reference=0.0)],
                     [png], config={"neurons": 3, "note": "x" * 300})
    partial.known_partial = KnownPartial(("reached",), "The reason, stated.",
                                         "80 % of the way.")
    partial.command = "spikewave reproduce partial-demo --seed 0 " + "--option value " * 12
    write_html_report([*results, partial], out, quick=True)
    return out


def test_report_in_a_browser(browser, serve, report_dir):
    base = serve(report_dir)
    problems, links = check_page(browser, base + "index.html")
    problems += check_links(set(links), base)
    assert not problems, "\n".join(problems)
    html = (report_dir / "index.html").read_text()
    assert html.count("<img") == 4 and "known partial" in html


SAMPLE = ("index.html", "tutorials/04_stdp_patterns/index.html",
          "results/masquelier2009/index.html", "results/index.html", "performance/index.html",
          "references/index.html", "api/neurons/index.html", "changelog/index.html")


def _check_site(browser, serve, site: Path, pages: list[str]) -> list[str]:
    base = serve(site)
    problems, links = [], set()
    for i, rel in enumerate(pages):  # every page on a phone, the home page on a desktop too
        page_problems, page_links = check_page(browser, base + rel,
                                               (PHONE, DESKTOP) if i == 0 else (PHONE,))
        problems += page_problems
        links.update(page_links)
    return problems + check_links(links, base)


def test_documentation_site_in_a_browser(browser, serve, built_site):
    """A sample of every kind of page, and every link on them (the whole site: slow)."""
    problems = _check_site(browser, serve, built_site, list(SAMPLE))
    assert not problems, "\n".join(problems[:40])


@pytest.mark.slow
def test_every_page_of_the_site_in_a_browser(browser, serve, built_site):
    pages = sorted((p.relative_to(built_site).as_posix() for p in built_site.rglob("index.html")
                    if "assets" not in p.parts), key=lambda rel: (rel != "index.html", rel))
    assert len(pages) >= 30
    problems = _check_site(browser, serve, built_site, pages)
    assert not problems, "\n".join(problems[:40])


def test_the_checks_catch_a_broken_page(browser, serve, tmp_path):
    (tmp_path / "index.html").write_text(
        '<!doctype html><html><head><meta name="viewport" content="width=device-width">'
        '</head><body><div style="width:900px">wide</div><img src="missing.png" alt="x">'
        '<a href="#nowhere">x</a><a href="gone.html">y</a>'
        "<script>console.error('boom')</script></body></html>")
    base = serve(tmp_path)
    problems, links = check_page(browser, base + "index.html")
    problems += check_links(set(links), base)
    text = "\n".join(problems)
    for needle in ("overflow", "does not decode", "#nowhere", "boom", "gone.html",
                   "HTTP 404"):
        assert needle in text, needle
