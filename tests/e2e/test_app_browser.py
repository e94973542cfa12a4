"""The app in a real headless Chromium: every page loads cleanly, bad input gets a message,
and the what-if and design -> validate -> deploy flows show their results."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import SCREENSHOTS

PAGES = {
    "/": "Scenario",
    "/whatif": "What-if",
    "/power": "Power trajectories",
    "/sinr": "SINR map",
    "/designs": "Designs",
}
WAIT_S = 60
GENERATOR_LABELS = {  # the Designs page's generator dropdown (ui.services.GENERATORS)
    "auto": "auto: the best method for the size within 1 s + baselines",
    "diffusion": "diffusion planner + baselines",
    "baselines": "baselines: coordinate, WMMSE, best responses, FPC, max, random",
}


def wait_for(what: str, predicate: Callable[[], object], timeout_s: float = WAIT_S):
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # the element may be re-rendered while we look
            last_error = exc
        time.sleep(0.25)
    pytest.fail(f"timed out after {timeout_s} s waiting for {what} (last error: {last_error})")


def by_id(driver, id_: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, id_)


def text_of(driver, id_: str) -> str:
    return by_id(driver, id_).text


def console_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def open_page(driver, url: str, path: str) -> None:
    driver.get(url + path)
    wait_for(f"page {path}", lambda: by_id(driver, f"page-{_key(path)}").is_displayed())
    wait_for("the app to settle", lambda: not driver.find_elements(
        "css selector", "._dash-loading-callback"), timeout_s=30)  # fmt: skip


def _key(path: str) -> str:
    return {"/": "scenario", "/whatif": "whatif", "/power": "power", "/sinr": "sinr",
            "/designs": "designs"}[path]  # fmt: skip


def graph_traces(driver, id_: str) -> int:
    return len(driver.find_elements("css selector", f"#{id_} .main-svg .trace"))


def screenshot(driver, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def retype(driver, id_: str, text: str) -> None:
    """Replace a field's text as a user does (select all, type): React sees every key
    (``clear()`` empties the element behind React's back)."""
    from selenium.webdriver.common.keys import Keys

    field = by_id(driver, id_)
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(Keys.BACKSPACE)
    field.send_keys(text)


def click(driver, id_: str) -> None:
    wait_for(f"#{id_} to be enabled", lambda: by_id(driver, id_).is_enabled())
    by_id(driver, id_).click()


def pick(driver, dropdown_id: str, label: str) -> None:
    """Open a dropdown, type ``label`` into its search box, click the option so named."""
    click(driver, dropdown_id)
    search = driver.find_elements("css selector", ".dash-dropdown-content input[type=search]")
    if search:
        search[0].send_keys(label)

    def option():
        for item in driver.find_elements("css selector", ".dash-dropdown-content [role=option]"):
            if item.text.strip() == label:
                return item
        return None

    item = wait_for(f"option {label!r} of {dropdown_id}", option)
    item.click()
    if driver.find_elements("css selector", ".dash-dropdown-content"):  # still open
        from selenium.webdriver.common.keys import Keys

        driver.find_element("css selector", "body").send_keys(Keys.ESCAPE)
    wait_for(f"{dropdown_id} to close",
             lambda: not driver.find_elements("css selector", ".dash-dropdown-content"))


# --------------------------------------------------------------------------- pages
@pytest.mark.parametrize("path", list(PAGES))
def test_every_page_loads_without_console_errors(server, browser, path):
    browser.get_log("browser")  # drop what earlier tests left
    open_page(browser, server, path)
    assert PAGES[path] in browser.find_element("css selector", f"#page-{_key(path)} h2").text
    if path in ("/", "/sinr"):
        first_graph = {"/": "network-map", "/sinr": "sinr-graph-a"}[path]
        wait_for(f"{first_graph} to draw", lambda: graph_traces(browser, first_graph) > 0)
    time.sleep(1.0)
    screenshot(browser, f"page-{_key(path)}")
    assert console_errors(browser) == []
    fetched = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name);"
    )  # every script, stylesheet and font comes from this server: no CDN
    assert fetched and [u for u in fetched if not u.startswith(server + "/")] == []


