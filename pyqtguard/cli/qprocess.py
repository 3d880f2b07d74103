"""``pyqtguard run``: an app that restarts itself through ``QProcess`` comes
back guarded, as one that restarts through ``os.execv`` or ``subprocess``
does (:mod:`.restart`).

Qt starts the program in C++, out of reach of restart.py's wrappers, so the
usual Qt restart - ``QProcess.startDetached(sys.executable, sys.argv)``,
then ``app.quit()`` - would come back without pyqtguard.  While ``run``
runs a target, the ``QProcess`` calls that start a program look at the
command first and apply restart.py's rule to it (its ``_restart_args``,
handed over: the same command is rewritten, every other left as it is, a
failure one warning):

- ``start(program, arguments, mode)``, ``startDetached(program, arguments,
  workingDirectory)`` (static; ``(ok, pid)`` back) and ``execute(program,
  arguments)`` (static): the arguments given, keyword or not;
- ``start(mode)``, ``open(mode)`` and the member ``startDetached()``: the
  object's ``program()`` and ``arguments()``, rewritten with
  ``setArguments`` for the call; put back after it unless the program
  runs (a started QProcess's ``arguments()`` are what runs: Qt refuses to
  change them then; a detached start's are the app's again);
- ``startCommand(command, mode)``: the command split as Qt splits it, then
  started as Qt does, with ``start(program, arguments, mode)``.

The object's ``processEnvironment()`` is the new environment (the parent's
when it inherits: ``PYQTGUARD_DISABLE=1`` there leaves the command alone)
and its ``workingDirectory()`` the folder a relative script is read
against; the static calls use the app's own.  A subclass's methods reach
these through ``QProcess``'s (its Python overrides of ``program()``... are
not what Qt reads, so they are not read here either).  The wrappers go
into ``QProcess``'s dictionary when sip completes the class
(:func:`pyqtguard.cli.restart._attach_qprocess`); the originals stay in
``restart._originals`` beside them (``QProcess.start``...), as
os's and subprocess's do.
"""
from __future__ import annotations

import types

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_NAMES = ("start", "startDetached", "startCommand", "open", "execute")
_qprocess: Any = None           # the class, once wrapped
# What restart.py hands over (this module does not import it back): its
# originals' dict, its rule for a command (new argv or None) and its warning.
_originals: dict[str, Any] = {}
_command: Callable[[Any, Any, Any, Any], list[str] | None] | None = None
_not_guarded: Callable[[BaseException], None] | None = None


def wrap(cls: Any, type_dict: dict[str, Any] | None, originals: dict[str, Any],
         command: Callable[[Any, Any, Any, Any], list[str] | None],
         not_guarded: Callable[[BaseException], None]) -> None:
    """Put the wrappers in *type_dict* while sip completes *cls*, else on
    the class (completing it first); the originals go into *originals*
    (restart.py's), *command* is restart.py's rule
    (``command(program, argv, env, cwd)``: the new argv or None) and
    *not_guarded* its one warning."""
    global _qprocess, _originals, _command, _not_guarded
    from .. import _native

    if type_dict is None:
        getattr(cls, "start")                     # noqa: B018 - completes the class
    own = type_dict if type_dict is not None else _native.type_dict(cls)
    if any(own.get(name) is None for name in _NAMES):
        return                                  # not the QProcess this was written for
    _qprocess, _originals, _command, _not_guarded = cls, originals, command, not_guarded
    for name in _NAMES:
        key = f"QProcess.{name}"
        if key in originals:
            continue
        originals[key] = own[name]
        placed = _PLACED[name]
        if type_dict is not None:
            type_dict[name] = placed
        else:
            setattr(cls, name, placed)


def _original(name: str, obj: Any = None) -> Any:
    """The original *name*, bound as the class would bind it."""
    return _originals[f"QProcess.{name}"].__get__(obj, _qprocess)


# ---- the rule, applied -----------------------------------------------------------

