"""Verification: probes run inside a target interpreter, test CAs and loopback servers, sandboxes."""
