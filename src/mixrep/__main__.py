"""`python -m mixrep` is the `mixrep` command."""

from mixrep.cli import main

raise SystemExit(main())
