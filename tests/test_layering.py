"""The torch-free core stays torch-free (anchors rule 1)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE_DIRS = ["include", "csrc/core", "csrc/kernels"]
FORBIDDEN = re.compile(r'#\s*include\s*[<"](torch/|ATen/|c10/|pybind11/|Python\.h)')


def test_core_has_no_torch_or_python_headers():
    offenders = []
    for folder in CORE_DIRS:
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in {".h", ".hpp", ".cuh", ".cpp", ".cu", ".def"}:
                for number, line in enumerate(path.read_text().splitlines(), 1):
                    if FORBIDDEN.search(line):
                        offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "torch/Python headers in the core:\n" + "\n".join(offenders)
