"""The built-in CRM: SQLAlchemy tables in SQLite (the default) or PostgreSQL."""
