"""The built-in drill: one module per phase, collected in order by the plugin (phase_*.py).

These modules orchestrate and assert; the protocol code lives in topology, es/ and hosts/, and
what differs between the kinds of drill in modes/.
"""
