"""``python -m grpoflaw_cli`` runs the CLI."""

from grpoflaw_cli.cli import main

main()
