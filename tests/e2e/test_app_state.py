"""The app as an operator lives in it (issue 16): one coherent session state, every action
ending in a visible outcome, designs ranked and deduplicated, plots laid out for their cards.

Each test opens its own browser (its own session), so no test sees another's scenario.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.e2e.test_app_browser import (
    GENERATOR_LABELS,
    by_id,
    click,
    console_errors,
    graph_traces,
    open_page,
    pick,
    retype,
    screenshot,
    text_of,
    wait_for,
)

LONG_S = 180
# Cells of a rendered row of the designs table: the radio, then the columns in order.
LABEL, MADE_BY, TIME, U, GAP = 1, 2, 3, 4, 5


def choose_scenario(driver, name: str) -> None:
    """Pick ``name`` in the scenario page's dropdown."""
    pick(driver, "scenario-select", name)
    wait_for(f"the header to say {name}",
             lambda: text_of(driver, "current-scenario") == f"scenario: {name}")  # fmt: skip


def nav(driver, key: str) -> None:
    click(driver, f"nav-{key}")
    wait_for(f"page {key}", lambda: by_id(driver, f"page-{key}").is_displayed())


def generate(driver, k: int | None = None, generator: str | None = None) -> str:
    if k is not None:
        retype(driver, "ds-k", str(k))
    if generator is not None:
        pick(driver, "ds-generator", GENERATOR_LABELS[generator])
    click(driver, "ds-generate")
    return wait_for("the designs", lambda: "distinct designs" in text_of(driver, "ds-status")
                    and text_of(driver, "ds-status"), timeout_s=LONG_S)  # fmt: skip


def rendered_rows(driver) -> list[list[str]]:
    rows = driver.find_elements("css selector", "#ds-table tbody tr")
    out = []
    for row in rows:
        cells = [c.text for c in row.find_elements("css selector", "td")]
        if cells:
            out.append(cells)
    return out


def selected_row_text(driver) -> str:
    for row in driver.find_elements("css selector", "#ds-table tbody tr"):
        radios = row.find_elements("css selector", "input[type=radio]")
        if radios and radios[0].is_selected():
            return row.text
    return ""


# --------------------------------------------------------------------------- one state
def test_switching_scenario_clears_what_no_longer_applies(server, browser_factory):
    tab = browser_factory()
    open_page(tab, server, "/designs")
    click(tab, "ds-validate")  # nothing generated: a refusal ...
    wait_for("the refusal", lambda: "select a design" in text_of(tab, "ds-validation"))
    generate(tab, k=2, generator="baselines")
    wait_for("the refusal to go once designs exist", lambda: text_of(tab, "ds-validation") == "")
    runs = by_id(tab, "ds-runs")
    runs.clear()
    runs.send_keys("10")
    click(tab, "ds-validate")
    wait_for("the validation", lambda: "PASSED" in text_of(tab, "ds-validation")
             or "FAILED" in text_of(tab, "ds-validation"), timeout_s=LONG_S)  # fmt: skip
    nav(tab, "scenario")
    choose_scenario(tab, "paper-fig3")
    nav(tab, "designs")
    card = tab.find_element("css selector", "#page-designs").text
    assert "default" not in card, card
    assert text_of(tab, "ds-validation") == "" and text_of(tab, "ds-status") == ""
    assert "no designs yet" in text_of(tab, "ds-caption")
    generate(tab, generator="baselines")
    card = tab.find_element("css selector", "#page-designs").text
    assert "paper-fig3" in text_of(tab, "ds-status") and "default" not in card
    nav(tab, "whatif")
    assert text_of(tab, "wi-status") == ""
    assert console_errors(tab) == []


