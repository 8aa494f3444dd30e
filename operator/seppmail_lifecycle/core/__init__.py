"""The pure core: state machines, consistency checks, scheduling and billing.

Every function here is a function of (spec, observed state, policy, now): no I/O, no kopf, no
clock. The handlers gather the inputs, call the core, and apply what it decides.
"""
