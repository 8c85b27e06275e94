"""Use cases of the service (networks, datasets, training, scoring, evaluation), independent of HTTP."""
