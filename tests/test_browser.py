"""The HTML report in a real browser: Debian's chromium (the project's setup installs it), driven by
playwright-python with that executable; playwright's own browser downloads are never used."""
import json
import os
import shutil
from pathlib import Path

import pytest

from harness.checks import registry
from harness.files import write_atomic
from harness.report import html as report
from harness.report.results import merge

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("HARNESS_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: the nox `tests` session installs Debian's chromium (apt-get install chromium)")
        pytest.skip(f"no chromium at {CHROMIUM}")
    pw = playwright.sync_playwright().start()
    b = pw.chromium.launch(executable_path=CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium"), args=ARGS)
    yield b
    b.close()
    pw.stop()


def _open(browser, path: Path):
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    problems, requests = [], []
    page.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("load")
    return page, problems, requests


def _visible(page, selector: str) -> list[dict]:
    return page.eval_on_selector_all(selector, "els => els.filter(e => e.offsetParent !== null).map(e => ({...e.dataset}))")


def test_loads_with_no_console_errors_and_no_network(browser, conformance_report):
    page, problems, requests = _open(browser, conformance_report / "index.html")
    assert not problems, problems
    assert all(u.startswith(("file:", "data:")) for u in requests), [u for u in requests if not u.startswith(("file:", "data:"))]
    assert page.locator("math.formula").count() > 0 and page.locator(".plot svg").count() > 0
    assert page.locator("table.diff").count() == len(json.loads((conformance_report / "report.json").read_text())["apis"])
    ROOT.joinpath("reports").mkdir(exist_ok=True)
    page.screenshot(path=str(ROOT / "reports" / "screenshot.png"))
    page.locator("#findings").scroll_into_view_if_needed()
    page.locator("article.finding").first.screenshot(path=str(ROOT / "reports" / "screenshot-finding.png"))
    assert (ROOT / "reports" / "screenshot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page.close()


def test_filters_change_what_is_shown(browser, conformance_report):
    page, problems, _ = _open(browser, conformance_report / "index.html")
    everything = _visible(page, "article.finding")
    assert len(everything) == len(json.loads((conformance_report / "report.json").read_text())["findings"])
    page.select_option("#f-framework", "paddle")
    shown = _visible(page, "article.finding")
    assert 0 < len(shown) < len(everything) and {f["framework"] for f in shown} == {"paddle"}
    assert {r["framework"] for r in _visible(page, "#matrix tr.target")} == {"paddle"}
    assert page.inner_text("#f-count").startswith(f"{len(shown)} of {len(everything)}")
    page.select_option("#f-doc", "no")
    assert {(f["framework"], f["doc"]) for f in _visible(page, "article.finding")} <= {("paddle", "no")}
    page.select_option("#f-framework", "")
    page.select_option("#f-doc", "")
    page.select_option("#f-check", "values")
    assert {f["check"] for f in _visible(page, "article.finding")} == {"values"}
    assert page.locator("#matrix td.col-raises").first.is_hidden() and page.locator("#matrix td.col-values").first.is_visible()
    page.select_option("#f-check", "")
    page.select_option("#f-api", "smooth_l1_loss")
    assert {f["api"] for f in _visible(page, "article.finding")} == {"smooth_l1_loss"}
    assert page.locator("#api-cross_entropy").is_hidden() and page.locator("#api-smooth_l1_loss").is_visible()
    assert not problems, problems
    page.close()


def test_every_finding_has_its_reproducer(browser, conformance_report):
    page, _, _ = _open(browser, conformance_report / "index.html")
    articles = page.locator("article.finding")
    assert articles.count() > 0
    for i in range(articles.count()):
        a = articles.nth(i)
        fid = a.get_attribute("id")
        check = registry.get(a.get_attribute("data-check"))
        if check.reproducer == "none":  # gradients, precision growth: the page says why there is no script
            assert check.no_script in a.locator(".repro").text_content(), fid
            continue
        link = a.locator(".repro-h a").first
        assert link.get_attribute("href") == f"repro/{fid}.py", fid
        script = (conformance_report / "repro" / f"{fid}.py").read_text()
        assert a.locator("pre.code").text_content() == script, fid
        assert a.locator("button.copy").count() == 1
    page.close()


def test_copy_button_copies_the_script(browser, conformance_report):
    page, problems, _ = _open(browser, conformance_report / "index.html")
    page.evaluate("""() => { window.__copied = null;
        const fake = {writeText: t => { window.__copied = t; return Promise.resolve(); }};
        Object.defineProperty(navigator, 'clipboard', {value: fake, configurable: true});
        Object.defineProperty(window, 'isSecureContext', {value: true, configurable: true}); }""")
    first = page.locator("article.finding:has(button.copy)").first  # gradient findings have no script
    first.locator("button.copy").click()
    page.wait_for_function("() => window.__copied !== null")
    assert page.evaluate("window.__copied") == first.locator("pre.code").text_content()
    assert first.locator("button.copy").inner_text() == "copied"
    assert not problems, problems


def test_printing_hides_the_controls_and_opens_the_scripts(browser, conformance_report):
    page, _, _ = _open(browser, conformance_report / "index.html")
    page.emulate_media(media="print")
    assert page.eval_on_selector("#filters", "e => getComputedStyle(e).display") == "none"
    pdf = page.pdf()  # headless chromium prints; every script is opened for paper
    assert pdf[:4] == b"%PDF" and len(pdf) > 50_000
    assert page.evaluate("[...document.querySelectorAll('details')].every(d => d.open)")
    page.close()


HOSTILE = '<script>document.title="pwned"</script><img src=x onerror="document.title=\'pwned\'">'


def test_everything_from_a_framework_is_escaped(browser, tmp_path):
    finding = {"id": "0123456789ab", "api": "x_loss", "framework": "torch", "target": "torch.x", "kind": "function",
               "check": "values", "verdict": "unexpected-error", "peer_verdict": "unexpected-error",
               "doc_verdict": "unexpected-error", "documented": False, "source": "javascript:alert(1)", "why": HOSTILE,
               "region": {"values": [HOSTILE]}, "count": 1, "shrunk": False,
               "case": {"params": {"p": HOSTILE}, "inputs": {}, "note": HOSTILE, "origin": "generated"},
               "expected": {"value": {"dtype": "float64", "shape": [], "values": 1.0}},
               "actual": {"error": HOSTILE, "message": HOSTILE}, "message": HOSTILE, "metrics": {},
               "spec": {"file": "specs/x.yaml", "line": 3}}
    write_atomic(tmp_path / "main.json", json.dumps({"meta": {}, "frameworks": {"torch": HOSTILE}, "spec_errors": [],
        "targets": [{"api": "x_loss", "title": HOSTILE, "framework": "torch", "target": "torch.x", "kind": "function",
                     "counts": {"values": {"unexpected-error": 1}}, "calls": 1, "seconds": 0.1, "error": None,
                     "spec": "specs/x.yaml", "findings": [finding]}]}))
    merged = merge([tmp_path / "main.json"], {"seed": 1, "max_examples": 5, "seconds": 1.0, "command": HOSTILE})
    report.write_html(merged, tmp_path / "index.html")
    page, problems, requests = _open(browser, tmp_path / "index.html")
    assert page.title() != "pwned" and "pwned" not in page.title()
    assert HOSTILE in page.inner_text("[id='0123456789ab']"), "the text is shown as text"
    assert not [u for u in requests if u.endswith("/x")], "no element was created from framework text"
    assert page.locator("a[href^='javascript:']").count() == 0, "only http(s) sources become links"
    assert not problems, problems
    page.close()
