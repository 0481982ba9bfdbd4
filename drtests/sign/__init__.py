"""Signatures an outsider checks with standard tools: ed25519 key pairs, DSSE envelopes over
in-toto Statements, SSH signatures for sign-offs."""
