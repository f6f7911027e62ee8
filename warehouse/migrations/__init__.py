"""Alembic migrations of the warehouse (applied by `warehouse.engine.open_warehouse`)."""
