"""The addresses domain: the council's gazetteer (BS7666 streets, properties and addresses)."""
