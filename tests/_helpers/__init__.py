"""Helpers shared by test modules in different folders: importable as
``_helpers`` because pytest puts ``tests/`` (the folder of the top-level
conftest.py) on ``sys.path``. Fixtures stay in conftest.py (or in the
module that uses them); what builds their values, and the constants and
small functions several test modules use, live here."""
