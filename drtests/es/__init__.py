"""Elasticsearch: client.py (clusters, counts), snapshots.py (repository, snapshot, restore),
digests.py (fingerprints, full digests)."""
