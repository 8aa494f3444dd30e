"""The only code that talks to the Kubernetes API: the client, the object store, conversions."""
