"""Tests of core.store (the label database) and shared helpers for the worklist/triage/export/import tests."""
