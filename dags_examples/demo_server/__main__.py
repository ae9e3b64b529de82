"""``python -m demo_server --port 8765`` (run from ``dags_examples/``)."""

import sys

from demo_server.server import main

sys.exit(main())
