"""The user record: model, rules and services. Imports no other area."""
