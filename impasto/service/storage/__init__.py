"""Where rows and pictures are kept: the database, its models and migrations, the blob stores and
what refers to a blob. The bottom of the service: it imports nothing else of it but the settings."""
