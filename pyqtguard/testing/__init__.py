"""The pytest plugin's checks (entry point: :mod:`pyqtguard.pytest_plugin`):
:mod:`.settings` (options and ini keys), :mod:`.leaks` (what a test left
running), :mod:`.freezes` (GUI freezes inside event loops), :mod:`.lint`
(``pyqtguard check`` as a test item) and :mod:`.plugin` (the hooks that tie
them to each test, crash reports naming the test, bounded exit)."""
