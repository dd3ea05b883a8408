"""Roles and permissions: the role catalogue, privileges, the policy, profiles and rules."""
