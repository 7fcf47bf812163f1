"""The HTTP API: sign-in, options, the read -> review -> save flow, contacts and users."""
