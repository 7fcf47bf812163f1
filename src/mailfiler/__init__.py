"""mailfiler: files email into a CRM, and says why it did what it did."""

__version__ = "0.1.0"
