"""`pyqtguard check` on main-guard spellings and idioms met in real apps
(review h5): what runs in a spawn/forkserver child is reported, what does
not is not."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from apprunner import REPO


def findings(tmp_path, source: str) -> list[tuple[int, str]]:
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(source).lstrip("\n"))
    result = subprocess.run([sys.executable, "-m", "pyqtguard", "check", "--format", "json",
                             str(script)], capture_output=True, text=True, timeout=60,
                            cwd=REPO)
    assert result.returncode in (0, 1), result.stderr
    return [(f["line"], f["code"]) for f in json.loads(result.stdout)]


def test_set_start_method_at_import_time_is_reported(tmp_path):
    """In every child it raises "context has already been set" (the child
    dies before its target; a Pool respawns it forever)."""
    assert findings(tmp_path, """
        import multiprocessing as mp
        def f(x):
            return x
        mp.set_start_method("spawn")
        if __name__ == "__main__":
            mp.freeze_support()
            with mp.Pool() as pool:
                pool.map(f, [1])
    """) == [(4, "PQG010")]


def test_set_start_method_forced_or_guarded_is_not_reported(tmp_path):
    assert findings(tmp_path, """
        import multiprocessing
        multiprocessing.set_start_method("spawn", force=True)
        if __name__ == "__main__":
            multiprocessing.freeze_support()
            multiprocessing.set_start_method("forkserver")
    """) == []


def test_guard_that_also_lets_children_in_is_not_a_guard(tmp_path):
    """``__name__ in ("__main__", "__mp_main__")`` is true in the children too."""
    assert findings(tmp_path, """
        import sys
        from PyQt6.QtWidgets import QApplication
        if __name__ in ("__main__", "__mp_main__"):
            app = QApplication(sys.argv)
    """) == [(4, "PQG001")]


def test_guard_against_the_children_is_a_guard(tmp_path):
    """``__name__ != "__mp_main__"`` keeps the code out of the children: it
    runs unchanged under the runtime guard too."""
    assert findings(tmp_path, """
        import sys
        from PyQt6.QtWidgets import QApplication
        if __name__ != "__mp_main__":
            app = QApplication(sys.argv)
            app.exec()
        if __name__ == "__mp_main__":
            print("in a child")
        else:
            QApplication.instance().exec()
    """) == []


def test_negated_main_guard_with_else(tmp_path):
    assert findings(tmp_path, """
        import sys
        from PyQt6.QtWidgets import QApplication
        if not __name__ == "__main__":
            QApplication(sys.argv)
        else:
            app = QApplication(sys.argv)
            app.exec()
    """) == [(4, "PQG001")]


def test_freeze_support_imported_under_the_guard_is_first(tmp_path):
    """The idiom of PyInstaller's guides: importing freeze_support (or
    multiprocessing) under the guard, then calling it, is calling it first."""
    assert findings(tmp_path, """
        import multiprocessing as mp
        def f(x):
            return x
        if __name__ == "__main__":
            \"\"\"Entry point.\"\"\"
            from multiprocessing import freeze_support
            freeze_support()
            with mp.Pool() as pool:
                pool.map(f, [1])
    """) == []
    assert findings(tmp_path, """
        def f(x):
            return x
        if __name__ == "__main__":
            import multiprocessing
            multiprocessing.freeze_support()
            with multiprocessing.Pool() as pool:
                pool.map(f, [1])
    """) == []


def test_freeze_support_after_other_work_is_still_a_warning(tmp_path):
    assert findings(tmp_path, """
        import multiprocessing as mp
        def f(x):
            return x
        if __name__ == "__main__":
            import sys
            print(sys.argv)
            mp.freeze_support()
    """) == [(4, "PQG008")]


def test_decorators_and_default_arguments_run_at_import_time(tmp_path):
    assert findings(tmp_path, """
        import sys
        from PyQt6.QtWidgets import QApplication
        def with_app(cls):
            cls.app = QApplication(sys.argv)
            return cls
        @with_app
        class Main:
            pass
        def run(app=QApplication(sys.argv)):
            return app
    """) == [(4, "PQG001"), (9, "PQG001")]
