"""Provider ports (SMS, email) and their adapters. Vendor SDK types stop here."""
