"""Hospital network: DIMSE (pynetdicom) and DICOMweb (dicomweb-client) query, retrieve and send.

Qt-free and torch-free.  The entry points are in :mod:`.service`; nodes and
their storage in :mod:`.nodes`, tokens in :mod:`.secrets`, the local cache in
:mod:`.cache`.  Patient names and IDs, and tokens, are never logged.
"""
