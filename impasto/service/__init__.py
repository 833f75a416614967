"""The service layer under the web app: configuration, database, blob store, jobs and workers.

Layers, each usable without the ones above it:
``config`` (settings from the environment) → ``db``/``models`` (SQLAlchemy 2, Alembic migrations)
→ ``store`` (content-addressed images) → ``jobs`` (create, run, cancel: the job function that any
worker runs) → ``pool`` (the embedded in-process worker pool). The engine never imports this.
"""
