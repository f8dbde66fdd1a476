"""``python -m novamind_core.cli`` runs the ``novamind`` command."""

from novamind_core.cli import main

main()
