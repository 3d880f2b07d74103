"""pyqtguard's pytest plugin: the test that leaked a thread, froze the GUI or
crashed the process is named, and a test run never hangs at exit.

Registered through the ``pytest11`` entry point and inert until asked::

    pytest --pyqtguard
    pytest -p pyqtguard
    # or in pyproject.toml
    [tool.pytest.ini_options]
    pyqtguard = true

Inert, it adds its options and a marker and imports nothing else of
pyqtguard.  Active, the checks live in :mod:`pyqtguard.testing` (see
``docs/pytest.md``).
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import pytest

PLUGIN_NAME = "pyqtguard"
ACTIVE_PLUGIN_NAME = "pyqtguard-active"

MARKER = ("pyqtguard(allow_threads=False, allow_widgets=False, allow_exceptions=False, "
          "freeze_ms=None): per-test settings of pyqtguard's checks; allow_* lets this "
          "test leak threads/widgets or raise uncaught exceptions, freeze_ms sets its "
          "GUI-freeze budget (0: off)")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pyqtguard", "pyqtguard: leaks, exceptions, freezes, crashes")
    group.addoption("--pyqtguard", action="store_true", default=None,
                    help="turn pyqtguard's checks on (also: ini 'pyqtguard = true' or "
                         "'-p pyqtguard')")
    group.addoption("--pyqtguard-leaks", choices=("fail", "warn", "off"), default=None,
                    help="threads, QThreads, pool tasks and workers a test leaves "
                         "running: fail the test (default), warn, or off")
    group.addoption("--pyqtguard-leak-grace", type=float, default=None, metavar="SECONDS",
                    help="how long a test's threads may take to end after its "
                         "teardown before they count as leaked (default 1.0)")
    group.addoption("--pyqtguard-widgets", action="store_true", default=None,
                    help="also fail tests that leave top-level widgets alive")
    group.addoption("--pyqtguard-exceptions", choices=("fail", "warn", "off"), default=None,
                    help="uncaught exceptions from any thread, slot, virtual or __del__ "
                         "during a test: fail it (default), warn, or off")
    group.addoption("--pyqtguard-freeze-ms", type=int, default=None, metavar="MS",
                    help="fail a test whose GUI thread was blocked this long while an "
                         "event loop ran (default 0: off)")
    group.addoption("--pyqtguard-exit-timeout", type=float, default=None, metavar="SECONDS",
                    help="after the session, end the process with status 124 if it has "
                         "not ended within this time, naming the threads alive "
                         "(default 30; 0: no limit)")
    group.addoption("--pyqtguard-check-threads", choices=("fail", "warn", "off"), default=None,
                    help="a Qt widget or pixmap used from a thread other than the GUI "
                         "thread during a test: fail it, warn, or off (default; see "
                         "install(check_threads=True))")
    group.addoption("--pyqtguard-check", action="store_true", default=None,
                    help="run 'pyqtguard check' over the test files and the project's "
                         "packages, as one test item")
    parser.addini("pyqtguard", "turn pyqtguard's checks on", type="bool", default=False)
    parser.addini("pyqtguard_leaks", "fail, warn or off (see --pyqtguard-leaks)",
                  default="fail")
    parser.addini("pyqtguard_leak_grace", "see --pyqtguard-leak-grace", default="1.0")
    parser.addini("pyqtguard_widgets", "see --pyqtguard-widgets", type="bool", default=False)
    parser.addini("pyqtguard_exceptions", "fail, warn or off (see --pyqtguard-exceptions)",
                  default="fail")
    parser.addini("pyqtguard_freeze_ms", "see --pyqtguard-freeze-ms", default="0")
    parser.addini("pyqtguard_exit_timeout", "see --pyqtguard-exit-timeout", default="30")
    parser.addini("pyqtguard_check", "see --pyqtguard-check", type="bool", default=False)
    parser.addini("pyqtguard_check_threads",
                  "fail, warn or off (see --pyqtguard-check-threads)", default="off")


def _asked_for(config: pytest.Config) -> bool:
    if config.getoption("--pyqtguard"):
        return True
    plugins = getattr(config.known_args_namespace, "plugins", None) or []
    if PLUGIN_NAME in plugins:
        return True
    return bool(config.getini("pyqtguard"))


# pyqtguard's modules as the last active session left them.  pytester's
# in-process runs drop the modules a run imported once it ends; pyqtguard's
# state lives in them (and in its C core, which is not set up again), so a
# later session in the process must use the same ones, not fresh copies beside
# the old ones that the ``pyqtguard`` package still refers to.
_modules: dict[str, object] = {}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)
    if not _asked_for(config) or config.pluginmanager.has_plugin(ACTIVE_PLUGIN_NAME):
        return
    import sys

    for name, module in _modules.items():
        sys.modules.setdefault(name, module)  # type: ignore[arg-type]
    from .testing.plugin import GuardPlugin
    from .testing.settings import Settings

    config.pluginmanager.register(GuardPlugin(config, Settings.from_config(config)),
                                  ACTIVE_PLUGIN_NAME)


def pytest_unconfigure(config: pytest.Config) -> None:
    if config.pluginmanager.has_plugin(ACTIVE_PLUGIN_NAME):
        import sys

        _modules.update((name, module) for name, module in list(sys.modules.items())
                        if name == "pyqtguard" or name.startswith("pyqtguard."))
