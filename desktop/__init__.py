"""Fracture Triage desktop app (PySide6). Adapts ``core`` objects; owns no domain logic."""
