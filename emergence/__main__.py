"""``python -m emergence`` is the ``emergence`` command."""
import sys

from emergence.cli import main

sys.exit(main())
