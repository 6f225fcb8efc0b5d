"""The caseworker's side: everything that runs on a caseworker's own computer.

It imports ``crypto`` and itself only (DESIGN.md §3): a caseworker's laptop holds no server code.
"""
