"""One module per resource; each route opens at most one unit of work (see deps.py)."""