def test_a_reload_shows_one_consistent_scenario(server, browser_factory):
    tab = browser_factory()
    open_page(tab, server, "/")
    choose_scenario(tab, "paper-fig3")
    nav(tab, "designs")
    generate(tab, generator="baselines")
    tab.refresh()
    wait_for("the page after the reload", lambda: "paper-fig3" in text_of(tab, "current-scenario"))
    assert text_of(tab, "current-scenario") == "scenario: paper-fig3"
    wait_for("the table after the reload", lambda: "reference" in text_of(tab, "ds-table"))
    nav(tab, "scenario")
    wait_for("the editor", lambda: "name: paper-fig3" in by_id(
        tab, "scenario-editor").get_attribute("value"))  # fmt: skip
    shown = tab.find_element("css selector", "#scenario-select").text
    assert "paper-fig3" in shown
    nav(tab, "power")
    wait_for("the fig3 contour", lambda: graph_traces(tab, "pw-contour-graph") > 0)
    nav(tab, "scenario")
    choose_scenario(tab, "default")  # the fig3 designs no longer apply
    nav(tab, "power")
    wait_for("the contour panel to go", lambda: not by_id(tab, "pw-contour-col").is_displayed())
    assert "generate designs" in text_of(tab, "pw-plan-graph")
    assert console_errors(tab) == []


def test_the_dropdown_follows_uploads_and_rechoosing_loads_again(server, browser_factory,
                                                                 tmp_path):  # fmt: skip
    tab = browser_factory()
    open_page(tab, server, "/")
    small = tmp_path / "small.yaml"
    small.write_text("name: small\nseed: 1\nduration_s: 5.0\nusers: {count: 5}\n"
                     "base_stations: {layout: hexagonal, count: 1}\n")
    tab.find_element("css selector", "#scenario-upload input[type=file]").send_keys(str(small))
    wait_for("the header", lambda: text_of(tab, "current-scenario")
             == "scenario: small (uploaded, not saved)")  # fmt: skip
    shown = tab.find_element("css selector", "#scenario-select").text
    assert "small (uploaded, not saved)" in shown and "default" not in shown
    choose_scenario(tab, "default")  # re-choosing the scenario loads it again
    assert "name: default" in by_id(tab, "scenario-editor").get_attribute("value")
    assert console_errors(tab) == []


def test_a_saved_scenario_is_listed_in_every_tab(server, browser_factory):
    tab = browser_factory()
    open_page(tab, server, "/")
    editor = by_id(tab, "scenario-editor")
    text = editor.get_attribute("value").replace("name: default", "name: saved-here")
    tab.execute_script("arguments[0].value = '';", editor)
    editor.clear()
    editor.send_keys(text)
    wait_for("the edited scenario", lambda: "saved-here (edited" in text_of(tab,
                                                                          "current-scenario"))
    click(tab, "save-btn")
    wait_for("the save", lambda: "saved as saved-here" in text_of(tab, "save-msg"))
    wait_for("the header to name the saved file", lambda: text_of(tab, "current-scenario")
             == "scenario: saved-here")  # fmt: skip
    assert "saved-here" in tab.find_element("css selector", "#scenario-select").text
    click(tab, "save-btn")  # again: nothing to save, and no "exists already"
    wait_for("the second save", lambda: "saved already" in text_of(tab, "save-msg"))
    other = browser_factory()  # another tab lists it too
    open_page(other, server, "/")
    pick(other, "scenario-select", "saved-here (saved)")  # listed there: it can be chosen
    wait_for("the other tab's header", lambda: text_of(other, "current-scenario")
             == "scenario: saved-here")  # fmt: skip
    assert console_errors(tab) == [] and console_errors(other) == []


# --------------------------------------------------------------------------- what-if
@pytest.mark.parametrize("attempt", [1, 2, 3])
def test_a_cancelled_run_says_so(server, browser_factory, attempt):
    tab = browser_factory()
    open_page(tab, server, "/whatif")
    retype(tab, "wi-users", "400\t")  # a run of some seconds
    wait_for("the field to hold 400", lambda: by_id(tab, "wi-users").get_attribute("value")
             == "400" and by_id(tab, "wi-run").is_enabled())  # fmt: skip
    time.sleep(0.6)  # past the field's debounce: the run takes 400 users
    click(tab, "wi-run")
    wait_for("the job to start", lambda: by_id(tab, "wi-cancel").is_enabled())
    time.sleep(0.5 * attempt)
    click(tab, "wi-cancel")
    wait_for("the run button to come back", lambda: by_id(tab, "wi-run").is_enabled())
    time.sleep(1.5)  # the job's end must not wipe the message
    assert "run cancelled" in text_of(tab, "wi-status")
    assert by_id(tab, "wi-status").is_displayed()
    assert not by_id(tab, "wi-progress").is_displayed()
    assert tab.find_elements("css selector", "#wi-compare label") == []


