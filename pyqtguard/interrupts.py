"""Ctrl+C (SIGINT) and SIGTERM end a PyQt6 app, even while its event loop
waits.

Python runs its signal handlers only when it next runs bytecode; while Qt's
event loop sleeps no bytecode runs, so in a plain PyQt6 app Ctrl+C does
nothing (and when some slot finally runs, the ``KeyboardInterrupt`` lands in
that slot).  While the application's main event loop runs (or one in its
place), and only where
the app has not set handlers of its own (SIGINT: Python's default handler;
SIGTERM: the default action), pyqtguard handles both signals in C
(``src/interrupt.c``):

- The first signal writes a byte to a pipe watched by a ``QSocketNotifier``
  in the GUI thread - the event loop wakes at once, no polling - and the
  notifier's slot asks the application to quit (``app.quit()``: every
  window's ``closeEvent`` runs first, then ``aboutToQuit``; a window that
  refuses to close keeps the app running, and then nothing of that signal
  is left: the next one asks again, and ``exec()`` later returns what the
  application says).  When ``exec()`` returns, the
  usual shutdown follows (workers cancelled, QThreads stopped, the
  ``exit_timeout`` deadline), and ``exec()`` raises:

  - SIGINT: ``KeyboardInterrupt``, as Ctrl+C does in any Python program; an
    uncaught one ends the interpreter by SIGINT, as Python does (a shell
    shows exit status 130);
  - SIGTERM: ``SystemExit(143)`` (128 + 15): exit status 143.

  In a loop in the application's place (:mod:`pyqtguard.qt.toplevel`) the
  windows are closed and the call that ran it raises as ``exec()`` does.

- A second SIGINT or SIGTERM (while closing, or while the GUI thread is
  stuck and never got to the first) ends the process at once: the thread
  report (the thread table and every Python stack, written without the GIL)
  goes to the run log and stderr, and the exit status is 128 + the signal
  (130 or 143).

Outside the event loop both signals behave as without pyqtguard.

Windows has no ``sigaction`` and no SIGTERM: there the first Ctrl+C (while
the loop runs, where the app left SIGINT to Python's default handler and
set no ``signal.set_wakeup_fd`` of its own) closes the application as above
and ``exec()`` raises ``KeyboardInterrupt``, through Python's wake-up socket
(:mod:`pyqtguard._interrupts_win`).  A second one ends the process when the
main thread next runs Python code (the Python stacks to the run log and
stderr, exit status 0xC000013A); nothing is forwarded; Ctrl+Break is left
alone.

Other signals with a Python handler (pytest-timeout's ``SIGALRM``, an app's
``SIGUSR1``; SIGINT or SIGTERM when the app set its own) have the same
problem - the handler waits for the next Python code, and runs inside
whichever slot that is, its exception handed to ``sys.excepthook`` and lost.
While the loop runs, pyqtguard forwards them: the signal also wakes the
loop through the same pipe, whose notifier's first slot runs the handler at
once.  In the application's own ``exec()`` the signal still trips Python's
handler as without pyqtguard (Python code running in a slot, or a read in
one, is interrupted by it as usual), and an exception the handler raises in
pyqtguard's slot is raised out of that slot, as any slot's (``sys.exit()``
ends the app, another goes to ``sys.excepthook``).  In a loop in the
application's place (a test's wait, a dialog's exec) the handler runs only
in pyqtguard's slot - a second signal while the GUI thread is busy trips it
at once - and its exception (pytest-timeout's ``Failed``) ends that loop and
every loop nested in it, and comes out of the call that ran it, as Python
raises it where the main thread was.

Example::

    pyqtguard.install()
    app = QApplication(sys.argv)
    window.show()
    sys.exit(app.exec())       # Ctrl+C: closeEvent, aboutToQuit, exit 130
"""
from __future__ import annotations

import os
import sys

import _signal

from . import _native
from . import logs as logfile
from . import qt as qt_attach
from . import watchdog
from .registry import in_main_thread

if sys.platform == "win32":
    from . import _interrupts_win as _win

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .config import Config

