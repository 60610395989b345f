"""The REST API (``/api/v1``): thin routes over billing's and einvoice's services."""
