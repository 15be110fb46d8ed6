"""The local development network `juki-net up` runs, and what it is made of.

Its plan and processes (`localnet`), its PKI folder (a ca.folder.CaFolder), a
throwaway PostgreSQL server (`localpg`), synthetic residents (`synthetic`)
and the demo. An adapter at the edge: nothing below imports it.
"""
