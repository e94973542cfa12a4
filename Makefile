# The two commands: `make run` (set up, then the main job) and `make test` (set up, then all tests).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup browser redis run test lint bench bench-scale bench-mobile-env agents model clean

setup: $(STAMP)

# Re-install when the dependencies change. torch is pinned to the CPU build (see README).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
	touch $(STAMP)

run: setup
	$(BIN)/aign ui

# The end-to-end tests drive a real headless Chromium: Debian's chromium and chromium-driver.
browser:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then \
		SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
		$$SUDO apt-get update && $$SUDO apt-get install -y chromium chromium-driver; \
	fi

# The app's Celery + Redis path is tested against a throwaway Debian redis-server.
redis:
	@if ! command -v redis-server >/dev/null 2>&1; then \
		SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
		$$SUDO apt-get update && $$SUDO apt-get install -y redis-server; \
	fi

test: setup browser redis
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

# Figures and their commands: benchmarks/RESULTS.md.
bench: setup
	$(BIN)/python benchmarks/twin_ticks.py

# Twin ticks/s, memory per 1000 users and the UI maps at 1000 x 20 and 10000 x 100.
bench-scale: setup
	nice $(BIN)/python benchmarks/scale.py

# Needs mobile-env in its own venv (MENV_PY, default /tmp/menv/bin/python); see the script.
bench-mobile-env: setup
	bash benchmarks/compare_mobile_env.sh

# The stage-1 agents that ship in models/sac and models/bcq (aign solve --method sac|bcq,
# --controller sac|bcq without a folder): per-user SAC on a mix of the paper networks (the
# dense paper-20 four times over, since its interference-limited optimum is the hardest to
# learn), the 3-site default and a 150-user draw of the 1000 x 20 district, each instance's
# price x [1/2.5, 2.5] and noise +-1.5 dB (80000 user transitions; trained on the paper
# networks alone it switched most users of a city off), then per-user episodes (16 steps)
# of the expert, a noisy expert, random actions and that SAC on the paper networks, the
# default and the 150-user city draw (a third as many there), then BCQ on them (3000 steps). Seeded: the same command gives the same agents on one machine. Only
# agent.json and the safetensors weights are kept (TensorBoard logs and SB3's model.zip stay
# in $(AGENTS_WORK)). Timings: benchmarks/RESULTS.md, "Stage 1 per-user".
AGENTS_WORK := .agents-work
AGENT_MIX := paper-20*4,paper-50*2,paper-80,default*2,scale-1000x20@150
agents: setup
	rm -rf $(AGENTS_WORK) && mkdir -p $(AGENTS_WORK)
	nice $(BIN)/aign train sac --scenario '$(AGENT_MIX)' --price-jitter 2.5 --noise-jitter-db 1.5 \
	  --steps 80000 --seed 0 --checkpoint-every 0 --out $(AGENTS_WORK)/sac --quiet
	for n in 20 50 80; do \
	  for p in coordinate noisy:coordinate,sigma=0.3 random sac:$(AGENTS_WORK)/sac; do \
	    nice $(BIN)/aign collect --scenario paper-$$n --policy $$p --episodes 48 --seed $$n \
	      --out $(AGENTS_WORK)/data --quiet || exit 1; \
	  done; \
	done
	for p in coordinate noisy:coordinate,sigma=0.3 random sac:$(AGENTS_WORK)/sac; do \
	  nice $(BIN)/aign collect --scenario default --policy $$p --episodes 48 --seed 1001 \
	    --price-jitter 2.5 --noise-jitter-db 1.5 --out $(AGENTS_WORK)/data-default --quiet \
	    || exit 1; \
	  nice $(BIN)/aign collect --scenario scale-1000x20 --users 150 --policy $$p --episodes 16 \
	    --seed 1002 --price-jitter 2.5 --noise-jitter-db 1.5 \
	    --out $(AGENTS_WORK)/data-scale-1000x20 --quiet || exit 1; \
	done
	nice $(BIN)/aign train bcq --data $(AGENTS_WORK)/data --data $(AGENTS_WORK)/data-default \
	  --data $(AGENTS_WORK)/data-scale-1000x20 --steps 3000 --seed 0 --out $(AGENTS_WORK)/bcq --quiet
	for a in sac bcq; do \
	  rm -rf models/$$a && mkdir -p models/$$a && \
	  cp $(AGENTS_WORK)/$$a/agent.json $(AGENTS_WORK)/$$a/policy.safetensors models/$$a/; \
	done

