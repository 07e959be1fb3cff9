# kdtools: `make demo` (set-up if needed, then the main job) and `make test`
# (set-up if needed, then the test suite). `make install` alone sets up .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# torch + torchvision (mmpretrain imports torchvision, whose wheels need the
# matching torch build); other builds e.g. TORCH_SPEC="torch==2.5.1
# torchvision==0.20.1" TORCH_INDEX_URL=<the PyTorch wheel index of your CUDA>
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
TORCH_INDEX_URL ?=
STAMP := $(VENV)/.kdtools-installed
DATA ?= data/toy
PYTEST_ARGS ?=

.PHONY: install demo test test-all data bench-quality bench-speed lint clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml requirements/runtime.txt requirements/data.txt requirements/tests.txt tools/install_mmcv.sh
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip 'setuptools>=77,<81' wheel ninja
	$(PIP) install -q $(TORCH_SPEC) $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL))
	PY=$(PY) bash tools/install_mmcv.sh
	$(PIP) install -q -r requirements/runtime.txt -r requirements/tests.txt
	$(PIP) install -q --no-deps -r requirements/data.txt
	$(PIP) install -q --no-build-isolation --no-deps -e .
	$(PY) -c "import kdtools; print('kdtools', kdtools.__version__, 'is ready')"
	@touch $@

data: install
	$(PY) tools/make_toy_data.py --out $(DATA) --if-missing
	$(PY) tools/convert_mobilenetv2.py --if-missing

# teacher, baseline student and hint-KD student on the embedded detection
# data: one table (params, mAP, train time, inference time per image)
demo: install data
	$(PY) tools/run_demo.py --data $(DATA)

# the README's quality figures: the students over 3 seeds (mean and spread)
bench-quality: install data
	$(PY) tools/run_demo.py --data $(DATA) --seeds 0 1 2

# the README's speed figure: overhead ratio of a distillation step
bench-speed: install data
	$(PY) tools/benchmark.py configs/det/hint/hint_fpn_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py --iters 30 --random-teacher --json work_dirs/bench_speed.json

test: install
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

test-all: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check kdtools tools tests configs --select F,E9

clean:
	rm -rf build work_dirs/* .pytest_cache
