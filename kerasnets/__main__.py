"""``python -m kerasnets`` runs the ``kerasnets`` command."""

import sys

from kerasnets.cli import main

sys.exit(main())
