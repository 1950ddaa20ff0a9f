"""The trading domain: exact integer money, books, ledgers, orders and the reconciler.

Everything here is pure, synchronous and deterministic. Plugins reach it through `mmframe.api`.
"""
