"""The operator's engine between the watch and the core: a deduplicating work queue, one
deadline scheduler for every timer, and the reconcilers that gather, decide and act."""
