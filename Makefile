# Facsimile: every target creates the virtual environment first when it is missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.facsimile-installed

.PHONY: venv demo test test-slow lint format bench bench-lbs clean models addon addon-dev train

venv: $(STAMP)

$(STAMP): requirements.txt requirements-train.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-train.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

## The README's main job.
demo: venv
	$(PY) -m blender_addon.cli demo --out out

## The README's test command.
test: venv
	$(PY) -m pytest -q -m "not slow"

## Long checks, and the property-based tests of every entry point with many random examples (about 15 minutes).
test-slow: venv
	$(PY) -m pytest -q -m slow
	FACSIMILE_HYPOTHESIS_PROFILE=long $(PY) -m pytest -q tests/test_properties.py

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## Regenerate exported_models/ (ONNX files + manifest.json + NOTICE). Later exporters append their commands here.
models: venv
	$(PY) -m model_training.convert.mediapipe_face --out exported_models
	$(PY) -m model_training.convert.lbs_onnx --out exported_models

## Blender extension zips in dist/, one per platform, with the pinned wheels (downloaded once into build/wheels/).
addon: venv
	$(PY) build_addon.py --out dist

## Development zips in dist/ without wheels (no network).
addon-dev: venv
	$(PY) build_addon.py --no-wheels --out dist

## Expression generator (issue 7): render ICT heads through the ONNX front-end (cached in model_training/cache),
## fit the detector model, train the ablation arms, export exported_models/expression_generator.onnx + MODEL_CARD.md.
train: venv
	nice -n 10 $(PY) -m model_training.render_ict --split test --n 400 --reuse
	nice -n 10 $(PY) -m model_training.render_ict --split train --n 1200 --reuse
	nice -n 10 $(PY) -m model_training.train_generator
	nice -n 10 $(PY) -m model_training.model_card

## Every benchmark, each printing Facsimile's figure beside its reference from the same run (several minutes).
bench: venv bench-lbs
	$(PY) benchmarks/bench_bake.py
	$(PY) benchmarks/bench_face_frontend.py
	$(PY) benchmarks/bench_video_bake.py
	$(PY) benchmarks/bench_generator.py

## LBS deformer vs Blender's Armature modifier: 63k-vertex Quaternius, 1,000 CMU poses (about a minute).
bench-lbs: venv
	$(PY) benchmarks/bench_lbs.py

clean:
	rm -rf out build dist .pytest_cache