def test_an_invalid_field_blocks_the_run(server, browser_factory):
    tab = browser_factory()
    open_page(tab, server, "/whatif")
    retype(tab, "wi-users", "0\t")
    problem = wait_for("the field's problem", lambda: text_of(tab, "wi-problems"))
    assert "users: 1 to" in problem and "got 0" in problem
    assert not by_id(tab, "wi-run").is_enabled()
    retype(tab, "wi-users", "abc\t")
    wait_for("the next problem", lambda: "users: a number" in text_of(tab, "wi-problems"))
    assert not by_id(tab, "wi-run").is_enabled()
    retype(tab, "wi-users", "5\t")
    wait_for("the field to be accepted", lambda: by_id(tab, "wi-run").is_enabled())
    assert text_of(tab, "wi-problems") == ""


def test_an_unknown_controller_is_a_located_problem(server, browser_factory):
    tab = browser_factory()
    open_page(tab, server, "/")
    editor = by_id(tab, "scenario-editor")
    text = editor.get_attribute("value")
    assert "controller: coordinate" in text
    tab.execute_script("arguments[0].value = '';", editor)
    editor.clear()
    editor.send_keys(text.replace("controller: coordinate", "controller: coordinat"))
    problems = wait_for("the problem", lambda: "coordinat'" in text_of(tab, "scenario-errors")
                        and text_of(tab, "scenario-errors"))  # fmt: skip
    assert re.search(r"editor:\d+: control.controller: unknown controller 'coordinat' "
                     r"\(did you mean 'coordinate'\?\)", problems)  # fmt: skip
    assert text_of(tab, "current-scenario") == "scenario: default"  # the session keeps its own


# --------------------------------------------------------------------------- designs
def test_designs_are_distinct_ranked_with_the_reference_on_top(server, browser_factory):
    tab = browser_factory()
    open_page(tab, server, "/designs")
    retype(tab, "ds-refine", "4")  # refined candidates tend to meet at one design
    status = generate(tab, k=64, generator="diffusion")  # 64 candidates + the baselines
    match = re.search(r"(\d+) distinct designs \(of (\d+) generated\)", status)
    assert match and int(match[1]) <= int(match[2])  # duplicates merged
    rows = wait_for("the table's rows", lambda: rendered_rows(tab))
    assert 2 <= len(rows) <= 10  # one page of the table, not 132 rows
    shown = [tuple(r[U:]) for r in rows]  # U, gap, power, lowest rate, constraints
    assert len(set(shown)) == len(shown), "two rows for one design"
    assert rows[0][1] == "reference"
    assert tab.execute_script("return document.body.scrollHeight") < 2600
    utilities = [float(r[U]) for r in rows[1:] if r[-1] == "satisfied"]
    assert utilities == sorted(utilities, reverse=True)
    best = max([float(rows[0][U])] + utilities)
    assert f"{best:g}"[:6] in selected_row_text(tab).replace(" ", "")[:200] or best == float(
        rows[0][U])  # fmt: skip
    assert "selected:" in text_of(tab, "ds-selected")
    assert "U at t = 0" in text_of(tab, "ds-table")
    screenshot(tab, "designs-ranked")
    assert console_errors(tab) == []


