"""One browser session's state, as pure functions over the page's stores.

A session holds one scenario and what belongs to it: its what-if runs, its designs (ranked,
deduplicated, the reference on top), the selected design, and each operation's outcome.
Every run and design set carries the key of the scenario it was made for
(:func:`scenario_key`, a digest of what the network is: formatting, comments, the
description and the gates do not change it), so a view shows only what applies to the
scenario in force, and changing the scenario clears the rest (``ui.app`` wires that).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from twin.core import finite
from twin.radio import Design
from twin.scenario import Scenario, scenario_digest

# --------------------------------------------------------------------------- scenario
ORIGIN_NOTES = {"edited": "edited, not saved", "uploaded": "uploaded, not saved"}


def scenario_key(scenario: Scenario) -> str:
    """What makes runs and designs of one scenario comparable: the network's digest."""
    return scenario_digest(scenario)


def scenario_state(scenario: Scenario, text: str, listed: str | None, how: str) -> dict[str, Any]:
    """The scenario store: ``listed`` is the name of the shipped or saved scenario whose file
    holds exactly ``text`` (``None`` when edited or uploaded), ``how`` how it came
    (``listed``, ``edited``, ``uploaded`` or ``saved``)."""
    return {"name": scenario.name, "text": text, "key": scenario_key(scenario),
            "listed": listed, "how": how}  # fmt: skip


def scenario_title(data: Mapping[str, Any] | None) -> str:
    """What the header says: the scenario's name, and whether it is a file as listed."""
    data = data or {}
    note = ORIGIN_NOTES.get(str(data.get("how")))
    listed = data.get("listed")
    if note is None and listed and listed != data.get("name"):
        note = f"file {listed}"
    return f"scenario: {data.get('name', '?')}" + (f" ({note})" if note else "")


def key_of(data: Mapping[str, Any] | None) -> str | None:
    return (data or {}).get("key")


# --------------------------------------------------------------------------- runs
def runs_for(runs: Sequence[Mapping[str, Any]] | None, key: str | None) -> list[dict]:
    """The session's runs of the scenario with ``key`` (runs of other scenarios no longer apply)."""
    return [dict(r) for r in runs or [] if r.get("scenario_key") == key]


def designs_for(designs: Mapping[str, Any] | None, key: str | None) -> dict | None:
    """The session's design set when it was made for the scenario with ``key``, else ``None``."""
    if designs and designs.get("scenario_key") == key and designs.get("designs"):
        return dict(designs)
    return None


# --------------------------------------------------------------------------- what-if fields
# What each what-if field accepts: (shown name, whole number?, smallest allowed, largest).
WHATIF_RULES: dict[str, tuple[str, bool, float, float]] = {
    "users": ("users", True, 1, 1e6),
    "speed_mps": ("speed (m/s)", False, 0, 1e3),
    "noise_figure_db": ("noise figure (dB)", False, 0, 30),
    "price_per_mw": ("price per mW", False, 0, 1e6),
    "shadowing_std_db": ("shadowing std (dB)", False, 0, 30),
    "sync_error_db": ("sync error (dB)", False, 0, 30),
    "seed": ("seed", True, 0, 2**63 - 1),
}


def parse_whatif(raw: Mapping[str, Any]) -> tuple[dict[str, int | float | None], dict[str, str]]:
    """``(values, problems)`` from what the page's fields hold (text or numbers): an empty
    field keeps the scenario's value (``None``); anything else must be a number within the
    field's range. ``problems`` maps a field to what is wrong with it."""
    values: dict[str, int | float | None] = {}
    problems: dict[str, str] = {}
    for name, value in raw.items():
        label, whole, low, high = WHATIF_RULES[name]
        if value is None or (isinstance(value, str) and not value.strip()):
            values[name] = None
            continue
        try:
            if isinstance(value, bool):
                raise ValueError
            number = float(str(value).strip()) if isinstance(value, str) else float(value)
        except (TypeError, ValueError, OverflowError):
            number = math.nan
        if not math.isfinite(number):
            problems[name] = f"{label}: a number, got {str(value)[:40]!r}"
        elif whole and not number.is_integer():
            problems[name] = f"{label}: a whole number, got {number:g}"
        elif not low <= number <= high:
            problems[name] = f"{label}: {low:g} to {high:g}, got {number:g}"
        else:
            values[name] = int(number) if whole else number
    return values, problems


# --------------------------------------------------------------------------- designs
def rank_key(design: Design | Mapping[str, Any]) -> tuple[bool, float]:
    """Feasible designs first, then the highest predicted utility (on the snapshot)."""
    predicted = design.predicted if isinstance(design, Design) else design.get("predicted") or {}
    utility = predicted.get("utility")
    if utility is None or not math.isfinite(utility):
        utility = -math.inf
    return not predicted.get("feasible", False), -utility