EXIT_STATUS_SIGTERM = 128 + getattr(_signal, "SIGTERM", 15)
_NAMES = {getattr(_signal, "SIGINT", 2): "SIGINT", getattr(_signal, "SIGTERM", 15): "SIGTERM"}

_wanted = False
_to_stderr = True
_term_grace = -1.0                        # a SIGTERM not taken ends it after this (s)
_pipe: tuple[int, int] | None = None     # kept for the process's life (see _wake_pipe)
_notifier: Any = None
_armed = False
_closing = 0                              # the signal that began closing, or 0
_forward_candidates: tuple[int, ...] = ()  # signals that may be forwarded
_forwarding = False
_carried: BaseException | None = None     # a forwarded handler's, for the loop's end


def install(config: Config) -> None:
    """Handle SIGINT/SIGTERM while the application's event loop runs."""
    global _wanted, _to_stderr, _term_grace
    if sys.platform == "win32":
        _wanted = True
        _to_stderr = config.stderr
        _win.configure(config.stderr)
        qt_attach.on_loop_started(_arm, top_level=True)
        qt_attach.on_loop_ended(_loop_ended, top_level=True)
        return
    if not hasattr(_signal, "SIGTERM"):
        return
    _wanted = True
    _to_stderr = config.stderr
    # SIGTERM's default action ends the process: one that a GUI thread stuck
    # in a slot never takes ends it after the exit budget, as an exit timeout
    # (exit_timeout=None: never).
    _term_grace = -1.0 if config.exit_timeout is None else float(config.exit_timeout)
    _learn_forwarding()
    qt_attach.on_loop_started(_arm, top_level=True)
    qt_attach.on_loop_ended(_loop_ended, top_level=True)


def uninstall() -> None:
    """Put back the previous handlers (if armed now) and stop arming."""
    global _wanted
    _wanted = False
    _disarm()


def _free_signals() -> tuple[int, ...]:
    """The signals the app left to their defaults: SIGINT with Python's
    default handler (not ignored, as in a background job), SIGTERM with the
    default action - in Python's view and the real sigaction's."""
    free = []
    sigint, sigterm = _signal.SIGINT, _signal.SIGTERM
    if (_signal.getsignal(sigint) is _signal.default_int_handler
            and _native.signal_disposition(sigint) == 2):
        free.append(sigint)
    if _signal.getsignal(sigterm) == _signal.SIG_DFL and _native.signal_disposition(sigterm) == 0:
        free.append(sigterm)
    return tuple(free)


# Never forwarded: what the kernel sends for a fault (pyqtguard's crash
# handler's), and what cannot be caught.
_NOT_FORWARDED = ("SIGKILL", "SIGSTOP", "SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL", "SIGABRT",
                  "SIGTRAP", "SIGSYS")


def _learn_forwarding() -> None:
    """The signals whose Python handlers may be forwarded during a loop:
    the classic ones (below the real-time range; a Python handler on a
    real-time signal waits for Python code, as without pyqtguard) but the
    faults; none if CPython's own C handler cannot be read from SIGINT's
    (the app ignores SIGINT, or put in a handler of its own)."""
    global _forward_candidates
    if _forward_candidates:
        return
    sigint = _signal.SIGINT
    if not callable(_signal.getsignal(sigint)) or not _native.forward_learn(sigint):
        return
    skip = {getattr(_signal, name) for name in _NOT_FORWARDED if hasattr(_signal, name)}
    limit = getattr(_signal, "SIGRTMIN", 32)
    _forward_candidates = tuple(s for s in sorted(_signal.valid_signals())
                                if s < limit and s not in skip)


def _forwarded(free: tuple[int, ...]) -> tuple[int, ...]:
    """The signals with a Python handler now, other than those pyqtguard
    handles itself during this loop (*free*)."""
    get = _signal.getsignal
    return tuple(s for s in _forward_candidates if callable(get(s)) and s not in free)


