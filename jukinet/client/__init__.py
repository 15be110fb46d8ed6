"""The client side: reaching a node of a network description and calling it as one of its clients.

What a register system, an organ, an agency or an operator sends, used by the
CLI, the local network's demo, the benchmark and the tests.
"""
