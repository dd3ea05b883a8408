"""Authentication: own passwords, LDAP, SAML 2.0, CAS, OpenID Connect, discovery tokens."""
