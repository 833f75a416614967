"""Alembic migrations, shipped inside the package so an installed Impasto can run them."""
