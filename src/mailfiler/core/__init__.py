"""The pure core: bytes in, decisions out. No I/O, no SQL, no HTTP (see tests/test_layers.py)."""
