import sys

from fullglow.cli import main

sys.exit(main())