def test_health_endpoint_says_ok(server):
    with urllib.request.urlopen(f"{server}/healthz", timeout=5) as response:
        assert response.status == 200
        assert b'"ok":true' in response.read().replace(b" ", b"")


# --------------------------------------------------------------------------- bad input
def test_broken_scenario_shows_line_and_field(server, browser):
    open_page(browser, server, "/")
    editor = by_id(browser, "scenario-editor")
    browser.execute_script("arguments[0].value = '';", editor)
    editor.clear()
    editor.send_keys("name: broken\nseed: 1\nusers: {count: 5}\nchanel: {}\n")
    problems = wait_for(
        "the scenario problems", lambda: "chanel" in text_of(browser, "scenario-errors")
        and text_of(browser, "scenario-errors"))  # fmt: skip
    assert "editor:4: chanel: unknown field" in problems
    assert "did you mean 'channel'" in problems
    screenshot(browser, "scenario-broken")
    assert console_errors(browser) == []


def test_a_huge_network_is_refused_on_the_map_and_the_server_lives_on(server, browser_factory):
    browser = browser_factory()  # its own session: a valid scenario becomes the session's
    open_page(browser, server, "/")
    editor = by_id(browser, "scenario-editor")
    browser.execute_script("arguments[0].value = '';", editor)
    editor.clear()
    # 100,000 users x 1,000 BSs: the map callback took the server to 4.3 GB before
    editor.send_keys("name: huge\narea: {width_m: 1000000, height_m: 1000000}\n"
                     "base_stations: {layout: random, count: 1000}\nusers: {count: 100000}\n")
    wait_for("the map's refusal", lambda: "too large to preview" in by_id(
        browser, "network-map").text)  # fmt: skip
    page = browser.find_element("css selector", "body").text
    assert "Traceback" not in page and "/tmp/" not in page
    test_health_endpoint_says_ok(server)
    assert console_errors(browser) == []


def test_yaml_tags_in_the_editor_are_located_problems(server, browser):
    open_page(browser, server, "/")
    editor = by_id(browser, "scenario-editor")
    browser.execute_script("arguments[0].value = '';", editor)
    editor.clear()
    editor.send_keys("name: tagged\nseed: !!int 3.5\n")
    problems = wait_for("the tag problem", lambda: "3.5" in text_of(browser, "scenario-errors")
                        and text_of(browser, "scenario-errors"))  # fmt: skip
    assert "editor:2: seed: '3.5' is not a valid int" in problems
    assert console_errors(browser) == []


def test_binary_upload_is_refused_with_a_message(server, browser, tmp_path):
    open_page(browser, server, "/")
    blob = tmp_path / "image.yaml"
    blob.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    upload = browser.find_element("css selector", "#scenario-upload input[type=file]")
    upload.send_keys(str(blob))
    msg = wait_for("the upload message", lambda: text_of(browser, "upload-msg"))
    assert "binary file" in msg
    assert console_errors(browser) == []


@pytest.mark.parametrize(
    ("page", "upload_id", "message_id", "limit"),
    [("/", "scenario-upload", "upload-msg", "a YAML scenario is limited to 2000000 bytes"),
     ("/designs", "ds-upload", "ds-status", "a design JSON is limited to 2000000 bytes")],
)  # fmt: skip
def test_upload_over_the_browser_limit_gets_a_message(
    server, browser, tmp_path, page, upload_id, message_id, limit
):
    open_page(browser, server, page)
    big = tmp_path / "huge.yaml"
    big.write_bytes(b"a: 1\n" * 2_000_000)  # 10 MB: the browser does not send it
    upload = browser.find_element("css selector", f"#{upload_id} input[type=file]")
    upload.send_keys(str(big))
    msg = wait_for("the too-large message", lambda: text_of(browser, message_id))
    assert msg == f"huge.yaml: 10000000 bytes; {limit} (nothing was uploaded)"
    screenshot(browser, f"upload-too-large-{upload_id}")
    assert console_errors(browser) == []


