"""PyInstaller runtime hook, run before the app's first import in the frozen bundle.

A windowed Windows executable has no console: ``sys.stdout``/``sys.stderr`` are ``None`` there and the
first ``print`` or logging handler would raise. Point them at the null device instead (the app logs to
its file in the user data directory). No-op elsewhere.
"""

import os
import sys

for _name in ("stdout", "stderr"):
    if getattr(sys, _name) is None:
        setattr(sys, _name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115 - lives as long as the app
