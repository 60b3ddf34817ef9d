"""The ``fracture-triage`` console entry point: headless subcommands go to ``core.cli``, everything
else (``fracture-triage [FOLDER] [--db URL] ...``) opens the desktop app. PySide6 is imported only
on the GUI path, so ``scan`` and friends start fast and work without a display.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from core import cli

    if cli.is_subcommand(argv) or any(a in ("--version",) for a in argv[:1]):
        return cli.main(argv)
    from desktop.app import run_app

    return run_app(argv)


if __name__ == "__main__":
    sys.exit(main())
