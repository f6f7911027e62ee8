"""Alembic revisions, one file each, named `YYYY_MM_DD_<rev>_<slug>.py`."""