# The shipped planner (models/paper), built as the paper builds it: stage 1's SAC agents
# explore a randomized family (sizes 8-300 users and a few city draws of 500 and 1000, 1-20
# sites, prices x0.4-2.5, noise +-1.5 dB, two shadowing environments per network) and
# their per-user episodes, labelled with their
# return (each episode against the best on its instance), constraints and environment
# parameters, are what the graph denoiser learns from. Two explorers: the shipped per-user
# SAC (models/sac, `make agents`) and one trained here with its recipe and seed 1; the denoiser
# learns the better of their two episodes on each instance (--best-only). The constrained
# episodes (min-rate, budget) and paper-fig3 come from the coordinate-ascent expert: the
# agents observe no constraint. `make model MODEL_SOURCE=expert` builds the measured
# alternative in models/paper-expert: the expert on the family too. Seeded: the same command gives the same model
# on one machine. About 15 minutes on 2 cores (RESULTS.md, "Planner on the interference graph").
MODEL_SOURCE ?= sac
MODEL_DATA := .model-data
MODEL_FAMILY := paper-20:8,12,16,20,24,30:800 paper-50:30,40,50,60,70:800 \
	paper-80:60,80,100,120,160:600 default:10,20,30,40,60:600 scale-1000x20:100,150,200,300:60
MODEL_EXPLORER := paper-20*4,paper-50*2,paper-80,default*2,scale-1000x20@150
MODEL_EXPERT := $(BIN)/aign collect --policy coordinate --horizon 12 --batch 64 --quiet
ifeq ($(MODEL_SOURCE),expert)
MODEL_POLICIES := coordinate
MODEL_HORIZON := 12
MODEL_OUT := models/paper-expert
else
MODEL_POLICIES := sac:models/sac sac:$(MODEL_DATA)/explorer
MODEL_HORIZON := 16
MODEL_OUT := models/paper
endif
model: setup
	rm -rf $(MODEL_DATA) && mkdir -p $(MODEL_DATA)
	if [ "$(MODEL_SOURCE)" != expert ]; then \
	  nice $(BIN)/aign train sac --scenario '$(MODEL_EXPLORER)' --price-jitter 2.5 \
	    --noise-jitter-db 1.5 --steps 80000 --seed 1 --checkpoint-every 0 \
	    --out $(MODEL_DATA)/explorer --quiet || exit 1; \
	fi
	for f in $(MODEL_FAMILY); do \
	  s=$${f%%:*}; rest=$${f#*:}; u=$${rest%%:*}; n=$${rest##*:}; \
	  for env in 1 2; do for p in $(MODEL_POLICIES); do \
	    nice $(BIN)/aign collect --policy $$p --horizon $(MODEL_HORIZON) --batch 64 --quiet \
	      --scenario $$s --users $$u --episodes $$n --seed $$(( env * 100000 )) \
	      --environment-seed $$env --price-jitter 2.5 --noise-jitter-db 1.5 \
	      --out $(MODEL_DATA)/$$s-env$$env || exit 1; \
	  done; done; \
	done
	for env in 1 2; do for p in $(MODEL_POLICIES); do \
	  nice $(BIN)/aign collect --policy $$p --horizon $(MODEL_HORIZON) --batch 64 --quiet \
	    --scenario scale-1000x20 --users 500,1000 --episodes 20 --seed $$(( env * 100000 + 7 )) \
	    --environment-seed $$env --price-jitter 2.5 --noise-jitter-db 1.5 \
	    --out $(MODEL_DATA)/scale-1000x20-large-env$$env || exit 1; \
	done; done
	for n in 20 50 80; do \
	  for c in min-rate:1000 budget:2000; do \
	    nice $(MODEL_EXPERT) --scenario paper-$$n --impose $${c%:*} --episodes 200 \
	      --seed $$(( $${c##*:} + n )) --out $(MODEL_DATA)/constrained-$$n || exit 1; \
	  done; \
	done
	nice $(MODEL_EXPERT) --scenario paper-fig3 --episodes 192 --out $(MODEL_DATA)/fig3
	nice $(BIN)/aign train diffusion $$(for d in $(MODEL_DATA)/*/; do \
	  [ -f $$d/agent.json ] || echo --data $$d; done) \
	  --best-only --steps 10000 --seed 0 --out $(MODEL_OUT) --quiet

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
