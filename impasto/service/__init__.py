"""The service layer under the web app: configuration, database, blob store, jobs and workers.

Layers, each usable without the ones above it:
``config`` (settings) → ``db``/``models`` (SQLAlchemy 2, Alembic migrations) → ``store``
(content-addressed images) → ``lifecycle`` (the job state machine) → ``jobs`` (create, run, list,
cancel: the job function that any worker runs) → ``pool`` (in-process workers) or
``distributed``/``celery_app`` (Celery workers) → ``runtime`` (one process's service) →
``intake`` (what a request asks of it: submit, again, save a style). The engine never imports this.
"""
