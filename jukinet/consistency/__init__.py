"""整合性確認: adjacent tiers prove they hold the same records of a municipality, and repair
what differs, sending digests and keys, not records, until the differing persons are known.

leaves.py     what is compared: per person, the latest version from the municipality, digested
snapshot.py   one side's leaves in key order, with range digests in O(1) (prefix XOR)
narrowing.py  the recursive range comparison that finds the differing persons
differences.py how a person differs, and what repairs it
repairs.py    the repair changes a node below sends the tier above (outbox, exactly once)
answerer.py   the tier above's side: DigestRanges and ListLeaves from a per-run snapshot
remote.py     the tier above as the node below asks it (sealed RPCs, bytes counted)
runner.py     the node below's side: one run, its report, its repairs, operator approval
runs.py       where a node keeps its runs, their differences and audit entries
"""
