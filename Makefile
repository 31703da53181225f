# Facsimile: every target creates the virtual environment first when it is missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.facsimile-installed

.PHONY: venv demo test test-slow lint format bench bench-lbs clean models addon addon-dev train real-faces heldout-renders heldout-renders-full evaluate

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

test-slow: venv
	$(PY) -m pytest -q -m slow

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

## Expression generator (issues 7, 10): the stages of model_training/ in order (model_training/README.md):
## real faces through both front-ends (data), ICT renders through the ONNX front-end (render; a new front-end only
## re-detects the saved images), the arms (fit: detector model and MediaPipe's trust on training renders; train),
## select on validation data, export exported_models/expression_generator.onnx + manifest, then MODEL_CARD.md with
## every arm on every evaluation set (card). Everything is cached in model_training/cache.
train: venv real-faces heldout-renders
	nice -n 10 $(PY) -m model_training.render --split test --n 400 --reuse
	nice -n 10 $(PY) -m model_training.render --split train --n 1200 --reuse
	nice -n 10 $(PY) -m model_training.train
	nice -n 10 $(PY) -m model_training.card

## Real faces (issue 10): ../shared/data/real_faces through our front-end and MediaPipe FaceLandmarker on the same
## frames, cached per front-end sha256 in model_training/cache/real_faces (about 3-9 minutes on 2 cores).
real-faces: venv
	nice -n 10 $(PY) -m model_training.data.real_faces

## Held-out ICT renders with known weights (issue 10): the project's Workbench look and the held-out Cycles photo
## look (never trained on), 150 each, through our front-end and MediaPipe; cached in model_training/cache.
heldout-renders: venv
	nice -n 10 $(PY) -m model_training.render.heldout

## The full held-out set: 300 renders per look (Cycles about 10 s per image on 2 loaded cores, ~1 hour).
heldout-renders-full: venv
	nice -n 10 $(PY) -m model_training.render.heldout --n 300

## Every issue-10 target of the shipped expression generator beside MediaPipe FaceLandmarker, with pass/miss.
evaluate: venv real-faces heldout-renders
	nice -n 10 $(PY) -m model_training.evaluate --markdown out/evaluation.md --json out/evaluation.json

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
