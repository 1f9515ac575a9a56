"""``$batch`` reads: many GETs in one POST, their answers checked and the failed ones asked again.

Imports :mod:`..http` and :mod:`..odata`; the clients (:mod:`..client`, :mod:`..async_client`) send
what a batch read asks for.
"""
