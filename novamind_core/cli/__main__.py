"""``python -m novamind_core.cli``: the same as the ``novamind`` command."""

from novamind_core.cli import main

main()
