"""Alembic migration scripts of the label database (run programmatically by ``core.store.migrate``;
no alembic.ini is needed). One revision per released schema change, never edited once released."""
