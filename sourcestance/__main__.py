"""`python -m sourcestance` is the `sourcestance` command."""

import sys

from sourcestance.cli import main

sys.exit(main())
