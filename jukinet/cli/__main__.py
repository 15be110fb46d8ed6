"""`python -m jukinet.cli …`: the same as the `juki-net` command."""

import sys

from jukinet.cli import main

sys.exit(main())
