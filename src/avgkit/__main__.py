"""``python -m avgkit`` runs the command line."""

import sys

from avgkit.cli import main

sys.exit(main())
