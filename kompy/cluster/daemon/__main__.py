"""``python -m kompy.cluster.daemon --cluster NAME``: the daemon process (see process.py)."""

import sys

from kompy.cluster.daemon.process import main

sys.exit(main())
