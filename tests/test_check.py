"""`pyqtguard check` on a corpus of app shapes (tests/corpus/), real files."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from apprunner import REPO

CORPUS = Path(__file__).resolve().parent / "corpus"


def check(*paths: str | Path, fmt: str = "text") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pyqtguard", "check", "--format", fmt,
                           *map(str, paths)], capture_output=True, text=True, timeout=60,
                          cwd=REPO)


def codes_by_line(folder: str) -> set[tuple[str, int, str]]:
    result = check(CORPUS / folder, fmt="json")
    return {(Path(f["path"]).name, f["line"], f["code"]) for f in json.loads(result.stdout)}


def test_unguarded_qapplication():
    found = codes_by_line("unguarded_app")
    assert found == {("app.py", 10, "PQG001"), ("app.py", 12, "PQG003")}


def test_unguarded_pool_and_executor():
    assert codes_by_line("unguarded_pool") == {("app.py", 8, "PQG005")}
    assert codes_by_line("unguarded_executor") == {("app.py", 8, "PQG005")}


def test_guarded_main_importing_a_module_that_builds_a_qapplication():
    found = codes_by_line("imports_gui_module")
    assert ("main.py", 5, "PQG007") in found
    assert ("gui.py", 4, "PQG001") in found
    text = check(CORPUS / "imports_gui_module" / "main.py").stdout
    assert "imported module 'gui' builds a QApplication at import time (" in text
    assert "gui.py:4)" in text


def test_button_starting_a_process_in_an_unguarded_app():
    found = codes_by_line("button_process")
    assert found == {("app.py", 15, "PQG001"), ("app.py", 18, "PQG003"),
                     ("app.py", 19, "PQG004"), ("app.py", 20, "PQG004"),
                     ("app.py", 21, "PQG002")}


def test_python_dash_m_entry_point():
    """A package's __main__ is not re-run in children; the module its
    process target lives in is imported there, and builds a QApplication."""
    found = codes_by_line("entry_package")
    assert found == {("__main__.py", 4, "PQG007"), ("render.py", 4, "PQG001")}


@pytest.mark.parametrize("folder", ["guarded_widgets", "guarded_pool_app",
                                    "guarded_package", "guarded_executor_noqa"])
def test_correctly_guarded_apps_have_no_finding(folder):
    result = check(CORPUS / folder)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("All checks passed: "), result.stdout
    assert len(result.stdout.splitlines()) == 1


def test_nothing_to_report_is_one_summary_line_unless_quiet(tmp_path):
    (tmp_path / "a.py").write_text("import PyQt6\n")
    (tmp_path / "b.py").write_text("x = 1\n")
    result = check(tmp_path)
    assert (result.returncode, result.stdout) == (0, "All checks passed: 2 files checked.\n")
    quiet = check("--quiet", tmp_path)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    assert check("-q", tmp_path).stdout == ""
    assert check(tmp_path, fmt="json").stdout == "[]\n"        # stays valid JSON
    os.mkfifo(tmp_path / "c.py")
    noted = check(tmp_path)
    assert noted.returncode == 0
    assert noted.stdout == ("No findings: 2 files checked, 1 not analysed "
                            "(see the notes above).\n")
    assert "c.py: not a regular file (FIFO), skipped" in noted.stderr


def test_findings_have_no_summary_line(tmp_path):
    (tmp_path / "pool.py").write_text("import multiprocessing\nmultiprocessing.Pool()\n")
    result = check(tmp_path)
    assert result.returncode == 1 and len(result.stdout.splitlines()) == 1


def test_output_format_and_exit_status():
    result = check(CORPUS / "unguarded_pool" / "app.py")
    assert result.returncode == 1
    line = result.stdout.splitlines()[0]
    assert line.startswith(f"{CORPUS / 'unguarded_pool' / 'app.py'}:8:8: PQG005 ")
    assert 'if __name__ == "__main__":' in line


def test_missing_freeze_support_is_a_warning(tmp_path):
    script = tmp_path / "app.py"
    script.write_text("import multiprocessing\n\ndef f(x):\n    return x\n\n"
                      "if __name__ == '__main__':\n    with multiprocessing.Pool() as p:\n"
                      "        p.map(f, [1])\n")
    found = json.loads(check(script, fmt="json").stdout)
    assert [(f["line"], f["code"], f["severity"]) for f in found] == [(6, "PQG008", "warning")]


def test_calls_at_import_time_into_local_functions_are_followed(tmp_path):
    script = tmp_path / "app.py"
    script.write_text("import sys\nfrom PyQt6.QtWidgets import QApplication\n\n"
                      "def main():\n    app = QApplication(sys.argv)\n    return app.exec()\n\n"
                      "main()\n")
    text = check(script).stdout
    assert ":5:11: PQG001" in text and "called at import time on line 8" in text
    assert ":6:12: PQG002" in text


def test_noqa_silences_one_code_on_one_line(tmp_path):
    script = tmp_path / "app.py"
    script.write_text("import sys\nfrom PyQt6.QtWidgets import QApplication\n"
                      "app = QApplication(sys.argv)  # noqa: PQG002\n"
                      "app.exec()  # noqa: PQG002\n")
    found = json.loads(check(script, fmt="json").stdout)
    assert [f["code"] for f in found] == ["PQG001"]


def test_scripts_without_qt_or_multiprocessing_are_not_checked(tmp_path):
    script = tmp_path / "tool.py"
    script.write_text("import threading\nthreading.Thread(target=print).start()\n")
    assert check(script).returncode == 0


def test_syntax_error_is_a_finding_and_other_files_go_on(tmp_path):
    (tmp_path / "broken.py").write_text("import PyQt6\ndef f(:\n    pass\n")
    (tmp_path / "pool.py").write_text("import multiprocessing\nmultiprocessing.Pool()\n")
    found = json.loads(check(tmp_path, fmt="json").stdout)
    assert {(Path(f["path"]).name, f["line"], f["code"]) for f in found} == {
        ("broken.py", 2, "PQG009"), ("pool.py", 2, "PQG005")}


def test_missing_path_binary_and_non_utf8_files(tmp_path):
    (tmp_path / "blob.py").write_bytes(b"\x00\x01\x02PyQt6")
    (tmp_path / "latin.py").write_bytes("import PyQt6  # caf\xe9\n".encode("latin-1"))
    result = check(tmp_path)
    assert result.returncode == 0
    assert "blob.py: binary file, skipped" in result.stderr
    assert "latin.py: not UTF-8, skipped (and no coding cookie names its encoding)" \
        in result.stderr
    missing = check(tmp_path / "nope.py")
    assert missing.returncode == 2 and "no such file" in missing.stderr
