# project/ is a test suite for the plugin (tests/e2e/test_pytest_plugin.py
# runs pytest on a copy of it), not tests of stetho's own run.
collect_ignore_glob = ["project/*"]
