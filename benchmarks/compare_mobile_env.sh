#!/usr/bin/env bash
# Twin ticks/s against mobile-env steps/s, side by side in one invocation.
#
# Each round runs, back to back: the twin with static users (the twin_ticks.py scenario),
# the twin with random-waypoint users (path loss, LOS, shadowing and association
# recomputed every tick, as mobile-env moves its users every step), then mobile-env. The
# speedup of a round is twin ticks/s / mobile-env steps/s of that round; the median over
# rounds is reported. mobile-env lives in its own virtual environment (it is not an aign
# dependency):
#
#   python3 -m venv /tmp/menv && /tmp/menv/bin/pip install mobile-env
#   bash benchmarks/compare_mobile_env.sh
#
# Settings (environment variables): MENV_PY (mobile-env's python, default
# /tmp/menv/bin/python), TWIN_PY (default .venv/bin/python), USERS (80), BS (4),
# ROUNDS (3), OUT (a directory to keep the JSON results; default a temporary one).
set -euo pipefail
cd "$(dirname "$0")/.."

TWIN_PY=${TWIN_PY:-.venv/bin/python}
MENV_PY=${MENV_PY:-/tmp/menv/bin/python}
USERS=${USERS:-80}
BS=${BS:-4}
ROUNDS=${ROUNDS:-3}
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"

if ! "$MENV_PY" -c "import mobile_env" 2>/dev/null; then
  echo "mobile-env is not importable with $MENV_PY; install it in its own venv:" >&2
  echo "  python3 -m venv /tmp/menv && /tmp/menv/bin/pip install mobile-env" >&2
  exit 1
fi

for round in $(seq "$ROUNDS"); do
  echo "== round $round/$ROUNDS"
  for mobility in static random_waypoint; do
    echo "-- twin, $mobility users"
    "$TWIN_PY" benchmarks/twin_ticks.py --sizes "${USERS}x${BS}" --mobility "$mobility" \
      --repeats 3 --no-memory --json "$OUT/twin_${mobility}_$round.json"
  done
  echo "-- mobile-env"
  "$MENV_PY" benchmarks/mobile_env_steps.py --users "$USERS" --bs "$BS" --repeats 3 \
    --json "$OUT/mobile_env_$round.json"
done

"$TWIN_PY" - "$OUT" "$ROUNDS" <<'EOF'
import json
import statistics
import sys

out, rounds = sys.argv[1], int(sys.argv[2])


def load(name):
    with open(f"{out}/{name}", encoding="utf-8") as fh:
        return json.load(fh)


menv = [load(f"mobile_env_{r}.json")["steps_per_s"] for r in range(1, rounds + 1)]
print(f"\nmobile-env steps/s per round: {', '.join(f'{x:.1f}' for x in menv)}")
summary = {"mobile_env_steps_per_s": menv}
for mobility in ("static", "random_waypoint"):
    twin = [
        load(f"twin_{mobility}_{r}.json")["results"][0]["twin_ticks_per_s"]
        for r in range(1, rounds + 1)
    ]
    speedups = [t / m for t, m in zip(twin, menv, strict=True)]
    print(
        f"twin ({mobility}) ticks/s per round: {', '.join(f'{x:.0f}' for x in twin)}; "
        f"speedup over mobile-env: median {statistics.median(speedups):.0f}x "
        f"(rounds: {', '.join(f'{x:.0f}x' for x in speedups)})"
    )
    summary[mobility] = {
        "twin_ticks_per_s": twin,
        "speedup": speedups,
        "speedup_median": statistics.median(speedups),
    }
with open(f"{out}/summary.json", "w", encoding="utf-8") as fh:
    json.dump(summary, fh, indent=2)
print(f"JSON results in {out}")
EOF
