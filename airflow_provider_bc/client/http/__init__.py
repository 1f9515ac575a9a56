"""One request on the wire: transports (requests, httpx), what is sent and how an answer is read,
the retry decisions and the principal's governor.

Owns where a retry is decided and where requests are paced. Imports :mod:`..odata` and the
client's shared modules; nothing here knows about tokens' origin or ``$batch``.
"""
