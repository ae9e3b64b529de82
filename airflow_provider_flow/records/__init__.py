"""Records: the data that flows between nodes, and the files and references that carry it when it is large.

* :mod:`.codecs` turns records into bytes and back (JSON, NDJSON, CSV, text).
* :mod:`.writer` writes records to a file atomically; :mod:`.reader` reads files and file references back,
  confined and verified; :mod:`.reference` is the reference itself.
* :mod:`.input` reads whatever a node was handed (inline records, references, several upstreams);
  :mod:`.output` hands a node's result on (inline, or a file reference).
* :mod:`.operations` are the streaming record operations (filter, select, sort with spilling, ...) that the
  ``transform`` runtime composes.
"""
