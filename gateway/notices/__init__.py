"""Driver notices: low balance, trip and top-up receipts, sign-up and reset codes.

Each notice is written once per event (``gw_notices.key``) into the gateway's notification
outbox, shown in the portal's inbox, and delivered on each channel the driver has (email over
SMTP, SMS and web push through stubs until a provider is chosen) by ``NoticeWorker``: retried
with backoff, never sent twice by us. See docs/contracts.md, "Driver notices".
"""
