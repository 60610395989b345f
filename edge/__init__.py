"""The lot's edge computer, a product of its own: lanes, cameras, triggers, barrier I/O, the event
buffer that resends until decided, and (when the center cannot answer) offline decisions.

It installs lean (``parking[edge]``) and imports only ``lpr`` and the public wire format
``gateway.protocol`` of the project, so a gate box carries no web stack, database or torch.
"""
