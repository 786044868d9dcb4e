"""`python -m provisioning plan|apply|drift`: see provisioning/cli.py."""

import sys

from provisioning.cli import main

sys.exit(main())
