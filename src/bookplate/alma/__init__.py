"""The Alma wire format: the user record's JSON and XML shapes and their domain objects.

``tree`` maps XML elements to the dict that Alma's JSON form would hold (and back), ``xml`` and
``json`` turn untrusted bytes into those shapes safely, ``user`` converts the dicts to and from
``bookplate.users.model``, ``errors`` and ``codetables`` render the other bodies the API sends.
Both the REST API and the SIS loader use this package, so the format is declared only here.
"""
