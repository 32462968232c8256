"""``python -m sceau``: the same as the ``sceau`` command."""

from sceau.cli import main

raise SystemExit(main())
