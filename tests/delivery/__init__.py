"""Delivery to caseworkers: the forward job, its faults and crashes."""