def test_upload_over_the_scenario_limit_gets_the_servers_message(server, browser, tmp_path):
    open_page(browser, server, "/")
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: 1\n" * 600_000)  # 3 MB: sent, and refused by the server
    upload = browser.find_element("css selector", "#scenario-upload input[type=file]")
    upload.send_keys(str(big))
    msg = wait_for("the server's message", lambda: text_of(browser, "upload-msg"))
    assert msg == "big.yaml: 3000000 bytes; a YAML scenario is limited to 2000000 bytes"
    assert console_errors(browser) == []


def test_design_for_another_scenario_is_refused_in_the_page(server, browser, tmp_path):
    open_page(browser, server, "/designs")  # the session's scenario is "default"
    design = tmp_path / "fig3-design.json"
    design.write_text(json.dumps({"power_mw": [28.0, 31.0], "source": "exhaustive",
                                  "provenance": {"scenario": "paper-fig3"}}))  # fmt: skip
    upload = browser.find_element("css selector", "#ds-upload input[type=file]")
    upload.send_keys(str(design))
    msg = wait_for("the refusal", lambda: "made for scenario" in text_of(browser, "ds-status")
                   and text_of(browser, "ds-status"))  # fmt: skip
    assert "made for scenario 'paper-fig3'" in msg and "'default'" in msg
    assert console_errors(browser) == []


# --------------------------------------------------------------------------- what-if
def test_whatif_run_draws_the_comparison(server, browser):
    open_page(browser, server, "/whatif")
    click(browser, "wi-run")
    status = wait_for("the run to finish", lambda: "finished" in text_of(browser, "wi-status")
                      and text_of(browser, "wi-status"))  # fmt: skip
    assert "mean utility" in status
    for graph in ("wi-kpi-graph", "wi-cdf-graph", "wi-power-graph"):
        wait_for(f"{graph} to draw", lambda g=graph: graph_traces(browser, g) > 0)
    screenshot(browser, "page-whatif-run")
    open_page(browser, server, "/power")
    wait_for("the power trajectory", lambda: graph_traces(browser, "pw-run-graph") > 0)
    screenshot(browser, "page-power-run")
    assert console_errors(browser) == []


def test_invalid_whatif_setting_is_a_message(server, browser):
    open_page(browser, server, "/whatif")
    retype(browser, "wi-users", "1000000\t")
    msg = wait_for("the error", lambda: "users.count" in text_of(browser, "wi-problems")
                   and text_of(browser, "wi-problems"))  # fmt: skip
    assert not by_id(browser, "wi-run").is_enabled()  # the run is blocked, not tried
    retype(browser, "wi-users", "\t")
    wait_for("the run to be allowed", lambda: by_id(browser, "wi-run").is_enabled())
    assert msg


def test_cancelled_run_says_so_and_the_server_lives_on(server, browser):
    open_page(browser, server, "/whatif")
    retype(browser, "wi-users", "400\t")  # a long run
    click(browser, "wi-run")
    wait_for("the job to start", lambda: by_id(browser, "wi-cancel").is_enabled())
    click(browser, "wi-cancel")
    msg = wait_for("the cancel message", lambda: "cancelled" in text_of(browser, "wi-status")
                   and text_of(browser, "wi-status"))  # fmt: skip
    assert "nothing was recorded" in msg
    wait_for("the run button to come back", lambda: by_id(browser, "wi-run").is_enabled())
    retype(browser, "wi-users", "\t")
    with urllib.request.urlopen(f"{server}/healthz", timeout=5) as response:
        assert response.status == 200


