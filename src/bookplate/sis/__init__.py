"""SIS integration: load and synchronise external users from Alma SIS XML files and CSV.

gather (``sources``) -> map (``mapping``) -> pure plan (``plan``) -> apply in batches
(``apply``), driven by ``services``. See docs/sis.md.
"""
