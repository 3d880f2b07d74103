"""Where a refused child was, and what to do about it (for
:mod:`pyqtguard.children.child`, loaded only when a child refuses).

The line to name is the one that did it - the ``QApplication(...)`` in
``ui_setup.py``, not the ``import ui_setup`` in the main module - and the
path from the main module to it, one ``file:line`` per step of the app's
own code: ``app.py:4 -> ui_setup.py:5``.  The advice follows the path:

- the main module's top level did it (or called what did): put that line
  under the main guard;
- a module the main module imports did it at its top level: move that import
  under the main guard, or do it in a function of that module;
- a module the child imports to find the process's target did it (no main
  module on the way): do it in a function of that module.

Example::

    >>> chain = app_code_chain(sys._getframe())        # doctest: +SKIP
    >>> " -> ".join(link.name for link in chain.links)  # doctest: +SKIP
    'app.py:4 -> ui_setup.py:5'
"""
from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import FrameType, TracebackType


class Link:
    """One frame of the app's code on the way to the refused call."""

    __slots__ = ("file", "line", "module", "top_level")

    def __init__(self, file: str, line: int, module: str, top_level: bool) -> None:
        self.file = file
        self.line = line
        self.module = module            # the module's __name__
        self.top_level = top_level      # module-level code, run at import

    @property
    def name(self) -> str:
        return f"{os.path.basename(self.file)}:{self.line}" if self.line else self.file


class Chain:
    """The app's frames, outermost first; ``from_main``: the first is the
    re-run main module (``__mp_main__``)."""

    __slots__ = ("links", "from_main")

    def __init__(self, links: list[Link], from_main: bool) -> None:
        self.links = links
        self.from_main = from_main

    @property
    def innermost(self) -> Link:
        return self.links[-1]

    def imported(self) -> Link | None:
        """The module-level frame of the first module the main module
        imports on the way, if the path goes through an import."""
        if self.from_main and len(self.links) > 1 and self.links[1].top_level:
            return self.links[1]
        return None

    def last_top_level(self) -> Link:
        """The top-level statement, outside the main module, that ran it all."""
        candidates = [link for link in self.links[1 if self.from_main else 0:] if link.top_level]
        return candidates[-1] if candidates else self.innermost


def _library_paths() -> tuple[str, ...]:
    import sysconfig

    paths = sysconfig.get_paths()
    return tuple(p for p in {paths.get("stdlib"), paths.get("purelib"), paths.get("platlib"),
                             os.path.dirname(os.path.abspath(__file__))} if p)


def app_code_chain(frame: FrameType | None) -> Chain:
    """The app's own frames from *frame* outwards, up to the re-run main
    module; outside the standard library, site-packages and pyqtguard, and
    not ``<frozen ...>`` or ``<string>`` code."""
    library = _library_paths()
    links: list[Link] = []
    from_main = False
    while frame is not None:
        code = frame.f_code
        module = frame.f_globals.get("__name__", "")
        is_main = module == "__mp_main__"
        file = code.co_filename
        if is_main or not (file.startswith(library) or file.startswith("<")):
            links.append(Link(file, frame.f_lineno or 0, str(module), code.co_name == "<module>"))
        if is_main:
            from_main = True
            break
        frame = frame.f_back
    links.reverse()
    return Chain(links or [Link("<main module>", 0, "__mp_main__", True)], from_main)


def error_chain(tb: TracebackType | None) -> Chain:
    """The app's frames of an exception's traceback, from the re-run main
    module (``__mp_main__``) to where it was raised, each at the line the
    traceback names."""
    links: list[Link] = []
    library = _library_paths()
    from_main = False
    while tb is not None:
        frame = tb.tb_frame
        module = str(frame.f_globals.get("__name__", ""))
        file = frame.f_code.co_filename
        if module == "__mp_main__" and not from_main:
            from_main = True
            links = []
        if from_main and (module == "__mp_main__" or not (
                file.startswith(library) or file.startswith("<"))):
            links.append(Link(file, tb.tb_lineno or 0, module,
                              frame.f_code.co_name == "<module>"))
        tb = tb.tb_next
    return Chain(links or [Link("<main module>", 0, "__mp_main__", True)], from_main)


def source_line(link: Link) -> str:
    """The text of *link*'s line (``...`` when it cannot be read)."""
    import linecache

    return linecache.getline(link.file, link.line).strip() or "..."


_HEAD = ("A process started with the 'spawn' or 'forkserver' method runs the main "
         "module again: everything at its top level runs in every child.\n")


def message(what: str, kind: str, fix: str, chain: Chain) -> str:
    """The child's report: what, where, the path there, and the fix.
    *kind*: ``"app"`` or ``"process"`` (or anything else: generic advice)."""
    inner = chain.innermost
    lines = [f"pyqtguard: {inner.name} {what} while this child process starts (it re-imports "
             "the main module and what its target needs).\n"]
    if len(chain.links) > 1:
        how = "imported" if chain.imported() or not chain.from_main else "called"
        start = "the main module" if chain.from_main else "the module the child imports"
        lines.append(f"  {' -> '.join(link.name for link in chain.links)}  "
                     f"({how} from {start})\n")
    lines.append(f"  ({inner.file}, line {inner.line})\n")
    lines.append(_HEAD)
    lines.append(_advice(kind, fix, chain))
    return "".join(lines)


_FUNCTIONS = {
    "app": ("create_app", "return QApplication(sys.argv)", "app = {module}.create_app()"),
    "process": ("start_pool", "return multiprocessing.Pool()", "pool = {module}.start_pool()"),
}


def _advice(kind: str, fix: str, chain: Chain) -> str:
    imported = chain.imported()
    if chain.from_main and imported is None:
        where = "that code" if len(chain.links) == 1 else f"the call at {chain.links[0].name}"
        return ("Fix: put " + where + " under the main guard, for example:\n\n"
                '    if __name__ == "__main__":\n'
                f"        {fix}\n")
    top = chain.last_top_level()
    module = top.module
    short = os.path.basename(top.file)
    function, body, call = _FUNCTIONS.get(kind, ("setup", "...", "{module}.setup()"))
    example = (f"    # {short}\n"
               f"    def {function}():\n"
               f"        {body}\n")
    if imported is None:
        return (f"Fix: {short} does it when it is imported, at {top.name}; the child imports "
                f"{module} to find the process's target, so that line runs in every child. "
                "Do it in a function instead, called where it is needed, for example:\n\n"
                + example)
    main = chain.links[0]
    return (f"Fix: {short} does it when it is imported ({top.name}), and the main module "
            f"imports {imported.module} at its top level ({main.name}). Move that import "
            "under the main guard:\n\n"
            '    if __name__ == "__main__":\n'
            f"        import {imported.module}\n"
            "        ...\n\n"
            f"or do it in a function of {module} that the main guard calls:\n\n"
            + example + "\n"
            f"    # {os.path.basename(main.file)}\n"
            '    if __name__ == "__main__":\n'
            f"        {call.format(module=module)}\n")