def _forked() -> None:
    """In a fork child, a pipe of its own on the same descriptor numbers:
    src/interrupt.c gave the child its previous handlers back, but a
    notifier on the read end stays in the Qt state the child copied, and
    the forking thread's loop may go on there (``os.fork()`` in a slot) -
    on the parent's pipe it could drain the parent's wake-up.  Qt is not
    called here: the notifier's lock may be held by a thread the fork did
    not copy."""
    if _pipe is None:
        return
    try:
        fresh = os.pipe()
        try:
            for fd, number in zip(fresh, _pipe):
                os.dup2(fd, number, inheritable=False)
                os.set_blocking(number, False)
        finally:
            for fd in fresh:
                os.close(fd)
    except OSError as exc:
        logfile.warn_once("fork:interrupt pipe", f"Ctrl+C pipe in a fork child: {exc}")


if hasattr(os, "register_at_fork"):      # not on Windows
    os.register_at_fork(after_in_child=_forked)


def _wake_pipe() -> tuple[int, int]:
    """One pipe for the process's life: never closed, so that a signal
    handler running in another thread can never write to a descriptor that
    was closed and reused meanwhile."""
    global _pipe
    if _pipe is None:
        read_end, write_end = (logfile.above_stdio(fd) for fd in os.pipe())
        os.set_blocking(read_end, False)
        os.set_blocking(write_end, False)
        _pipe = (read_end, write_end)
    return _pipe


def _arm() -> None:
    global _notifier, _armed, _closing, _forwarding, _carried
    if not _wanted or not in_main_thread():
        return
    qtcore = sys.modules["PyQt6.QtCore"]
    if qtcore.QCoreApplication.instance() is None:
        return
    if sys.platform == "win32":
        _arm_windows(qtcore)
        return
    try:
        signals = _free_signals()
        forwarded = _forwarded(signals)
        if not signals and not forwarded:
            return
        read_end, write_end = _wake_pipe()
        _drain(read_end)
        notifier = qt_attach.unpark("interrupt wake-up", read_end)
        if notifier is None:
            notifier = qt_attach.adopt(
                qtcore.QSocketNotifier(read_end, qtcore.QSocketNotifier.Type.Read))
            # First, in C: the forwarded signals' handlers, before any bytecode.
            notifier.activated.connect(_native.forward_check)
            notifier.activated.connect(_on_wake)
        notifier.setEnabled(True)
        _notifier = notifier
        _carried = None
        if forwarded:
            _native.forward_arm(write_end, forwarded, qt_attach.in_top_level_loop())
            _forwarding = True
        if signals:
            grace = _term_grace if _signal.SIGTERM in signals else -1.0
            # The watchdog ends the process for a SIGTERM the stuck GUI
            # thread never takes, and says what a second Ctrl+C does.
            watchdog.ensure_started()
            _native.interrupt_arm(write_end, signals, grace)
            _armed = True
            _closing = 0
    except (OSError, ValueError) as exc:
        logfile.warn_once("interrupt", f"Ctrl+C/SIGTERM handling is off: {exc}")
        if _notifier is not None and not _armed and not _forwarding:
            qt_attach.park("interrupt wake-up", _notifier)
            _notifier = None


def _arm_windows(qtcore: Any) -> None:
    """Windows: Python's wake-up socket to a QSocketNotifier, where the app
    left SIGINT and the wake-up alone."""
    global _notifier, _armed, _closing
    try:
        if not _win.arm():
            return
        _win.drain()
        read_socket = _win.read_socket()
        notifier = qt_attach.unpark("interrupt wake-up", read_socket)
        if notifier is None:
            notifier = qt_attach.adopt(
                qtcore.QSocketNotifier(read_socket, qtcore.QSocketNotifier.Type.Read))
            notifier.activated.connect(_on_wake)
        notifier.setEnabled(True)
        _notifier = notifier
        _armed = True
        _closing = 0
    except (OSError, ValueError) as exc:
        logfile.warn_once("interrupt", f"Ctrl+C handling is off: {exc}")
        _win.disarm()
        if _notifier is not None:
            qt_attach.park("interrupt wake-up", _notifier)
            _notifier = None


def _interrupt_signal() -> int:
    """The first SIGINT/SIGTERM received while armed, or 0."""
    if sys.platform == "win32":
        return _win.received()
    return _native.interrupt_signal()


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 256):
            pass
    except (BlockingIOError, InterruptedError):
        pass