def test_the_default_generator_is_auto_and_ranks_its_design_with_time_and_gap(
    server, browser_factory
):
    """Generating without choosing runs auto (as aign plan does): the table has the reference
    on top, auto's design named by its method, each design's time and gap to the
    reference, ranked best first; the Power page walks the chosen design with MDP steps."""
    tab = browser_factory()
    open_page(tab, server, "/designs")
    shown = by_id(tab, "ds-generator").text
    assert shown == GENERATOR_LABELS["auto"], shown
    status = generate(tab)  # the default, as it is
    assert "auto chose " in status and "warnings" not in status.split("auto chose")[0]
    header = [c.text for c in tab.find_elements("css selector", "#ds-table th")]
    assert {"time (ms)", "gap to reference (%)", "U at t = 0"} <= set(header), header
    rows = wait_for("the table's rows", lambda: rendered_rows(tab))
    assert rows[0][LABEL] == "reference" and float(rows[0][GAP]) == 0.0
    autos = [r for r in rows if "auto (" in r[MADE_BY]]  # or "(+1 identical: auto (...))"
    assert autos, [r[MADE_BY] for r in rows]
    for row in rows:
        assert float(row[TIME]) >= 0  # every design says what it took
    reference = float(rows[0][U])
    for row in rows[1:]:  # the gap is measured against the reference's utility
        assert float(row[GAP]) == pytest.approx(100 * (reference - float(row[U]))
                                                / abs(reference), abs=0.01)  # fmt: skip
    feasible = [float(r[U]) for r in rows[1:] if r[-1] == "satisfied"]
    assert feasible == sorted(feasible, reverse=True)
    assert "selected:" in text_of(tab, "ds-selected")
    nav(tab, "power")
    wait_for("the design's power path", lambda: graph_traces(tab, "pw-plan-graph") > 0)
    title = "".join(e.text for e in tab.find_elements("css selector", "#pw-plan-graph .gtitle"))
    title = title.replace(" ", "")  # a long title wraps over lines
    assert "MDPstepsfromtheinitialpowers" in title or "generatedtrajectory" in title, title
    # the design cannot be cleared into "generate designs" while designs exist
    assert not tab.find_elements("css selector", "#pw-design .dash-dropdown-clear")
    assert not tab.find_elements("css selector", "#pw-design [aria-label*=lear]")
    nav(tab, "sinr")  # the right-hand map shows the selected design, not the top level again
    right = wait_for("the right map's design", lambda: by_id(tab, "sinr-design-b").text)
    assert right.startswith("the reference (") or right.startswith("design #"), right
    assert by_id(tab, "sinr-design-a").text == "every user at the top level"
    assert console_errors(tab) == []


def test_validation_and_deploy_speak_the_pages_words(server, browser_factory):
    tab = browser_factory()
    open_page(tab, server, "/designs")
    generate(tab, k=2, generator="baselines")
    runs = by_id(tab, "ds-runs")
    runs.clear()
    runs.send_keys("10")
    click(tab, "ds-validate")
    report = wait_for("the validation", lambda: "PASSED" in text_of(tab, "ds-validation")
                      and text_of(tab, "ds-validation"), timeout_s=LONG_S)  # fmt: skip
    # the design in force in words: all-zero powers say so (another test may have deployed)
    assert re.search(r"improvement over the design in force \((every user at 0 mW: nothing "
                     r"deployed yet|.+, [\d.]+ mW in total)\)", report), report  # fmt: skip
    # another design, never validated: the refusal names it and says what to press
    radios = tab.find_elements("css selector", "#ds-table tbody input[type=radio]")
    target = next(r for r in radios if not r.is_selected())
    target.click()
    wait_for("the outcome of the other design to go", lambda: text_of(tab, "ds-validation") == "")
    click(tab, "ds-deploy")
    refusal = wait_for("the refusal", lambda: "cannot be deployed" in text_of(tab, "ds-deployment")
                       and text_of(tab, "ds-deployment"), timeout_s=LONG_S)  # fmt: skip
    assert 'Press "validate on the twin"' in refusal
    assert "aign validate" not in refusal and not re.search(r"\b[0-9a-f]{12,}\b", refusal)
    assert "validated U (mean)" in text_of(tab, "ds-history") or "no deployments" in text_of(
        tab, "ds-history")  # fmt: skip
    assert console_errors(tab) == []


# --------------------------------------------------------------------------- layout
def _box(driver, element) -> dict:
    return driver.execute_script("return arguments[0].getBoundingClientRect().toJSON();", element)


def _overlap(a: dict, b: dict) -> bool:
    return not (a["right"] <= b["left"] or b["right"] <= a["left"]
                or a["bottom"] <= b["top"] or b["bottom"] <= a["top"])  # fmt: skip


