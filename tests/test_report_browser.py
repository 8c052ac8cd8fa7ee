"""The HTML report as a reader sees it: rendered by headless Chromium, the scoreboard and the security
findings first, and a finding's link opening the exchange it names.

Debian's ``chromium`` is needed (``apt-get install -y chromium``); without it the tests are skipped
as infrastructure. The same code takes a screenshot of any runs' report::

    python3 tests/test_report_browser.py /tmp/real-runs/three --png /tmp/report-real.png
"""

from __future__ import annotations

import argparse
import re
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import pytest

if __name__ == "__main__":  # run as a script: this suite's package, not one installed elsewhere
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mm_conformance.outcomes import report, runs
from mm_conformance.outcomes.results import ScenarioResult

CHROMIUM = Path("/usr/bin/chromium")
WINDOW = (1400, 1800)
SECURITY_RED = (0xB3, 0x26, 0x1E)  # --security in the report's CSS: the security group's border and marker

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"infrastructure: Chromium is not installed ({CHROMIUM}; apt-get install -y chromium)")


def chromium(url: str, *args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    """Headless Chromium on one page, offline and without a trace of its own (a fresh profile)."""
    command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-extensions", f"--user-data-dir={profile}", *args, url]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def screenshot(page: Path, png: Path, window: tuple[int, int] = WINDOW) -> Path:
    with tempfile.TemporaryDirectory(prefix="mm-conformance-chromium-") as profile:
        done = chromium(page.resolve().as_uri(), f"--screenshot={png}", f"--window-size={window[0]},{window[1]}",
                        "--hide-scrollbars", profile=Path(profile))
    assert png.exists(), f"Chromium wrote no screenshot (exit {done.returncode}): {done.stderr[-2000:]}"
    return png


def rendered_dom(url: str) -> str:
    """The page's DOM after Chromium loaded it (and followed its fragment)."""
    with tempfile.TemporaryDirectory(prefix="mm-conformance-chromium-") as profile:
        done = chromium(url, "--virtual-time-budget=3000", "--dump-dom", profile=Path(profile))
    assert done.returncode == 0 and "<body" in done.stdout, done.stderr[-2000:]
    return done.stdout


def png_pixels(png: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and RGB rows of an 8-bit RGB or RGBA PNG (what Chromium writes), without a library."""
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{png} is not a PNG"
    offset, chunks, header = 8, [], None
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        body = data[offset + 8:offset + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        offset += 12 + length
    assert header is not None
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, f"unexpected PNG layout {header}"
    channels = 3 if colour == 2 else 4
    raw, stride, rows, previous = zlib.decompress(b"".join(chunks)), width * channels, [], bytearray(width * channels)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        rows.append(bytes(line) if channels == 3 else bytes(b for j, b in enumerate(line) if j % 4 != 3))
        previous = line
    return width, height, rows


def synthetic_runs(directory: Path) -> list[Path]:
    """The reference and a defective credential on two servers: one finding of each severity, a skip, an error."""
    def scenario(name, verdict, server, title, docs="using-api-access-token:6", **extra):
        return ScenarioResult(f"steps/test_scenarios.py::{name}[mm{server}]", f"{name}[mm{server}]", verdict, docs,
                              server=server, title=title, **extra)

    plan = [
        ("test_redirect", "A redirect does not carry the token to another host", "fail", dict(
            severity="security", status=200, reason="the token followed the redirect to another host",
            observations=["GET users/me -> 200 ok"])),
        ("test_web_page", "A Base URL with a path the server does not serve does not appear to work", "fail", dict(
            severity="false-success", status=200,
            reason="the request appeared to work although Mattermost's web app answered, not its API")),
        ("test_slashes", "The site URL is accepted however it ends (with two trailing slashes)", "fail", dict(
            severity="broken", status=404, error_kind="http", reason="expected success with status 200")),
        ("test_pasted", "A Base URL pasted with /api/v4 is refused or used correctly", "warn", dict(
            status=404, error_kind="http", warnings=["the Base URL SHOULD be refused as a config error"])),
        ("test_expiry", "An expiring token is refused after it expires", "skip", dict(
            reason="this Mattermost has no personal access token expiry")),
        ("test_made_up", "A made-up token is refused", "pass", dict(status=401, error_kind="auth")),
    ]
    made = []
    for implementation in ("reference", "defective"):
        results = []
        for server in ("5.37.0", "11.0.3"):
            for name, title, verdict, extra in plan:
                if implementation == "reference" and verdict != "skip":
                    verdict, extra = "pass", {"status": 200}
                results.append(scenario(name, verdict, server, title, **extra))
        if implementation == "defective":
            results.append(scenario("test_hung", "error", "11.0.3", "A revoked token is refused",
                                    reason="infrastructure: the adapter did not answer within 30 s"))
        run = directory / implementation
        run.mkdir()
        runs.write(results, run, {"implementation": implementation, "suite": "0.1.0"})
        made.append(run)
    return made


@needs_chromium
def test_the_report_renders_with_the_scoreboard_and_the_security_findings_first(tmp_path):
    html, _ = report.write(synthetic_runs(tmp_path), tmp_path / "report")
    png = screenshot(html, tmp_path / "report.png")
    assert png.stat().st_size > 20_000  # a blank page of this size is a few kilobytes
    width, height, rows = png_pixels(png)
    assert (width, height) == WINDOW
    assert len(set(rows)) > 50, "the screenshot is (nearly) uniform: nothing was rendered"
    # The security group's red shows in the first screen, above the fold of a laptop.
    red = [y for y, row in enumerate(rows[:1000]) if bytes(SECURITY_RED) in _pixels(row)]
    assert red, "no security marker in the first 1000 pixels of the page"

    dom = rendered_dom(html.resolve().as_uri())
    body = dom[dom.index("<body"):]
    order = [body.index(text) for text in (">Scoreboard<", "The token goes where it must not",
                                           "A redirect does not carry the token to another host",
                                           "Success where the API never answered", "Other broken requirements",
                                           "SHOULD-level concerns", "No verdict (infrastructure)", ">Matrix<")]
    assert order == sorted(order)


def _pixels(row: bytes) -> set[bytes]:
    return {row[i:i + 3] for i in range(0, len(row), 3)}


@needs_chromium
def test_a_findings_link_opens_the_exchange_it_names(tmp_path):
    html, _ = report.write(synthetic_runs(tmp_path), tmp_path / "report")
    page = html.read_text()
    anchor = re.search(r'<a href="#(exchange-[^"]+)">5\.37\.0</a>', page).group(1)
    dom = rendered_dom(html.resolve().as_uri() + "#" + anchor)
    opened = re.findall(r'<details open="">\s*<summary>[^<]*</summary>\s*<div id="([^"]+)">', dom)
    assert opened == [anchor], "following the finding's link did not open (only) its exchange"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="render runs' report and screenshot it with headless Chromium")
    parser.add_argument("runs", type=Path, nargs="+", help="report directories (or results.json) of runs")
    parser.add_argument("--png", type=Path, required=True, help="where to write the screenshot")
    parser.add_argument("--out", type=Path, help="where to write the report (default: a temporary directory)")
    parser.add_argument("--window", default=f"{WINDOW[0]},{WINDOW[1]}", help="WIDTH,HEIGHT (default %(default)s)")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"infrastructure: Chromium is not installed ({CHROMIUM})", file=sys.stderr)
        return 2
    out = args.out or Path(tempfile.mkdtemp(prefix="mm-conformance-report-"))
    html, _ = report.write(args.runs, out)
    width, height = (int(x) for x in args.window.split(","))
    screenshot(html, args.png, (width, height))
    print(f"wrote {html} and {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
