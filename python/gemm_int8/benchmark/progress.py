"""Progress on stderr: tqdm when it is installed, else a plain line per step.

stderr keeps stdout clean for the results table, so output can be piped.
"""

from __future__ import annotations

import sys
import time

__all__ = ["Progress"]


class Progress:
    def __init__(self, total: int, desc: str, enabled: bool = True):
        self.total, self.done, self.enabled = total, 0, enabled
        self._bar = None
        self._t0 = time.perf_counter()
        self._tty = sys.stderr.isatty()
        if not enabled:
            return
        try:
            from tqdm import tqdm
        except ImportError:
            return
        self._bar = tqdm(total=total, desc=desc, unit="shape", file=sys.stderr, leave=True)

    def start(self, label: str) -> None:
        """Announces the step about to run (the slow part is what follows)."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.set_postfix_str(label, refresh=True)
            return
        elapsed = time.perf_counter() - self._t0
        line = f"[{self.done + 1}/{self.total}] {label}  ({elapsed:.0f} s)"
        # A terminal gets one self-overwriting line; a log gets one line per step.
        if self._tty:
            sys.stderr.write("\r\033[K" + line)
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def advance(self) -> None:
        self.done += 1
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self.enabled and self._tty:
            sys.stderr.write("\n")
            sys.stderr.flush()