def _on_wake(*_args: object) -> None:
    """The GUI thread, woken by a forwarded signal (its Python handler ran in
    forward_check, the slot before this one) or by the first SIGINT/SIGTERM:
    ask the app to quit."""
    if sys.platform == "win32":
        _win.drain()
    elif _pipe is not None:
        _drain(_pipe[0])
    raised = _native.forward_raised()       # a handler's, in forward_check just before
    try:
        if _armed:
            _on_interrupt()
    finally:
        if raised is not None:
            _handler_raised(raised)


def closing_signal() -> int:
    """The signal that is closing the application (SIGINT or SIGTERM), or 0."""
    return _closing


def _on_interrupt() -> None:
    """The first SIGINT/SIGTERM (if it was one that woke the GUI thread)."""
    global _closing
    signum = _interrupt_signal()
    if not signum or _closing:
        return
    _closing = signum
    name = _NAMES.get(signum, f"signal {signum}")
    again = ("Ctrl+C again" if signum == _signal.SIGINT
             else f"another {name}, or Ctrl+C,")
    report = "the Python stacks" if sys.platform == "win32" else "a thread report"
    message = (f"pyqtguard: {name} received: closing the application ({again} ends it "
               f"at once with {report})")
    _announce(message)
    app = sys.modules["PyQt6.QtCore"].QCoreApplication.instance()
    if app is None:
        return
    if qt_attach.in_top_level_loop():      # a dialog's loop in app.exec()'s place
        from .qt import toplevel

        if "PYTEST_CURRENT_TEST" in os.environ and toplevel.quit():
            # A test's QEventLoop (pytest-qt's waits): end it without closing
            # the windows.  They are the tests' and their fixtures' (a module
            # fixture's window; a window under test whose closeEvent refuses,
            # which would keep the wait running and the signal lost), closed
            # by pytest-qt and the fixtures as the session ends.  A test's
            # top-level dialog.exec() still ends by closing its window.
            return
        toplevel.close_windows(app)
        if _window_kept_open(app):
            _refused(name)
        else:
            toplevel.quit()
        return
    # quit() closes every window first (their closeEvent runs; one that
    # refuses keeps the app running), then aboutToQuit, then exec() returns.
    quitting: list[bool] = []

    def about_to_quit() -> None:
        quitting.append(True)

    app.aboutToQuit.connect(about_to_quit)
    try:
        app.quit()
        # A QMessageBox with no escape button stopped it (Qt ignores its
        # close): ended as closing a dialog does, and quit() asked again.
        toplevel = sys.modules.get(qt_attach.__name__ + ".toplevel")
        for _ in range(16):
            if (quitting or not _window_kept_open(app) or toplevel is None
                    or not toplevel.end_box_without_escape()):
                break
            app.quit()
    finally:
        try:
            app.aboutToQuit.disconnect(about_to_quit)
        except (TypeError, RuntimeError):
            pass
    if not quitting and _window_kept_open(app):
        _refused(name)


def _handler_raised(exc: BaseException) -> None:
    """A forwarded signal's Python handler raised *exc* in the wake slot.
    In a loop in the application's place (a test's wait, a dialog's exec):
    end it and the loops nested in it; *exc* comes out of the call that ran
    it.  In the application's own loop: raised out of this slot, where PyQt
    treats it as any slot's exception (``SystemExit`` ends the app, as
    ``sys.exit()`` in a slot does; another goes to ``sys.excepthook``)."""
    global _carried
    if qt_attach.in_top_level_loop():
        from .qt import toplevel

        if _carried is None:
            _carried = exc
        toplevel.end_loops()
        return
    raise exc


def _stop_forwarding() -> BaseException | None:
    """The previous handlers back; a forwarded signal not run yet runs now:
    what its handler raised, or None."""
    global _forwarding
    if not _forwarding:
        return None
    _forwarding = False
    try:
        _native.forward_disarm()
    except BaseException as exc:  # noqa: BLE001 - the handler's, carried out
        tb = exc.__traceback__
        return exc.with_traceback(tb.tb_next if tb is not None else None)
    return None


