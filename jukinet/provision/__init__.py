"""Records provided to organs and agencies under the task catalogue, and the log of it.

The task catalogue (`catalogue` + tasks.toml), the provider that authorises,
finds, cuts to items and logs every query (`provider`, `fuhyo`), the
provision log (`log`), disclosure and statistics, bulk approvals, and the
narrow My Number link between a fuhyo server and its prefecture server
(`link`, with the fuhyo server's temporary store `my_number_store`).
"""