def _new_arguments(program: Any, arguments: Any, proc: Any,
                   cwd: Any = None) -> list[str] | None:
    """*arguments* rewritten to run the app under ``pyqtguard run`` (restart.py's
    rule), or None to leave them; *proc* the QProcess whose environment and
    working directory apply (None: the app's environment and *cwd*, as for
    the static calls)."""
    if _command is None or not isinstance(program, str) or not isinstance(arguments, list):
        return None
    try:
        env = None
        cwd = cwd or None
        if proc is not None:
            env = _environment(proc)
            cwd = _qprocess.workingDirectory(proc) or None
        new = _command(program, [program, *arguments], env, cwd)
    except Exception as exc:  # noqa: BLE001 - the restart happens either way
        _warn(exc)
        return None
    return None if new is None else new[1:]


def _warn(exc: BaseException) -> None:
    if _not_guarded is not None:
        _not_guarded(exc)


def _environment(proc: Any) -> dict[str, str] | None:
    """The environment *proc* starts its program with (None: the app's)."""
    env = _qprocess.processEnvironment(proc)
    inherits = getattr(env, "inheritsFromParent", None)      # Qt 6.3
    if inherits() if inherits is not None else env.isEmpty():
        return None
    return {name: env.value(name) for name in env.keys()}


def _listed(arguments: Any) -> Any:
    """*arguments* as a list (an iterable read once is read here, then
    handed on), or as they are if they are no iterable of strings (Qt's
    to refuse)."""
    if isinstance(arguments, list) or isinstance(arguments, (str, bytes)):
        return arguments
    try:
        return list(arguments)
    except TypeError:
        return arguments


def _rewrite_call(args: tuple[Any, ...], kwargs: dict[str, Any], at: int, proc: Any,
                  cwd: Any = None) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """A call ``(program, arguments, ...)`` (*at*: the program's position)
    with its arguments rewritten, or as it was."""
    program = args[at] if len(args) > at else None
    kwargs = dict(kwargs)
    if len(args) > at + 1:
        arguments = _listed(args[at + 1])
        args = (*args[:at + 1], arguments, *args[at + 2:])
    elif "arguments" in kwargs:
        arguments = kwargs["arguments"] = _listed(kwargs["arguments"])
    else:
        arguments = []
    new = _new_arguments(program, arguments, proc, cwd)
    if new is None:
        return args, kwargs
    if len(args) > at + 1:
        return (*args[:at + 1], new, *args[at + 2:]), kwargs
    kwargs["arguments"] = new
    return args, kwargs


def _run_own_command(proc: Any, call: Any) -> Any:
    """*call* (``start()``, ``open()``, ``startDetached()``) with *proc*'s own
    program and arguments rewritten for the call, put back after it."""
    try:
        arguments = _qprocess.arguments(proc)
        new = _new_arguments(_qprocess.program(proc), arguments, proc)
    except Exception as exc:  # noqa: BLE001 - the restart happens either way
        _warn(exc)
        new = None
    if new is None:
        return call()
    _qprocess.setArguments(proc, new)
    try:
        return call()
    finally:
        # Put back unless the program runs (Qt refuses then: it shows what runs)
        if _qprocess.state(proc) == _qprocess.ProcessState.NotRunning:
            _qprocess.setArguments(proc, arguments)


# ---- the wrappers ----------------------------------------------------------------

def start(self: Any, *args: Any, **kwargs: Any) -> None:
    original = _original("start")
    if not isinstance(self, _qprocess):
        return original(self, *args, **kwargs)  # type: ignore[no-any-return]
    if (args and (args[0] is None or isinstance(args[0], str))) or "arguments" in kwargs:
        # start(program, arguments, mode); else start(mode)
        args, kwargs = _rewrite_call(args, kwargs, 0, self)
        return original(self, *args, **kwargs)  # type: ignore[no-any-return]
    return _run_own_command(self, lambda: original(self, *args, **kwargs))  # type: ignore[no-any-return]


