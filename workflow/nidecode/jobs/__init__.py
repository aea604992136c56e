"""Jobs: one decoding job within or across animals, its nulls and its record."""
