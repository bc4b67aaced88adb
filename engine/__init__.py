"""The Earmark ledger: notes, transactions, validation, notary and stores."""