def open(self: Any, *args: Any, **kwargs: Any) -> bool:  # noqa: A001 - QIODevice's name
    original = _original("open")
    if not isinstance(self, _qprocess):
        return original(self, *args, **kwargs)  # type: ignore[no-any-return]
    return _run_own_command(self, lambda: original(self, *args, **kwargs))  # type: ignore[no-any-return]


def startCommand(self: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N802 - Qt's name
    original = _original("startCommand")
    if not isinstance(self, _qprocess) or not args or not isinstance(args[0], str):
        return original(self, *args, **kwargs)  # type: ignore[no-any-return]
    words = split_command(args[0])
    new = _new_arguments(words[0], words[1:], self) if words else None
    if new is None:
        return original(self, *args, **kwargs)  # type: ignore[no-any-return]
    # what QProcess::startCommand does: start(program, arguments, mode)
    return _original("start")(self, words[0], new, *args[1:], **kwargs)  # type: ignore[no-any-return]


def execute(*args: Any, **kwargs: Any) -> int:
    args, kwargs = _rewrite_call(args, kwargs, 0, None)
    return _original("execute")(*args, **kwargs)  # type: ignore[no-any-return]


def _start_detached(obj: Any, *args: Any, **kwargs: Any) -> tuple[bool, int]:
    """``startDetached``: the member one (``p.startDetached()``,
    ``QProcess.startDetached(p)``) or the static one (``(program,
    arguments, workingDirectory)``, through the class or an object)."""
    original = _original("startDetached", obj)
    if obj is not None and not args and not kwargs:
        proc = obj
    elif obj is None and len(args) == 1 and not kwargs and isinstance(args[0], _qprocess):
        proc = args[0]
    else:
        # a relative script is read against the working directory given
        cwd = args[2] if len(args) > 2 else kwargs.get("workingDirectory")
        args, kwargs = _rewrite_call(args, kwargs, 0, None, cwd if isinstance(cwd, str) else None)
        return original(*args, **kwargs)  # type: ignore[no-any-return]
    return _run_own_command(proc, lambda: original(*args, **kwargs))  # type: ignore[no-any-return]


class _StartDetached:
    """``startDetached`` is static and a member under one name: bound
    through an object (a method, equal each time, as sip's), plain through
    the class."""

    def __get__(self, obj: Any, cls: Any = None) -> Any:
        if obj is None:
            return _start_detached_static
        return types.MethodType(_start_detached, obj)


def _start_detached_static(*args: Any, **kwargs: Any) -> tuple[bool, int]:
    return _start_detached(None, *args, **kwargs)


start_detached = _StartDetached()
_PLACED = {"start": start, "open": open, "startCommand": startCommand,
           "execute": staticmethod(execute), "startDetached": start_detached}


def split_command(command: str) -> list[str]:
    '''*command* split into program and arguments as ``QProcess::splitCommand``
    does (not bound by PyQt6): words between white space, double quotes
    around a word with spaces, three double quotes for a quote itself; an
    empty word is none.

    >>> split_command('python "a b" c"""d ""')
    ['python', 'a b', 'c"d']
    '''
    args: list[str] = []
    word: list[str] = []
    quotes = 0
    quoted = False
    for char in command:
        if char == '"':
            quotes += 1
            if quotes == 3:
                quotes = 0
                word.append(char)
            continue
        if quotes:
            if quotes == 1:
                quoted = not quoted
            quotes = 0
        if not quoted and _qt_space(char):
            if word:
                args.append("".join(word))
                word = []
        else:
            word.append(char)
    if word:
        args.append("".join(word))
    return args


def _qt_space(char: str) -> bool:
    """``QChar::isSpace``: python's ``isspace`` but for the four
    information separators, which python counts as space."""
    return char.isspace() and char not in "\x1c\x1d\x1e\x1f"