def _layout_problems(tab, graph: str) -> list[str] | None:
    """What is misplaced in ``graph`` (title under the modebar, a tick label outside the
    card, the legend over the axis title); ``None`` when it was redrawn while measured."""
    from selenium.common.exceptions import StaleElementReferenceException

    try:
        tab.execute_script(f"document.querySelector('#{graph} .modebar').style.opacity = 1")
        title = _box(tab, tab.find_element("css selector", f"#{graph} .gtitle"))
        bar = _box(tab, tab.find_element("css selector", f"#{graph} .modebar"))
        card = _box(tab, tab.find_element("css selector", f"#{graph}"))
        found = [f"{graph}: title under the modebar"] if _overlap(title, bar) else []
        for label in tab.find_elements("css selector", f"#{graph} .xtick text"):
            box = _box(tab, label)
            if not (card["left"] <= box["left"] and box["right"] <= card["right"] + 1
                    and box["bottom"] <= card["bottom"] + 1):  # fmt: skip
                found.append(f"{graph}: a tick label outside its card")
        legend = tab.find_elements("css selector", f"#{graph} .legend")
        axis = tab.find_elements("css selector", f"#{graph} .xtitle")
        if legend and axis and _overlap(_box(tab, legend[0]), _box(tab, axis[0])):
            found.append(f"{graph}: the legend over the axis title")
        return found
    except StaleElementReferenceException:
        return None


def test_plots_are_laid_out_for_their_cards(server, browser_factory):
    tab = browser_factory()
    open_page(tab, server, "/whatif")
    assert not by_id(tab, "wi-progress").is_displayed()  # no bar sitting at 0 when idle
    for controller in ("wmmse", "fpc"):
        pick(tab, "wi-controller", controller)
        click(tab, "wi-run")
        wait_for("the run", lambda c=controller: f"{c}" in text_of(tab, "wi-status")
                 and "finished" in text_of(tab, "wi-status"), timeout_s=LONG_S)  # fmt: skip
    for graph in ("wi-kpi-graph", "wi-cdf-graph", "wi-power-graph"):
        wait_for(f"{graph}", lambda g=graph: graph_traces(tab, g) >= 1)
        time.sleep(1.0)  # the last run redraws every graph once more
        problems = wait_for(f"{graph} to be measured", lambda g=graph: _layout_problems(tab, g)
                            is not None and [_layout_problems(tab, g)])[0]  # fmt: skip
        assert problems == [], problems
    screenshot(tab, "whatif-two-runs")
    open_page(tab, server, "/designs")
    for name, label in GENERATOR_LABELS.items():
        if name != "auto":  # the default is shown first, as it is
            pick(tab, "ds-generator", label)
        cut = wait_for(f"{name} to be shown", lambda lb=label: by_id(
            tab, "ds-generator").text == lb and [_cut_text(tab, "ds-generator")])[0]  # fmt: skip
        assert cut == [], f"the generator's name {label!r} is cut: {cut}"
    assert console_errors(tab) == []


def _cut_text(tab, dropdown: str) -> list[str]:
    """How the selected name of a Dash dropdown is cut: the text (every line of it) past the
    box that clips it (``.dash-dropdown-value``, overflow hidden), or that box clipping
    (its content wider than itself)."""
    return tab.execute_script(
        """
        const box = document.querySelector(`#${arguments[0]} .dash-dropdown-value`);
        const text = box.querySelector('.dash-dropdown-value-item span') || box;
        const b = box.getBoundingClientRect(), out = [];
        if (box.scrollWidth > box.clientWidth + 1) {
            out.push(`scrollWidth ${box.scrollWidth} > clientWidth ${box.clientWidth}`);
        }
        for (const r of text.getClientRects()) {
            if (r.right > b.right + 1 || r.left < b.left - 1 || r.bottom > b.bottom + 1) {
                out.push(`text [${r.left}, ${r.right}] x [${r.top}, ${r.bottom}] outside `
                         + `[${b.left}, ${b.right}] x [${b.top}, ${b.bottom}]`);
            }
        }
        return out;
        """,
        dropdown,
    )


