"""The provisioning backend ("actual state"), DNS and SMTP."""
