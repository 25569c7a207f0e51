"""Entry point: `.venv-sam/bin/python -m local --runtime-python .venv/bin/python` (what `make run` does)."""

import sys

from local.stack import main

sys.exit(main())
