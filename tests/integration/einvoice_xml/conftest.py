from tests.einvoice_schema_guard import (  # autouse: every built invoice is XSD-checked
    every_built_invoice_is_valid as every_built_invoice_is_valid,
)
