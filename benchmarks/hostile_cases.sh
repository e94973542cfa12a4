#!/bin/bash
# The cases of issue 15 (hostile input) against one checkout: exit code, whether a traceback
# was printed, and the last line of output. Each command runs under a timeout (LIMIT_S,
# default 60 s) and a 3 GB address-space limit (the old code read /dev/zero until memory
# ran out; exit 124 is the timeout).
#
#   bash benchmarks/hostile_cases.sh [TREE] [PYTHON]
#
# TREE: the checkout whose code runs (default: this one); PYTHON: an interpreter with aign's
# dependencies (default: TREE/.venv/bin/python, else this checkout's). To compare with an
# older commit: git worktree add /tmp/old COMMIT && bash benchmarks/hostile_cases.sh /tmp/old
set -u
HERE=$(cd "$(dirname "$0")/.." && pwd)
TREE=$(cd "${1:-$HERE}" && pwd)
PY=${2:-$TREE/.venv/bin/python}
[ -x "$PY" ] || PY=$HERE/.venv/bin/python
WORK=$(mktemp -d /tmp/aign-hostile-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export AIGN_HOME=$WORK/home
cd "$WORK"
"$PY" - "$HERE" <<'EOF'
import json, sys
d = open(f"{sys.argv[1]}/scenarios/default.yaml").read()
open("tag.yaml", "w").write(d.replace("seed: 1\n", "seed: !!int 3.5\n"))
open("bool.yaml", "w").write(d.replace("duration_s: 30.0", "duration_s: true"))
open("decorr.yaml", "w").write(d.replace("shadowing: {decorrelation_m: 50}",
                                         "shadowing: {decorrelation_m: 1.0e+308}"))
open("period.yaml", "w").write(d.replace("report_period_s: 0.1", "report_period_s: 1.0e-9"))
inst = {"gains": [[1.4e-12], [1.0e-12]], "assoc": [0, 0], "noise_mw": 1e-10,
        "bandwidth_hz": 1e6, "levels_mw": list(range(41)), "price": 0.0225}
text = json.dumps(inst)
open("inst.json", "w").write(text)
open("inf.json", "w").write(text.replace('"noise_mw": 1e-10', '"noise_mw": Infinity'))
open("dup.json", "w").write(text.replace('"price": 0.0225', '"price": 0.0225, "price": 5'))
open("deep.json", "w").write("[" * 100000 + "]" * 100000)
open("bigint.json", "w").write(text.replace('"price": 0.0225', '"price": ' + "1" * 5000))
open("p10.json", "w").write(json.dumps({**inst, "price": 10.0}))
open("strdesign.json", "w").write('{"power_mw": ["28", "31"], "source": "x"}')
open("booldesign.json", "w").write('{"power_mw": [true, 31], "source": "x"}')
open("design.json", "w").write('{"power_mw": [28, 31], "source": "x"}')
EOF
mkfifo fifo.json

run() {  # NAME AIGN-ARGS...
  local name=$1; shift
  local out code
  out=$( (ulimit -v 3000000; cd "$TREE" && timeout "${LIMIT_S:-60}" "$PY" -m ui.cli "$@") 2>&1 ); code=$?
  printf "%-30s exit %-3s traceback %s | %s\n" "$name" "$code" \
    "$(echo "$out" | grep -c Traceback)" "$(echo "$out" | grep -v '^ ' | tail -1 | cut -c1-100)"
}
run "yaml tag !!int 3.5" scenario check "$WORK/tag.yaml"
run "duration_s: true" scenario check "$WORK/bool.yaml"
run "decorrelation_m 1e308: check" scenario check "$WORK/decorr.yaml"
run "decorrelation_m 1e308: simulate" simulate "$WORK/decorr.yaml" --json
run "report_period_s 1e-9: check" scenario check "$WORK/period.yaml"
run "noise_mw Infinity" evaluate "$WORK/inf.json" "$WORK/design.json"
run "duplicate key price" evaluate "$WORK/dup.json" "$WORK/design.json"
run "JSON nested 100k deep" evaluate "$WORK/deep.json" "$WORK/design.json"
run "5000-digit integer" evaluate "$WORK/bigint.json" "$WORK/design.json"
run 'design ["28", "31"]' evaluate "$WORK/inst.json" "$WORK/strdesign.json"
run "design [true, 31]" evaluate "$WORK/inst.json" "$WORK/booldesign.json"
run "/dev/zero as instance" evaluate /dev/zero "$WORK/design.json"
run "FIFO as instance" evaluate "$WORK/fifo.json" "$WORK/design.json"
run "plan, price 10 (U_ref = 0)" plan "$WORK/p10.json" --out "$WORK/plan.json"
run "validate (sets up a log)" validate paper-fig3 "$WORK/design.json" --runs 2 --quiet --executor local:1
: > "$AIGN_HOME/deployments.db"; rm -f "$AIGN_HOME/deployments.db-wal" "$AIGN_HOME/deployments.db-shm"
run "emptied log: deployments" deployments --summary
