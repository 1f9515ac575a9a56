"""Tokens: MSAL's confidential clients and token cache, managed and workload identities, Basic keys.

Owns where a token is fetched, cached and dropped. Imports the client's shared modules and
:mod:`..http.transport` (Entra is reached through the same proxies and TLS settings).
"""
