"""Editable Jinja2 templates of the annual report (package data)."""
