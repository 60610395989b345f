"""Payment providers as the gateway knows them: configured as data, their checkout redirects and
pull requests signed, their webhooks verified and recorded, the only way money enters billing.
"""
