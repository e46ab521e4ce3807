# DOS64 Lab. The two commands a newcomer needs:
#   make lab    set everything up, then open JupyterLab on the first notebook
#   make test   set everything up, then run the whole test suite
# and `make bench` for the benchmarks.
.PHONY: setup lab test bench kernel clean student

PY := .venv/bin/python
LAB_FLAGS := --ServerApp.ip=127.0.0.1 $(if $(filter 0,$(shell id -u)),--allow-root)

setup:
	@bash tools/setup.sh

lab: setup
	$(PY) -m jupyter lab $(LAB_FLAGS) notebooks/00-welcome.ipynb

test: setup
	$(PY) -m pytest

bench: setup
	$(PY) benchmarks/run.py

# The student versions of the chapters, through nbgrader (docs/teaching.md), into student/.
student: setup
	$(PY) classroom/nbgrade.py student --out student

kernel:
	$(MAKE) -C kernel

clean:
	$(MAKE) -C kernel clean
	rm -rf .venv .pytest_cache .hypothesis