def test_two_tabs_run_jobs_at_once(server, browser_factory):
    tabs = [browser_factory(), browser_factory()]
    for tab in tabs:
        open_page(tab, server, "/whatif")
    for tab in tabs:
        click(tab, "wi-run")
    for tab in tabs:
        wait_for("both runs to finish", lambda t=tab: "finished" in text_of(t, "wi-status"))
        # each tab is its own session: it sees one run, its own
        labels = wait_for("the tab's run to be listed", lambda t=tab: t.find_elements(
            "css selector", "#wi-compare label"))  # fmt: skip
        assert len(labels) == 1
        assert console_errors(tab) == []


# --------------------------------------------------------------------------- designs
def test_generate_validate_deploy_shows_realized_kpis(server, browser):
    """With the diffusion planner (its trajectories reach the Power page)."""
    open_page(browser, server, "/designs")
    pick(browser, "ds-generator", GENERATOR_LABELS["diffusion"])
    click(browser, "ds-generate")
    wait_for("the designs", lambda: "designs (of" in text_of(browser, "ds-status")
             and "for default" in text_of(browser, "ds-status"), timeout_s=180)  # fmt: skip
    table = wait_for("the table", lambda: "reference" in text_of(browser, "ds-table")
                     and text_of(browser, "ds-table"))  # fmt: skip
    assert "coordinate" in table and "gap to reference" in table
    click(browser, "ds-validate")
    report = wait_for("the validation", lambda: "PASSED" in text_of(browser, "ds-validation")
                      and text_of(browser, "ds-validation"), timeout_s=120)  # fmt: skip
    assert "95% CI" in report
    click(browser, "ds-deploy")
    outcome = wait_for("the deployment", lambda: "deployment" in text_of(browser, "ds-deployment")
                       and text_of(browser, "ds-deployment"), timeout_s=120)  # fmt: skip
    assert "kept" in outcome and "realized utility" in outcome
    wait_for("predicted vs realized", lambda: graph_traces(browser, "ds-pvr-graph") >= 2)
    history = text_of(browser, "ds-history")
    assert "deploy" in history and "kept" in history
    screenshot(browser, "page-designs-deployed")
    open_page(browser, server, "/sinr")
    wait_for("the SINR map", lambda: graph_traces(browser, "sinr-graph-a") > 0)
    open_page(browser, server, "/power")
    wait_for("the planned path", lambda: graph_traces(browser, "pw-plan-graph") > 0)
    title = wait_for("the plan's title", lambda: " ".join(
        e.text for e in browser.find_elements("css selector", "#pw-plan-graph .gtitle")))
    if "diffusion" in title:  # the planner's own design: its generated trajectory
        assert "generated trajectory" in title, title
    screenshot(browser, "page-power-plan")
    assert console_errors(browser) == []


# --------------------------------------------------------------------------- large networks
def test_the_10000_user_network_draws_downsampled(server, browser_factory):
    """scale-10000x100 (10 000 users, 100 BSs) in its own tab: the scenario map and the SINR
    map draw a 2000-user subsample (WebGL markers) and say so."""
    tab = browser_factory()  # its own session: the other tests keep the default scenario
    open_page(tab, server, "/")
    scenario = Path(__file__).resolve().parents[2] / "scenarios" / "scale-10000x100.yaml"
    tab.find_element("css selector", "#scenario-upload input[type=file]").send_keys(str(scenario))

    def title(graph: str) -> str:
        return " ".join(e.text for e in tab.find_elements("css selector", f"#{graph} .gtitle"))

    wait_for("the network map", lambda: "showing 2000 of 10000 users" in title("network-map"))
    click(tab, "nav-sinr")  # in the page, not a reload (which would load the default again)
    wait_for("the SINR map", lambda: "showing 2000 of 10000 users" in title("sinr-graph-a"),
             timeout_s=120)  # fmt: skip
    assert tab.find_elements("css selector", "#sinr-graph-a .gl-container canvas")
    screenshot(tab, "page-sinr-10000x100")
    assert console_errors(tab) == []
