"""``python -m gemm_int8.benchmark``: see ``--help`` and docs/benchmark.md."""

from gemm_int8.benchmark.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
