"""Storage: where node files live and the rules every read and write obeys, whatever the backend.

* :mod:`.base` resolves a node's base (``base_path`` or an ``fs`` connection, or ``base_uri`` + ``conn_id`` for
  object storage), one way for every runtime, as a :mod:`.protocol` backend (:mod:`.local_store`,
  :mod:`.object_store`).
* :mod:`.paths` decides whether a rendered path may be used at all (confinement: no escape from the base, symlinks
  resolved); every path is hostile input.
* :mod:`.local` opens confined paths on a POSIX filesystem without following symlinks swapped in after the check.
* :mod:`.atomic` publishes files atomically (temporary file, fsync, rename): never half a file.
"""
