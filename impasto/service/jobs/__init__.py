"""Jobs of every kind: the state machine (:mod:`.lifecycle`), what a worker runs them with
(:mod:`.context`), the kinds (:mod:`.kinds`: :mod:`.pictures`, :mod:`.clips`), running one and what
can be done to it after (:mod:`.core`), its progress (:mod:`.progress`) and the queries over jobs
(:mod:`.queries`)."""

from . import clips, pictures  # each registers its kind with .kinds

__all__ = ["clips", "pictures"]