Candidate = tuple  # (Design, trajectory (H+1, U) or None[, sources already merged into it])


def design_set(
    scenario: Scenario,
    instance: Mapping[str, Any],
    reference: Design,
    candidates: Iterable[Candidate],
    warnings: Sequence[str] = (),
    generator: str = "",
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    """The designs store: the reference first, then every distinct candidate ranked best first.

    ``candidates`` are ``(design, trajectory or None)``. Candidates with the same powers are
    one entry (its ``sources`` list them all, the first one's trajectory is kept); one equal
    to the reference joins the reference's entry. ``selected`` is the best entry, the
    reference included, by :func:`rank_key` (the reference wins a tie).
    """
    entries: dict[tuple[float, ...], dict[str, Any]] = {}
    ref_powers = tuple(float(p) for p in reference.power_mw)
    entries[ref_powers] = _entry(reference, None, is_reference=True)
    generated = 0  # candidates made (a method that repeats the reference's is one too)
    for design, trajectory, *merged in candidates:
        sources = list(merged[0]) if merged else [_source(design)]
        generated += len(sources)
        powers = tuple(float(p) for p in design.power_mw)
        if powers in entries:
            entry = entries[powers]
            entry["sources"] += [s for s in sources if s not in entry["sources"]]
            if entry["trajectory_mw"] is None and trajectory is not None:
                entry["trajectory_mw"] = _plain(trajectory)
            continue
        entries[powers] = _entry(design, trajectory, sources=sources)
    ref_entry = entries.pop(ref_powers)
    ranked = sorted(entries.values(), key=lambda e: rank_key(e["design"]))
    for n, entry in enumerate(ranked, start=1):
        entry["id"], entry["label"] = f"d{n}", f"#{n}"
    rows = [ref_entry, *ranked]
    best = min(rows, key=lambda e: rank_key(e["design"]))
    return {
        "set": _set_id(rows),
        "scenario": scenario.name,
        "scenario_key": scenario_key(scenario),
        "generator": generator,
        "instance": dict(instance),
        "reference": ref_entry["design"],
        "designs": rows,
        "selected": best["id"],
        "warnings": list(warnings),
        "notes": list(notes),
        "generated": generated,  # what the generator did (not a problem), e.g. auto's choice
    }


def _set_id(rows: Sequence[Mapping[str, Any]]) -> str:
    """Names one design set (a pick of ``#3`` means nothing in another set)."""
    import hashlib
    import json

    text = json.dumps([(e["id"], e["design"]["power_mw"]) for e in rows])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def picked_id(store: Mapping[str, Any] | None, pick: Mapping[str, Any] | None) -> str | None:
    """The design picked in this set, else the set's best."""
    if not store:
        return None
    if pick and pick.get("set") == store.get("set") and entry_by_id(store, pick.get("id")):
        return pick["id"]
    return store.get("selected")


def _source(design: Design) -> str:
    return design.source + (" (refined)" if design.provenance.get("refined") else "")


def _plain(trajectory: Any) -> list | None:
    return None if trajectory is None else np.asarray(trajectory, dtype=float).tolist()


def _entry(design: Design, trajectory: Any, is_reference: bool = False,
           sources: list[str] | None = None) -> dict[str, Any]:  # fmt: skip
    return {
        "id": "ref" if is_reference else "",
        "label": "reference" if is_reference else "",
        "reference": is_reference,
        "design": finite(design.to_dict()),
        "sources": list(sources or [_source(design)]),
        "trajectory_mw": _plain(trajectory),
    }


def add_designs(store: Mapping[str, Any], scenario: Scenario, designs: Sequence[Design]) -> dict:
    """The store with uploaded ``designs`` added and everything ranked again."""
    reference = Design.from_dict(store["reference"])
    candidates: list[Candidate] = []
    for entry in store["designs"]:
        sources = entry["sources"][1:] if entry.get("reference") else entry["sources"]
        if sources:
            candidates.append((Design.from_dict(entry["design"]), entry.get("trajectory_mw"),
                               sources))  # fmt: skip
    candidates += [(d, None) for d in designs]
    return design_set(scenario, store["instance"], reference, candidates,
                      store.get("warnings") or [], store.get("generator", ""),
                      store.get("notes") or [])  # fmt: skip


def entry_by_id(store: Mapping[str, Any] | None, design_id: str | None) -> dict | None:
    for entry in (store or {}).get("designs") or []:
        if entry["id"] == design_id:
            return entry
    return None


def entry_title(entry: Mapping[str, Any]) -> str:
    """How the pages name a design: its label and where it came from (never a digest)."""
    sources = entry["sources"]
    first = sources[0]
    more = f" and {len(sources) - 1} more" if len(sources) > 1 else ""
    if entry.get("reference"):
        return f"the reference ({first}{more})"
    return f"design {entry['label']} ({first}{more})"
