"""Entry script of the frozen app (PyInstaller's ``Analysis`` starts here): the same
``desktop.launcher.main`` as the ``fracture-triage`` console script, with what only the bundle needs:

- ``freeze_support`` so a frozen child process (multiprocessing) runs its task instead of a second app;
- the developer commands ``train``/``evaluate``/``card`` are not offered: the bundle carries no training code
  (nor torch), so they answer with one clear line instead of a traceback;
- with ``FRACTURE_TRIAGE_STARTUP_TIMING=1`` in the environment, one line on stderr when the main window
  is first painted: ``startup: window shown after X.XX s`` (from process start, bootloader included),
  which ``packaging/smoke_test.sh`` reads to measure the cold start.
"""

import multiprocessing
import os
import sys
import time

_T0 = time.perf_counter()
TRAINING_COMMANDS = ("train", "evaluate", "card")
TIMING_ENV = "FRACTURE_TRIAGE_STARTUP_TIMING"


def seconds_since_process_start() -> float:
    """Linux: from the kernel's process start time (so the bootloader's unpacking counts too);
    elsewhere: since this script started."""
    try:
        with open("/proc/self/stat", encoding="ascii") as fh:
            start_ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime", encoding="ascii") as fh:
            uptime = float(fh.read().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError, AttributeError):
        return time.perf_counter() - _T0


def install_startup_timing() -> None:
    """Report the first paint of the main window (an event filter added when the window is first shown)."""
    from PySide6.QtCore import QEvent, QObject

    import desktop.main_window as main_window

    cls = main_window.MainWindow
    original = cls.showEvent

    class FirstPaint(QObject):
        def eventFilter(self, obj, event):  # noqa: N802 - Qt's name
            if event.type() == QEvent.Type.Paint:
                obj.removeEventFilter(self)
                print(f"startup: window shown after {seconds_since_process_start():.2f} s", file=sys.stderr, flush=True)
            return False

    def show_event(self, event):
        original(self, event)
        if not getattr(self, "_ft_timing", None):
            self._ft_timing = FirstPaint(self)
            self.installEventFilter(self._ft_timing)

    cls.showEvent = show_event


def frozen_main(argv: list[str]) -> int:
    from core import cli

    for name in TRAINING_COMMANDS:
        cli.SUBCOMMAND_MODULES.pop(name, None)
    if argv[:1] and argv[0] in TRAINING_COMMANDS:
        print(f"fracture-triage {argv[0]}: not part of the installed app; training and evaluation run from a "
              "source install with the 'train' extra (see the README).", file=sys.stderr)
        return 2
    if os.environ.get(TIMING_ENV) and not cli.is_subcommand(argv):
        install_startup_timing()
    from desktop.launcher import main

    return main(argv)


if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(frozen_main(sys.argv[1:]))
