"""Servicers more than one kind of node serves: node status for operators, and provision."""
