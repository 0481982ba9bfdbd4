"""What an auditor checks, built on record/ and sign/: statements, the ledger, sign-offs,
verification, packs, controls."""
