"""Simulated payment providers: a separate service, as a bank, an e-wallet or a QR payment
gateway is for the parking operator.

A driver is sent to a provider's checkout page (its fields signed by the merchant, as VNPay's
are), confirms, and the provider then reports the payment to the merchant's webhook, signed with
the secret it issued that merchant, retrying until it is acknowledged. For auto top-ups the
merchant asks a provider to pull from a linked account, and the payment is reported the same
way. Several providers (QR, wallet, bank transfer) are just several entries of
:class:`~simulator.payments.config.SimProvider`. The service talks to the system only over
HTTP; it implements the documented signature scheme itself (docs/contracts.md).
"""
