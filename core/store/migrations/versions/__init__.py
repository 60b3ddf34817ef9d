"""Alembic revisions (``NNNN_name.py``), applied in order by ``core.store.migrate.upgrade``."""
