# Facsimile: every target creates the virtual environment first when it is missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.facsimile-installed
# The second test environment: Blender 5.1-5.3's Python 3.13 with bpy 5.3 and numpy 2 (requirements-py313.txt).
PYTHON313 ?= $(shell PYENV_VERSION=3.13.0 pyenv which python3.13 2>/dev/null || command -v python3.13)
VENV313 ?= .venv313
PY313 := $(VENV313)/bin/python
STAMP313 := $(VENV313)/.facsimile-installed

.PHONY: venv venv313 demo test test-py311 test-py313 test-install test-slow lint format bench bench-lbs bench-keygen bench-body \
	clean models addon addon-dev train real-faces heldout-renders heldout-renders-full evaluate

venv: $(STAMP)

$(STAMP): requirements.txt requirements-train.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-train.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

venv313: $(STAMP313)

$(STAMP313): requirements-py313.txt pyproject.toml
	@test -n "$(PYTHON313)" || { echo "python3.13 not found: install it (pyenv install 3.13) or set PYTHON313"; exit 1; }
	@test -x $(PY313) || $(PYTHON313) -m venv $(VENV313)
	$(PY313) -m pip install --quiet -r requirements-py313.txt
	$(PY313) -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP313)

## The README's main job.
demo: venv
	$(PY) -m blender_addon.host.cli demo --out out

## The README's test command: the suite on Blender 4.5 / Python 3.11 / numpy 1.26, then on Blender 5.3 / Python 3.13 /
## numpy 2 (torch, onnx and mediapipe tests skip there). CI (.ci/run) also runs test-install.
test: test-py311 test-py313

test-py311: venv
	$(PY) -m pytest -q -m "not slow and not install"

test-py313: venv313
	$(PY313) -m pytest -q -m "not slow and not install"

## Install the linux zip with its real wheels (downloaded once into build/wheels/) in fresh venvs holding only bpy
## (4.5 on Python 3.11, 5.3 on Python 3.13), the way Blender does: enable, photo, video bake, skin, disable, remove.
## Minutes, not seconds (two bpy installs and a 0.5 GB zip), so it is its own target; .ci/run runs it after make test.
test-install: venv
	PYTHON311=$(PYTHON) PYTHON313=$(PYTHON313) $(PY) -m pytest -q -m install

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

## Regenerate exported_models/ (ONNX files + manifest.json + NOTICE; the landmark model's fp16/int8 variants into
## exported_models/variants/, not shipped). Later exporters append their commands here.
models: venv
	$(PY) -m model_training.convert.mediapipe_face --out exported_models
	$(PY) -m model_training.convert.landmark_variants --out exported_models
	$(PY) -m model_training.convert.mediapipe_pose --out exported_models
	$(PY) -m model_training.convert.lbs_onnx --out exported_models
	$(PY) -m model_training.export_keygen_data --out exported_models
	$(PY) -m model_training.export_head_model --out exported_models

## Blender extension zips in dist/, one per platform, with the pinned wheels (downloaded once into build/wheels/).
addon: venv venv313
	$(PY) build_addon.py --out dist
	$(PY313) build_addon.py --validate $$(ls dist/facsimile-*.zip | grep -v nowheels)

## Development zips in dist/ without wheels (no network).
addon-dev: venv venv313
	$(PY) build_addon.py --no-wheels --out dist
	$(PY313) build_addon.py --validate dist/facsimile-*-nowheels.zip

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
## frames, cached per front-end sha256 in model_training/cache/real_faces (5,244 images at stride 2: 8.5-15 min
## measured on the shared 2-core machine at load ~15, 35-250 ms per image).
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
bench: venv bench-lbs bench-keygen bench-body
	$(PY) benchmarks/bench_bake.py
	$(PY) benchmarks/bench_face_frontend.py
	$(PY) benchmarks/bench_video_bake.py
	$(PY) benchmarks/profile_face_stages.py
	$(PY) benchmarks/bench_landmark_variants.py
	$(PY) benchmarks/bench_generator.py

## LBS deformer vs Blender's Armature modifier: 63k-vertex Quaternius, 1,000 CMU poses (about a minute).
bench-lbs: venv
	$(PY) benchmarks/bench_lbs.py

## Generated ARKit shape keys against the MakeHuman artist keys, the demo head, an ICT identity; contact sheet in out/keygen.
bench-keygen: venv
	$(PY) benchmarks/bench_keygen.py --out out/keygen

## Body capture: CMU poses rendered on the shared characters, limb bone errors of our ONNX pipeline + solve beside
## MediaPipe's on the same images, and the video time per frame (about 10 minutes).
bench-body: venv
	nice -n 10 $(PY) benchmarks/bench_body_pose.py --json out/bench_body_pose.json

clean:
	rm -rf out build dist .pytest_cache