def _announce(message: str) -> None:
    """*message* to the run log, and to stderr unless install(stderr=False)."""
    logfile.log_event(message)
    if _to_stderr and sys.stderr is not None:
        try:
            sys.stderr.write(message + "\n")
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 - stderr may be broken
            pass


def _window_kept_open(app: Any) -> bool:
    """A top-level window still shown after quit(): one refused to close
    (Qt 6 emits aboutToQuit inside quit() when the close goes ahead)."""
    qtgui = sys.modules.get("PyQt6.QtGui")
    if qtgui is None or not isinstance(app, qtgui.QGuiApplication):
        return False
    return any(window.isVisible() for window in qtgui.QGuiApplication.topLevelWindows())


def _refused(name: str) -> None:
    """The application refused to close ("Cancel" in a save dialog): it goes
    on, and nothing of that signal is left - the next one asks again, and
    exec() later returns what the application says."""
    global _closing
    _closing = 0
    if sys.platform == "win32":
        _win.reset()
    else:
        _native.interrupt_reset()
    message = (f"pyqtguard: the application refused to close; it goes on "
               f"(another {name} asks it again)")
    _announce(message)


def _loop_ended() -> None:
    """exec() returned: disarm, or - after a signal - end as it asks."""
    global _notifier, _armed, _carried, _closing
    late = _stop_forwarding()
    carried, _carried = _carried or late, None
    if _notifier is not None:
        qt_attach.park("interrupt wake-up", _notifier)     # disabled, for the next loop
        _notifier = None
    if carried is not None:
        qt_attach.carry_out_of_exec(carried)    # raised once the listeners have run
    if not _armed:
        return
    read_now = not _closing
    signum = _closing = _closing or _interrupt_signal()
    if signum == _signal.SIGTERM and read_now:
        bounded_exit = sys.modules.get("pyqtguard.watchdog.exit")
        if bounded_exit is not None:
            bounded_exit.sigterm_closed_the_loop()   # its deadline: SIGTERM's status
    if signum:
        # Closing: the handler stays for a second signal during the exit (the
        # report and the end at once); the GUI thread no longer reads the pipe.
        if sys.platform == "win32":
            _win.stop_waking()
        else:
            _native.interrupt_stop_waking()
    else:
        # A signal can still land until the previous handlers are back:
        # disarm returns it, and it ends exec() as it would have a moment
        # earlier (the handlers are the app's again: a second one acts as
        # without pyqtguard).
        signum = _win.disarm() if sys.platform == "win32" else _native.interrupt_disarm()
        _armed = False
        if not signum:
            return
    if signum == _signal.SIGINT:
        raise KeyboardInterrupt
    raise SystemExit(EXIT_STATUS_SIGTERM)


def _deliver_again(signum: int) -> None:
    """A signal pyqtguard's handler received and the GUI thread never took
    (stuck in a slot), when uninstall() puts the previous handlers back: sent
    again, to them - SIGTERM's default action ends the process, as it would
    have without pyqtguard - not dropped with pyqtguard's state."""
    name = _NAMES.get(signum, f"signal {signum}")
    logfile.log_event(f"pyqtguard: {name} received and not taken before uninstall(): "
                      f"sent again to the handler put back")
    if sys.platform == "win32":
        _win.deliver_again()        # os.kill(pid, 2) would end the process there
        return
    os.kill(os.getpid(), signum)


def _disarm() -> None:
    global _notifier, _armed, _forwarding
    notifier, _notifier = _notifier, None
    if notifier is not None:
        qt_attach.retire(notifier)          # uninstall() may come from any thread
    qt_attach.drop_parked("interrupt wake-up")
    if _armed:
        received = _win.disarm() if sys.platform == "win32" else _native.interrupt_disarm()
        _armed = False
        if received and not _closing:
            _deliver_again(received)
    if _forwarding:
        # A signal forwarded but not run yet runs at the main thread's next
        # Python code, as it would have without pyqtguard.
        _forwarding = False
        _native.forward_disarm()