# --------------------------------------------------------------------------- walkthrough
def test_a_walkthrough_of_the_five_pages_shows_one_scenario(server, browser_factory):
    """After work on default, switch to paper-fig3 and use every page: each shows fig3's
    state only, and no message from before (screenshots: walkthrough-*.png)."""
    tab = browser_factory()
    open_page(tab, server, "/whatif")
    click(tab, "wi-run")  # a run on default, to be dropped by the switch
    wait_for("the default run", lambda: "finished" in text_of(tab, "wi-status"),
             timeout_s=LONG_S)  # fmt: skip
    nav(tab, "scenario")
    choose_scenario(tab, "paper-fig3")
    nav(tab, "whatif")
    assert text_of(tab, "wi-status") == ""
    assert tab.find_elements("css selector", "#wi-compare label") == []
    pick(tab, "wi-controller", "wmmse")
    click(tab, "wi-run")
    wait_for("the fig3 run", lambda: "finished #1 wmmse on paper-fig3" in text_of(
        tab, "wi-status"), timeout_s=LONG_S)  # fmt: skip
    nav(tab, "designs")
    generate(tab, k=2, generator="baselines")
    for key in ("scenario", "whatif", "power", "sinr", "designs"):
        nav(tab, key)
        time.sleep(1.5)  # figures draw
        text = tab.find_element("css selector", f"#page-{key}").text
        assert text_of(tab, "current-scenario") == "scenario: paper-fig3"
        assert not re.search(r"\bdefault\b", text), f"{key}: {text[:500]}"
        assert "select a design" not in text and "no designs yet" not in text
        screenshot(tab, f"walkthrough-{key}")
    nav(tab, "power")
    assert by_id(tab, "pw-contour-col").is_displayed()  # two users: the power plane
    assert "wmmse" in tab.find_element("css selector", "#pw-run").text
    assert console_errors(tab) == []


# --------------------------------------------------------------------------- progress
WATCH_PROGRESS = """
const id = arguments[0];
window.__progress = [];
clearInterval(window.__progressTimer);
window.__progressTimer = setInterval(() => {
    const bar = document.getElementById(id);
    if (bar && bar.offsetParent !== null && bar.hasAttribute('value')) {
        window.__progress.push(Number(bar.getAttribute('value')));
    }
}, 50);
"""


def _progress_seen(tab) -> list[float]:
    return tab.execute_script("clearInterval(window.__progressTimer); return window.__progress;")


def test_the_progress_bars_move_during_a_run(server, browser_factory):
    """What-if (400 users, some seconds) and a validation on the Designs page (200 runs): while
    the job runs, its bar shows a value above 0 and below 100 (it moves, not sits at 0),
    and the bar is gone when the job ends."""
    tab = browser_factory()
    open_page(tab, server, "/whatif")
    retype(tab, "wi-users", "400\t")
    wait_for("the field to hold 400", lambda: by_id(tab, "wi-users").get_attribute("value")
             == "400" and by_id(tab, "wi-run").is_enabled())  # fmt: skip
    time.sleep(0.6)  # past the field's debounce
    tab.execute_script(WATCH_PROGRESS, "wi-progress")
    click(tab, "wi-run")
    wait_for("the run", lambda: "finished" in text_of(tab, "wi-status"), timeout_s=LONG_S)
    seen = _progress_seen(tab)
    assert any(0 < v < 100 for v in seen), f"the what-if bar showed only {sorted(set(seen))}"
    assert not by_id(tab, "wi-progress").is_displayed()

    nav(tab, "designs")
    generate(tab, k=2, generator="baselines")
    retype(tab, "ds-runs", "200\t")
    wait_for("the field to hold 200", lambda: by_id(tab, "ds-runs").get_attribute("value")
             == "200")  # fmt: skip
    time.sleep(0.6)
    tab.execute_script(WATCH_PROGRESS, "ds-progress")
    click(tab, "ds-validate")
    wait_for("the validation", lambda: "PASSED" in text_of(tab, "ds-validation")
             or "FAILED" in text_of(tab, "ds-validation"), timeout_s=LONG_S)  # fmt: skip
    seen = _progress_seen(tab)
    assert any(0 < v < 100 for v in seen), f"the designs bar showed only {sorted(set(seen))}"
    assert not by_id(tab, "ds-progress").is_displayed()
    assert console_errors(tab) == []
