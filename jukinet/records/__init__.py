"""The identity records and their rules, without storage of changes or provision.

Identifiers and their check digits, kana normalisation, field validation,
the decision of what a change does to a person (`lifecycle` for resident
records, `fuhyo` for fuhyo records, both pure functions over a small view
of the stored state), the mapping between the wire records and stored rows,
and finding persons by a query's key (`search`).
"""
