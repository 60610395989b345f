"""Training and export of the plate recognizer (not part of the installed product)."""
