"""``python -m jmapchat``: the ``jmapchat`` command."""

import sys

from jmapchat.cli import main

sys.exit(main())
