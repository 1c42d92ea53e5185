"""Run the demo: ``python -m demo`` from the repository root (what ``./dev.sh demo`` does)."""

import sys

from demo.run import main

sys.exit(main())
