"""From a request to queued jobs: what a picture or clip request may ask, checked and stored, all or
nothing (plus URL imports, time estimates and the style strip's sketches)."""
