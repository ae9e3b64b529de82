"""The offline demo API the examples call (see :mod:`.server`). Not a DAG folder: ``.airflowignore`` skips it."""
