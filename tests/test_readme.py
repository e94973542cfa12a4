"""The README's examples run as written, in order, from an empty folder.

Every ```bash block of README.md is run line by line in one temporary folder (its own
AIGN_HOME), except the setup blocks (make, pip, Celery) and the benchmark reproductions.
Long jobs get tiny settings (:data:`TINY`: fewer steps, episodes, runs, seeds); nothing else
is changed. Afterwards, every file the examples wrote must be one that .gitignore covers, so
running them from the checkout leaves ``git status`` clean.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SETUP = re.compile(r"^\s*(make|pip|celery|export|python3 -m venv)\b")
# Reproductions of the benchmarks (minutes to an hour each; their commands and times are in
# benchmarks/RESULTS.md), `aign benchmark` and the scripts in benchmarks/: not part of the
# examples run here.
REPRODUCTIONS = re.compile(r"^(aign benchmark\b|(nice )?\S*python\S* benchmarks/)")

# (pattern, replacement) on each command line: the same commands, tiny budgets.
TINY = (
    (r"train sac (.*) --out", r"train sac \1 --steps 40 --checkpoint-every 0 --out"),
    (r"--episodes \d+", "--episodes 2 --batch 2"),
    (r"train bcq (.*)--out", r"train bcq \1--steps 3 --out"),
    (r"train diffusion (.*)--out", r"train diffusion \1--steps 3 --out"),
    (r"--runs \d+", "--runs 10"),  # the scenarios' gates ask for at least 10
    (r"--seeds \d+", "--seeds 1 --param duration=2"),
    (r"--reports \d+", "--reports 4"),
    (r"simulate paper-20 ", "simulate paper-20 --quiet "),
)
# Exit codes other than 0 that a line may end with, as the README says (a validation that
# fails its gates, a deployment rolled back: exit 3). None here: every example succeeds.
ALLOWED_EXIT = {}


def readme_commands(text: str) -> list[str]:
    """The command lines of the README's bash blocks, in order, continuations joined and
    comments dropped; setup blocks left out."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        lines = block.replace("\\\n", " ").splitlines()
        if any(SETUP.match(line) for line in lines):
            continue
        for line in lines:
            line = line.split(" #", 1)[0].strip()
            if line and not line.startswith("#") and not REPRODUCTIONS.match(line):
                commands.append(line)
    return commands


def tiny(command: str) -> str:
    for pattern, replacement in TINY:
        command = re.sub(pattern, replacement, command)
    return command


def test_the_readme_lists_the_quick_start_in_order():
    commands = readme_commands((ROOT / "README.md").read_text())
    names = [c.split()[1] for c in commands if c.startswith("aign ")]
    # what a later line uses, an earlier one made
    assert names.index("instance") < names.index("solve") < names.index("evaluate")
    first = {}
    for n, command in enumerate(commands):
        first.setdefault(" ".join(command.split()[:3]), n)
    assert first["aign collect --scenario"] < first["aign train bcq"]
    assert first["aign train bcq"] < first["aign validate default"]


@pytest.mark.slow
def test_the_readme_examples_run_as_written_in_order(tmp_path):
    work, home, bin_dir = tmp_path / "work", tmp_path / "home", tmp_path / "bin"
    for folder in (work, home, bin_dir):
        folder.mkdir()
    shim = bin_dir / "aign"  # the checkout's aign, whatever is installed
    shim.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m ui.cli \"$@\"\n")
    shim.chmod(0o755)
    env = {**os.environ, "AIGN_HOME": str(home), "PYTHONPATH": str(ROOT),
           "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "AIGN_WORKERS": "2"}
    # `aign scenario check scenarios/*.yaml` reads the shipped scenarios next to it
    (work / "scenarios").symlink_to(ROOT / "scenarios")
    ran = []
    for command in readme_commands((ROOT / "README.md").read_text()):
        line = tiny(command)
        proc = subprocess.run(["bash", "-c", line], cwd=work, env=env, capture_output=True,
                              text=True, timeout=900)  # fmt: skip
        allowed = {0} | set(ALLOWED_EXIT.get(command, ()))
        assert proc.returncode in allowed, (
            f"README line failed (exit {proc.returncode}): {command}\nran: {line}\n"
            f"stdout: {proc.stdout[-3000:]}\nstderr: {proc.stderr[-3000:]}"
        )
        assert "Traceback" not in proc.stderr, proc.stderr
        ran.append(command)
    assert "aign solve inst.json --method exhaustive --out design.json" in ran
    written = sorted(p.name + ("/" if p.is_dir() else "") for p in work.iterdir()
                     if p.name != "scenarios")  # fmt: skip
    ignored = subprocess.run(["git", "check-ignore", "--no-index", *written], cwd=ROOT,
                             capture_output=True, text=True).stdout.split()  # fmt: skip
    assert sorted(ignored) == written, f"not in .gitignore: {set(written) - set(ignored)}"


def test_solve_in_the_readme_prints_what_its_comment_promises(tmp_path):
    inst = tmp_path / "inst.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    aign = [sys.executable, "-m", "ui.cli"]
    subprocess.run([*aign, "instance", "paper-fig3", "--out", str(inst)], check=True, env=env,
                   capture_output=True)  # fmt: skip
    out = subprocess.run([*aign, "solve", str(inst), "--method", "exhaustive"], env=env,
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "(28, 31) mW, utility 24.0922" in out
    assert "# (28, 31) mW, utility 24.0922" in (ROOT / "README.md").read_text()
