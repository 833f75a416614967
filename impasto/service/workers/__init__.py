"""Who runs jobs: the in-process pool, Celery workers over Redis, and the periodic sweep."""
