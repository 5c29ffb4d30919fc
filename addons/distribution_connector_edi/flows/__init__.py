"""The EDI addon's flows: an inbound interchange applied document by
document through the suite's own flows (``interchange_import``), and the
EDI documents sent (``edi_document_export``)."""
