"""`overgang`: the command line for running Overgang locally and looking after it.

One command group per module; `main` runs them. Exit codes: 0 done; 1 it could not be done
(one line on stderr says why); 2 bad usage. `overgang audit verify` keeps its own: 1 the
chain does not hold, 2 the log cannot be read."""

from deploy.local.cli.app import app, main

__all__ = ["app", "main"]
