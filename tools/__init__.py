"""Developer tools run from the repository (not installed): `python -m tools.<name>`."""
